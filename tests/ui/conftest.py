"""Shared set-up for the Qt tests: offscreen platform, and async tests that run ON the Qt (qasync) loop.

- Async tests (`async def test_...`) get a `qasync.QEventLoop` through pytest-asyncio's loop-factory hook, so
  `await` works inside the Qt event loop and widgets' `@asyncSlot`/tasks run. In them, await futures or poll
  with `asyncio.sleep`; never `qtbot.waitSignal`/`waitUntil` (they nest a second event loop).
- Sync pytest-qt tests that click something which starts an asyncio task use the `qasync_loop` fixture.

`store` (a real one in a temporary folder), `service` (a FakeService over it) and `window` (a shown MainWindow
on them, its personas loaded) serve the window's tests.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
import qasync
from PySide6.QtWidgets import QApplication

from app.store import Store
from app.ui.event_loop import new_event_loop
from app.ui.gc_guard import GuiGarbageCollector
from app.ui.main_window import MainWindow

from .window_fakes import FakeService, open_window, wait_until


def _qt_app() -> QApplication:
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication([])
    # Closing a test's last window must not quit the application: that would stop the running qasync loop.
    app.setQuitOnLastWindowClosed(False)
    return app


def _qasync_loop(already_running: bool = False) -> qasync.QEventLoop:
    # The app's own loop: qasync's, with a cross-thread wake-up that PySide6 6.12 survives (see the module).
    return new_event_loop(_qt_app(), already_running=already_running)


def pytest_asyncio_loop_factories(
    config: Any, item: Any
) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    return {"qasync": _qasync_loop}


@pytest.fixture(scope="session", autouse=True)
def _collect_garbage_on_the_gui_thread(qapp: QApplication) -> Iterator[GuiGarbageCollector]:
    """As the app does: no cyclic garbage collection in worker threads (it would destroy Qt objects there)."""
    collector = GuiGarbageCollector.install(qapp)
    yield collector
    collector.collect()


@pytest.fixture
def qasync_loop(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    """For sync tests: a qasync loop installed as the current loop while Qt's own loop runs the test."""
    loop = _qasync_loop(already_running=True)
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            qapp.processEvents()  # let the cancelled tasks finish
        # Not loop.stop(): qasync's stop() calls QApplication.exit(), which leaves Qt's main thread flagged to
        # quit, and then no timer fires in any later test of the session. Mark the loop stopped instead.
        loop._QEventLoop__is_running = False  # type: ignore[attr-defined]
        asyncio.events._set_running_loop(None)
        loop.close()
        asyncio.set_event_loop(None)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "scriptwright.db")
    yield opened
    opened.close()


@pytest.fixture
def service(store: Store) -> FakeService:
    return FakeService(store)


@pytest.fixture
async def window(qapp: QApplication, service: FakeService, tmp_path: Path) -> AsyncIterator[MainWindow]:
    # Not qtbot.addWidget: pytest-qt closes and deletes registered widgets BEFORE fixture teardown, outside
    # the running loop; the window is closed here instead, with its tasks awaited.
    async with open_window(service, tmp_path / "window.ini", data_dir=tmp_path) as win:
        await wait_until(
            lambda: win.persona_combo.count() > 0 and win.badge.text().startswith("Powered by Groq")
        )
        yield win

"""The GUI-thread collector and loading_long_lived (imports on a worker thread)."""

from __future__ import annotations

import gc
import sys
import threading
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication

from app.ui.gc_guard import GuiGarbageCollector, loading_long_lived


def passes_made(collector: GuiGarbageCollector, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    made: list[int] = []
    monkeypatch.setattr(gc, "collect", lambda generation=2: made.append(generation) or 0)
    monkeypatch.setattr(gc, "get_count", lambda: (10_000, 0, 0))  # far past the youngest threshold
    return made


def test_no_pass_while_something_long_lived_loads_on_a_worker(
    qapp: QApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    collector = GuiGarbageCollector.install(qapp)
    made = passes_made(collector, monkeypatch)
    inside, leave = threading.Event(), threading.Event()

    def load() -> None:
        with loading_long_lived():
            inside.set()
            leave.wait(10)

    worker = threading.Thread(target=load)
    worker.start()
    assert inside.wait(10)
    collector.check()
    assert made == []  # it would only scan what is being loaded, to keep it all
    leave.set()
    worker.join(10)
    collector.check()
    assert made == [0]  # and passes resume


def test_what_an_import_built_is_frozen_and_nothing_else_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen: list[bool] = []
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(True))
    with loading_long_lived():
        pass  # nothing imported (a warm-up with everything already loaded): garbage is not kept
    assert frozen == []
    (tmp_path / "freshly_loaded_module.py").write_text("VALUE = 1\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    with loading_long_lived():
        import freshly_loaded_module  # noqa: F401
    assert frozen == [True]
    sys.modules.pop("freshly_loaded_module", None)

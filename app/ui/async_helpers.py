"""The two bridges between Qt slots and asyncio (qasync) that every window needs, kept small.

- `start_task(coro)`: run a coroutine from a plain slot; the task is kept alive and its failure logged.
- `dialog_result(dialog)`: show a dialog with `open()` (never `exec()`, whose nested event loop breaks qasync)
  and await its `finished` result.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

from PySide6.QtWidgets import QDialog

log = logging.getLogger(__name__)

T = TypeVar("T")

_running: set[asyncio.Task[Any]] = set()  # strong references: the loop keeps only weak ones


def start_task(coro: Coroutine[Any, Any, T], *, name: str | None = None) -> asyncio.Task[T]:
    """Schedule `coro` on the qasync loop from synchronous Qt code and return its task."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = asyncio.get_event_loop()
    task = loop.create_task(coro, name=name)
    _running.add(task)
    task.add_done_callback(_forget)
    return task


def _forget(task: asyncio.Task[Any]) -> None:
    _running.discard(task)
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        log.error("Background task %s failed", task.get_name(), exc_info=error)


async def dialog_result(dialog: QDialog) -> int:
    """Open `dialog` window-modally and wait until it finishes; returns its result (Accepted/Rejected)."""
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def on_finished(result: int) -> None:
        if not future.done():
            future.set_result(int(result))

    dialog.finished.connect(on_finished)
    dialog.open()
    try:
        return await future
    finally:
        dialog.finished.disconnect(on_finished)

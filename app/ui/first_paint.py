"""Run something once a widget has painted for the first time.

For start-up: --smoke-test reports when the window painted, and work the first view does not show (the menus'
icons) waits until it is on screen.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QWidget


class FirstPaintWatcher(QObject):
    """Calls `callback` once, right after the first Paint event of the watched widget has been handled."""

    def __init__(self, widget: QWidget, callback: Callable[[], object]) -> None:
        super().__init__(widget)
        self._callback = callback
        self._done = False
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if not self._done and event.type() == QEvent.Type.Paint:
            self._done = True
            watched.removeEventFilter(self)  # the widget's later events no longer pass through Python
            QTimer.singleShot(0, self._callback)  # after this paint has finished
        return False

"""Run something once a widget has painted for the first time.

For start-up: --smoke-test reports when the window painted, and work the first view does not show (the menus'
icons, the keyboard shortcuts) waits until it is on screen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QWidget

if TYPE_CHECKING:
    from PySide6.QtGui import QAction


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


class DeferredShortcuts:
    """Keyboard shortcuts given to their actions by `apply()`, right after the first paint.

    Building QKeySequence's Python type takes ~1 ms (its StandardKey enum alone has ~70 members), and the
    first frame shows no shortcut: the menus that list them open only once the window is on screen, and no
    key reaches the window before it is.
    """

    def __init__(self) -> None:
        self._pending: list[tuple[QAction, tuple[str, ...]]] = []

    def add(self, action: QAction, *keys: str) -> None:
        """`keys` in QKeySequence's portable text ("Ctrl+Return", "Del")."""
        self._pending.append((action, keys))

    def new_action(self, parent: QObject, text: str, slot: Callable[[], object], *keys: str) -> QAction:
        """A QAction that calls `slot`, with its shortcuts to come."""
        from PySide6.QtGui import QAction

        action = QAction(parent)  # the text apart: QAction(text, parent) has an icon overload, whose
        action.setText(text)  # resolution builds QIcon's type (~2.5 ms)
        action.triggered.connect(lambda _checked=False: slot())
        self.add(action, *keys)
        return action

    def apply(self) -> None:
        from PySide6.QtGui import QKeySequence

        for action, keys in self._pending:
            # setShortcuts, not setShortcut: choosing among setShortcut's overloads (one takes a Qt.Key)
            # builds Qt's namespace (~25 ms).
            action.setShortcuts([QKeySequence(key) for key in keys])
        self._pending.clear()

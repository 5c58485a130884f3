"""FirstPaintWatcher: runs its callback once, after the first paint, and then stops watching."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication, QWidget

from app.ui.first_paint import FirstPaintWatcher

from .window_fakes import wait_until


class CountingWatcher(FirstPaintWatcher):
    def __init__(self, widget: QWidget, callback: object) -> None:
        self.events_seen = 0
        super().__init__(widget, callback)  # type: ignore[arg-type]

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        self.events_seen += 1
        return super().eventFilter(watched, event)


async def test_the_callback_runs_once_after_the_first_paint_and_the_filter_goes(qapp: QApplication) -> None:
    widget = QWidget()
    calls: list[bool] = []
    watcher = CountingWatcher(widget, lambda: calls.append(widget.isVisible()))
    assert calls == []  # nothing before the widget paints
    widget.resize(200, 100)
    widget.show()
    await wait_until(lambda: calls == [True])
    seen = watcher.events_seen
    for _ in range(3):
        widget.repaint()
        widget.resize(widget.width() + 10, 100)
        qapp.processEvents()
    assert calls == [True]  # once
    assert watcher.events_seen == seen  # the widget's later events no longer reach the watcher
    widget.close()
    widget.deleteLater()

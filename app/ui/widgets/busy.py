"""A small busy indicator with words beside it ("Loading models…"), never colour or motion alone."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QProgressBar, QWidget

from app.ui.widgets.labels import MutedLabel


class BusyIndicator(QWidget):
    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        self.bar = QProgressBar(self)
        self.bar.setRange(0, 0)  # indeterminate
        self.bar.setTextVisible(False)
        self.bar.setFixedSize(48, 6)
        self.bar.setAccessibleName(text)
        self.bar.setAccessibleDescription("Busy; this finishes on its own.")
        self.label = MutedLabel(text, self, word_wrap=False)
        layout.addWidget(self.bar)
        layout.addWidget(self.label)
        layout.addStretch(1)

    def set_text(self, text: str) -> None:
        self.label.setText(text)
        self.bar.setAccessibleName(text)

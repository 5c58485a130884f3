"""Labels that follow the palette: muted secondary text and section headings, readable in light and dark."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPalette, QResizeEvent
from PySide6.QtWidgets import QApplication, QLabel, QSizePolicy, QWidget

# How far secondary text moves from the text colour towards the background: enough to read as secondary,
# little enough to keep WCAG AA contrast on the stock light and dark palettes (about 5.7:1 and 6:1).
_MUTE = 0.4


def muted_color(palette: QPalette) -> QColor:
    """Secondary text colour: the text colour blended towards the window colour."""
    text = palette.color(QPalette.ColorRole.WindowText)
    window = palette.color(QPalette.ColorRole.Window)

    def mix(a: int, b: int) -> int:
        return round(a * (1 - _MUTE) + b * _MUTE)

    return QColor(
        mix(text.red(), window.red()), mix(text.green(), window.green()), mix(text.blue(), window.blue())
    )


class MutedLabel(QLabel):
    """Secondary text (hints, sources, timings). Recomputes its colour when the palette changes."""

    def __init__(self, text: str = "", parent: QWidget | None = None, *, word_wrap: bool = True) -> None:
        super().__init__(text, parent)
        self._applying = False
        self.setWordWrap(word_wrap)
        # A wrapped label may get more height than its lines need; keep the text at the top, by its neighbour.
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self._apply_palette()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ParentChange) and not self._applying:
            self._apply_palette()

    def _apply_palette(self) -> None:
        self._applying = True
        try:
            parent = self.parentWidget()
            source = parent.palette() if parent is not None else QApplication.palette()
            palette = self.palette()
            palette.setColor(QPalette.ColorRole.WindowText, muted_color(source))
            self.setPalette(palette)
        finally:
            self._applying = False


class SectionHeading(QLabel):
    """A group's title: bold, one step larger than body text."""

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        font = QFont(self.font())
        font.setBold(True)
        if font.pointSizeF() > 0:
            font.setPointSizeF(font.pointSizeF() + 1)
        self.setFont(font)
        self.setAccessibleName(text.replace("&", ""))


class ElidedLabel(QLabel):
    """One line ending in "…" when it does not fit; the full text stays in the tooltip and accessible name."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(24)
        self.setText(text)

    def full_text(self) -> str:
        return self._full

    def setText(self, text: str) -> None:
        if text == self._full and super().text():
            return
        self._full = text
        self.setToolTip(text)
        self.setAccessibleName(text)
        self._elide()

    def text(self) -> str:
        return self._full

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        return QSize(self.minimumWidth(), hint.height())

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        return QSize(self.fontMetrics().horizontalAdvance(self._full) + 4, hint.height())

    def _elide(self) -> None:
        width = max(0, self.contentsRect().width())
        shown = (
            self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, width)
            if width
            else self._full
        )
        if super().text() != shown:
            super().setText(shown)

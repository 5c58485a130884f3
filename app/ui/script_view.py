"""The script as it streams in, and the stats line under it.

A fast provider sends thousands of deltas a second. Inserting each into the document would relayout and
repaint thousands of times, so `ScriptView` buffers deltas and flushes them in one insert on a short timer
(about two frames), keeping the event loop free and the text on screen within a few tens of milliseconds.

A whole script (one opened from the history, or a finished one that differs from what streamed) goes into a
new document that then replaces the shown one: Qt lays out a newly set document a few paragraphs at a time
between events, whereas inserting 8,000 words into the shown document laid all of them out at once (~35 ms).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

# Qt, QTextCursor and QTextBlockFormat are reached through their modules: PySide builds a type and its enums
# on first use, and the view needs them once there is text, after the window's first paint.
from PySide6 import QtCore, QtGui
from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QLabel, QSizePolicy, QTextEdit, QWidget

from app.ui import theme
from app.ui.script_stats import (  # noqa: F401 - re-exported for the window and the tests
    WORDS_PER_MINUTE,
    ScriptStats,
    WordCounter,
    format_ms,
    spoken_duration,
)

if TYPE_CHECKING:
    from PySide6.QtGui import QResizeEvent, QTextBlockFormat

FLUSH_INTERVAL_MS = 30
# A flush that took long (a very long paragraph relayouts whole) stretches the next wait to a multiple of it,
# so drawing never takes more than about a third of the GUI thread, however fast the text comes.
FLUSH_BACKOFF = 3.0
MAX_FLUSH_INTERVAL_MS = 120
DOCUMENT_MARGIN = 20
_AT_BOTTOM_SLACK_PX = 24


class ScriptView(QTextEdit):
    """Read-only script text (objectName "scriptView") that streams in batches.

    `append_delta` only buffers; a single-shot timer flushes the buffer at most every FLUSH_INTERVAL_MS.
    `flushed(word_count)` is emitted after each flush. `flush_count` and `latency_probe` serve tests and the
    benchmark: the probe, when set, receives each delta's arrival-to-flush delay in milliseconds.
    """

    flushed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("scriptView")
        self.setReadOnly(True)
        self.setAcceptRichText(False)
        self.setUndoRedoEnabled(False)
        self.setLineWrapMode(QTextEdit.LineWrapMode.WidgetWidth)
        self.setPlaceholderText("Your script appears here as it is written.")  # one line: it does not wrap
        self.setAccessibleName("Script")
        self.setAccessibleDescription("The generated script. Read-only; copy or export it from the menus.")
        self._block_format: QTextBlockFormat | None = None  # see _paragraph_format
        self._pending: list[str] = []
        self._arrivals: list[float] = []
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(FLUSH_INTERVAL_MS)
        self._timer.timeout.connect(self.flush)
        self.words = WordCounter()
        self.flush_count = 0
        self.delta_count = 0
        self.latency_probe: Callable[[float], None] | None = None
        self._document: QTextDocument | None = None  # the one set_script made (not Qt's first)
        # Qt's own first document shows the placeholder until the first script is set.
        self.document().setDocumentMargin(DOCUMENT_MARGIN)

    # --- streaming ---------------------------------------------------------------------------------------

    def begin_stream(self) -> None:
        self.set_script("")

    def append_delta(self, text: str) -> None:
        if not text:
            return
        self._pending.append(text)
        self.delta_count += 1
        if self.latency_probe is not None:
            self._arrivals.append(time.perf_counter())
        if not self._timer.isActive():
            self._timer.start()

    @property
    def has_pending(self) -> bool:
        return bool(self._pending)

    def flush(self) -> None:
        self._timer.stop()
        if not self._pending:
            return
        chunk = "".join(self._pending)
        self._pending.clear()
        if (
            self._document is None
        ):  # the first text: Qt's own document (the placeholder's) has no line spacing
            self._show_new_document("")
        bar = self.verticalScrollBar()
        follow = bar.value() >= bar.maximum() - _AT_BOTTOM_SLACK_PX
        cursor = QtGui.QTextCursor(self.document())
        cursor.movePosition(
            QtGui.QTextCursor.MoveOperation.End
        )  # new paragraphs take the block format from here
        started = time.perf_counter()
        cursor.insertText(chunk)
        if follow:
            bar.setValue(bar.maximum())
        spent_ms = (time.perf_counter() - started) * 1000.0
        self._timer.setInterval(
            int(min(MAX_FLUSH_INTERVAL_MS, max(FLUSH_INTERVAL_MS, spent_ms * FLUSH_BACKOFF)))
        )
        self.words.feed(chunk)
        self.flush_count += 1
        if self.latency_probe is not None and self._arrivals:
            now = time.perf_counter()
            for arrived in self._arrivals:
                self.latency_probe((now - arrived) * 1000.0)
            self._arrivals.clear()
        self.flushed.emit(self.words.count)

    # --- whole scripts ----------------------------------------------------------------------------------

    def set_script(self, text: str) -> None:
        """Show a finished (or partial) script, replacing whatever was there."""
        self._timer.stop()
        self._timer.setInterval(FLUSH_INTERVAL_MS)
        self._pending.clear()
        self._arrivals.clear()
        self._show_new_document(text)
        self.moveCursor(QtGui.QTextCursor.MoveOperation.Start)
        self.words.reset(text)

    def _show_new_document(self, text: str) -> None:
        document = QTextDocument(self)
        document.setDocumentMargin(DOCUMENT_MARGIN)
        document.setUndoRedoEnabled(False)
        document.setDefaultFont(self.font())
        cursor = QtGui.QTextCursor(document)
        cursor.setBlockFormat(self._paragraph_format())
        if text:
            cursor.insertText(text)  # no layout yet: the document is not shown
        previous, self._document = self._document, document
        self.setDocument(document)
        if previous is not None:  # the first document was Qt's own, which Qt deletes itself
            previous.deleteLater()

    def _paragraph_format(self) -> QTextBlockFormat:
        """Roomy lines. Built with the first script, not the view: PySide builds QTextFormat's type and
        enums on first use, ~3 ms before the first paint."""
        if self._block_format is None:
            self._block_format = QtGui.QTextBlockFormat()
            self._block_format.setLineHeight(
                float(theme.SCRIPT_LINE_HEIGHT_PERCENT),
                QtGui.QTextBlockFormat.LineHeightTypes.ProportionalHeight.value,
            )
        return self._block_format

    def script_text(self) -> str:
        """The complete text, including deltas not yet flushed."""
        self.flush()
        return self.toPlainText()


class StatsLine(QLabel):
    """Word count, spoken duration, tokens, latency and time to first token (objectName "statsLabel").

    It never widens the window: a long line is elided to the space there is, the full text in its tooltip.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("statsLabel")
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(0)
        self.setAccessibleName("Script statistics")
        self.stats = ScriptStats(words=0)
        self._full = ""

    def show_stats(self, stats: ScriptStats) -> None:
        self.stats = stats
        self._full = stats.text()
        self.setToolTip(self._full)
        self.setAccessibleDescription(self._full)
        self._elide()

    def full_text(self) -> str:
        return self._full

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        width = self.contentsRect().width()
        text = (
            self._full
            if width <= 0 or not self._full
            else self.fontMetrics().elidedText(self._full, QtCore.Qt.TextElideMode.ElideRight, width)
        )
        if text != super().text():
            self.setText(text)

"""Showing whole scripts: a new document replaces the shown one, and finishing keeps what already streamed."""

from __future__ import annotations

from PySide6.QtGui import QTextDocument

from app.ui import theme
from app.ui.main_window import MainWindow
from app.ui.script_view import DOCUMENT_MARGIN, ScriptView

from .window_fakes import FakeService, wait_until

LONG_SCRIPT = "\n\n".join(" ".join(f"word{p}-{w}" for w in range(60)) for p in range(130))  # 7,800 words


async def test_a_whole_script_arrives_in_a_new_document_that_looks_like_the_streamed_one(qtbot) -> None:
    view = ScriptView()
    qtbot.addWidget(view)
    view.resize(600, 400)
    view.show()
    view.append_delta("streamed words\n\nmore")
    view.flush()
    streamed_height = view.document().firstBlock().blockFormat().lineHeight()
    assert streamed_height == theme.SCRIPT_LINE_HEIGHT_PERCENT  # the first text too, with no begin_stream()

    view.set_script(LONG_SCRIPT)
    document = view.document()
    assert view.toPlainText() == LONG_SCRIPT
    assert view.words.count == 7_800
    assert view.textCursor().position() == 0  # read from the top
    assert document.documentMargin() == DOCUMENT_MARGIN
    assert not document.isUndoRedoEnabled()
    assert document.defaultFont() == view.font()
    heights = set()
    block = document.firstBlock()
    while block.isValid():
        heights.add(block.blockFormat().lineHeight())
        block = block.next()
    assert heights == {streamed_height}  # every paragraph keeps the script's line spacing
    # The documents replaced are deleted, not piled up under the view.
    await wait_until(lambda: len(view.findChildren(QTextDocument)) == 1)

    view.begin_stream()
    view.append_delta("next")
    assert view.script_text() == "next"
    assert view.document().firstBlock().blockFormat().lineHeight() == streamed_height


async def test_finishing_keeps_the_streamed_document_when_it_already_shows_the_result(
    window: MainWindow,
) -> None:
    window.topic_edit.setText("Tides")
    window.generate()
    await wait_until(lambda: window.script_view.flush_count > 0)
    window.script_view.document().setObjectName("streamed")
    await wait_until(lambda: not window.is_generating)
    assert window.script_view.toPlainText() == "Hello creators, this is a script."
    assert window.script_view.document().objectName() == "streamed"  # not re-set: nothing to lay out again


async def test_finishing_shows_the_result_when_it_differs_from_what_streamed(
    window: MainWindow, service: FakeService
) -> None:
    shown = window.script_view.append_delta
    window.script_view.append_delta = lambda text: shown(text.upper())  # type: ignore[method-assign]
    window.topic_edit.setText("Tides")
    window.generate()
    await wait_until(lambda: not window.is_generating)
    assert window.script_view.toPlainText() == "".join(service.deltas)


def test_the_script_reads_at_its_own_size_in_a_themed_window(qtbot, qapp, monkeypatch) -> None:
    # The size comes from the stylesheet (a QFont made in Python before the first paint costs ~2 ms).
    monkeypatch.setenv(theme.THEME_ENV, "light")
    theme.apply_theme(qapp)
    view = ScriptView()
    qtbot.addWidget(view)
    view.show()
    assert view.font().pointSizeF() == theme.SCRIPT_FONT_POINT_SIZE
    assert view.font().pointSizeF() > qapp.font().pointSizeF()  # larger than the interface's text
    view.set_script("A whole script.")
    assert view.document().defaultFont().pointSizeF() == theme.SCRIPT_FONT_POINT_SIZE

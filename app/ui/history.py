"""The history sidebar: every script, newest first, searchable; open, copy, export or delete (with undo).

The list holds a page of scripts at a time: the newest HISTORY_PAGE, then a "Load more" row at its end that
appends the scripts older than the last one shown (search results page the same way), so a long history opens
at once and stays reachable to its first script; a line under the list says how many are shown of how many.
Store calls run on a worker thread (the store serialises them behind its own lock), so a large history or a
slow disk never freezes the window. Failed and cancelled scripts keep their partial text and say so in words,
not by colour alone.
"""

from __future__ import annotations

import builtins
import contextlib
import logging
import re
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Qt, QStyle, QPainter, QFont, QMenu and the list's classes are reached through their modules, so that each is
# built (PySide builds a type and its enums on first use) when a row is drawn, a menu opened or the list first
# used, not before the window's first paint: see HistoryPanel._finish_ui and HistoryPanel.list.
from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QRectF, QSize, QTimer, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QLabel, QLineEdit, QStyledItemDelegate, QVBoxLayout, QWidget

from app.ui import theme
from app.ui.first_paint import DeferredShortcuts, FirstPaintWatcher
from app.ui.script_stats import WordCounter, spoken_duration
from app.ui.status_texts import status_note
from app.ui.tasks import run_blocking, start_task

if TYPE_CHECKING:
    import asyncio
    from datetime import datetime

    from PySide6.QtGui import QFont, QPainter, QStandardItem, QStandardItemModel
    from PySide6.QtWidgets import QFileDialog, QListView, QStyleOptionViewItem

    from app.store import ScriptRecord, Store

log = logging.getLogger(__name__)

SEARCH_DEBOUNCE_MS = 250
HISTORY_PAGE = 200
USER_ROLE = 0x0100  # Qt.ItemDataRole.UserRole, as a number: naming it would build Qt's namespace at import
RECORD_ROLE = USER_ROLE + 1
RUNNING_ROLE = USER_ROLE + 2  # the script being written right now
LOAD_MORE_ROLE = USER_ROLE + 3  # the row at the end that loads the next page
LOAD_MORE_TEXT = "Load more"
LOAD_MORE_HINT = f"Older scripts, {HISTORY_PAGE} at a time"

STATUS_LABELS = {
    "cancelled": "Cancelled · partial",
    "failed": "Failed",
    # A row left "generating" by a crash; the one being written now says WRITING_LABEL instead.
    "generating": "Interrupted · partial",
}
WRITING_LABEL = "Writing…"


# --- formats ------------------------------------------------------------------------------------------------


def provider_label(name: str) -> str:
    from app.core.catalogue import CATALOGUE

    entry = CATALOGUE.get(name)
    return entry.label if entry else name


def local_time(iso_utc: str) -> datetime:
    from app.store.records import parse_timestamp

    return parse_timestamp(iso_utc).astimezone()


def when_text(iso_utc: str, now: datetime | None = None) -> str:
    """'09:15' today, 'Yesterday 09:15', '12 Mar' this year, '12 Mar 2024' before."""
    try:
        moment = local_time(iso_utc)
    except ValueError:
        return iso_utc
    if now is None:
        from datetime import datetime  # not at import: the window imports this module before its first paint

        now = datetime.now().astimezone()
    days = (now.date() - moment.date()).days
    if days == 0:
        return moment.strftime("%H:%M")
    if days == 1:
        return f"Yesterday {moment.strftime('%H:%M')}"
    if moment.year == now.year:
        return f"{moment.day} {moment.strftime('%b')}"
    return f"{moment.day} {moment.strftime('%b %Y')}"


def word_count(text: str) -> int:
    counter = WordCounter()
    counter.feed(text)
    return counter.count


def script_to_markdown(record: ScriptRecord) -> str:
    words = word_count(record.text)
    meta = [f"{provider_label(record.provider)} · {record.model}"]
    if record.persona_name:
        meta.append(f"persona: {record.persona_name}")
    meta.append(f"{words:,} words ({spoken_duration(words)} spoken)")
    with contextlib.suppress(ValueError):
        meta.append(local_time(record.created_at).strftime("%Y-%m-%d %H:%M"))
    lines = [f"# {record.topic.strip() or 'Untitled script'}", "", f"*{' · '.join(meta)}*", ""]
    note = status_note(record)
    if note:
        lines += [f"> **{note}**", ""]
    lines.append(record.text.rstrip())
    return "\n".join(lines).rstrip() + "\n"


def script_to_text(record: ScriptRecord) -> str:
    """Plain text: the script alone, ready for a teleprompter."""
    return record.text.rstrip() + "\n"


def export_text(record: ScriptRecord, path: Path) -> str:
    return script_to_text(record) if path.suffix.lower() == ".txt" else script_to_markdown(record)


def suggested_filename(record: ScriptRecord, suffix: str = ".md") -> str:
    slug = re.sub(r"[^\w\- ]+", "", record.topic.strip().lower())
    slug = re.sub(r"[\s_]+", "-", slug).strip("-")[:60] or f"script-{record.id}"
    return f"{slug}{suffix}"


def write_export(record: ScriptRecord, path: Path) -> Path:
    path.write_text(export_text(record, path), encoding="utf-8")
    return path


def count_text(shown: int, total: int, *, search: bool) -> str:
    """'200 of 1,234 scripts' while older ones remain to load, else '1,234 scripts'; a search's 'matches'."""
    singular, plural = ("match", "matches") if search else ("script", "scripts")
    noun = singular if total == 1 else plural
    return f"{shown:,} of {total:,} {noun}" if shown < total else f"{total:,} {noun}"


def load_page(
    store: Store, limit: int, search: str | None, before: tuple[str, int] | None = None
) -> tuple[list[ScriptRecord], int]:
    """A page of scripts (newest first, older than `before`) and how many `search` finds in all. Blocking."""
    return store.list_scripts(limit, search=search, before=before), store.count_scripts(search)


# --- the list
# ------------------------------------------------------------------------------------------------


class HistoryDelegate(QStyledItemDelegate):
    """Three lines per script: the topic, the first words, and who wrote it when (status in words).

    The "Load more" row at the end is drawn as an outlined button, filled while hovered or current.
    """

    PADDING_X = 12
    PADDING_Y = 8
    LINE_GAP = 2

    def _fonts(self, option: QStyleOptionViewItem) -> tuple[QFont, QFont, QFont]:
        title = QtGui.QFont(option.font)
        title.setWeight(QtGui.QFont.Weight.DemiBold)
        body = QtGui.QFont(option.font)
        meta = QtGui.QFont(option.font)
        if meta.pointSizeF() > 0:
            meta.setPointSizeF(max(meta.pointSizeF() - 1, 7.0))
        return title, body, meta

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        title, body, meta = self._fonts(option)
        height = (
            QtGui.QFontMetrics(title).height()
            + QtGui.QFontMetrics(body).height()
            + QtGui.QFontMetrics(meta).height()
            + 2 * self.LINE_GAP
            + 2 * self.PADDING_Y
        )
        return QSize(200, height + 4)

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        if index.data(LOAD_MORE_ROLE):
            self._paint_load_more(painter, option)
            return
        record = index.data(RECORD_ROLE)
        if record is None:
            super().paint(painter, option, index)
            return
        colors = theme.current_colors()
        painter.save()
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        rect = option.rect.adjusted(6, 2, -6, -2)
        state = option.state
        selected = bool(state & QtWidgets.QStyle.StateFlag.State_Selected)
        hovered = bool(state & QtWidgets.QStyle.StateFlag.State_MouseOver)
        if selected or hovered:
            path = QtGui.QPainterPath()
            path.addRoundedRect(rect, 8, 8)
            painter.fillPath(path, QColor(colors.accent_soft if selected else colors.alt_base))
            if selected:
                painter.setPen(QColor(colors.accent))
                painter.drawLine(rect.left() + 1, rect.top() + 8, rect.left() + 1, rect.bottom() - 8)
        title_font, body_font, meta_font = self._fonts(option)
        x = rect.left() + self.PADDING_X
        width = rect.width() - 2 * self.PADDING_X
        y = rect.top() + self.PADDING_Y

        def line(text: str, font: QFont, color: str) -> None:
            nonlocal y
            metrics = QtGui.QFontMetrics(font)
            painter.setFont(font)
            painter.setPen(QColor(color))
            elided = metrics.elidedText(text, QtCore.Qt.TextElideMode.ElideRight, width)
            painter.drawText(
                QRect(x, y, width, metrics.height()),
                int(QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignVCenter),
                elided,
            )
            y += metrics.height() + self.LINE_GAP

        line(record.topic.strip() or "Untitled script", title_font, colors.text)
        if record.status == "generating" and index.data(RUNNING_ROLE):
            snippet = " ".join(record.text.split()[:40]) or "Being written now…"
        else:
            snippet = " ".join(record.text.split()[:40]) or status_note(record) or ""
        line(snippet, body_font, colors.muted)
        meta = [when_text(record.created_at), provider_label(record.provider)]
        words = word_count(record.text)
        if words:
            meta.append(f"{words:,} words")
        status = STATUS_LABELS.get(record.status)
        if record.status == "generating" and index.data(RUNNING_ROLE):
            status = WRITING_LABEL
        meta_text = "  ·  ".join(meta)
        if status:
            # The status is spelled out first (words, not colour alone), then drawn in the warning colour.
            metrics = QtGui.QFontMetrics(meta_font)
            painter.setFont(meta_font)
            marker = f"{'⚠' if record.status == 'failed' else '■'} {status}"
            failed = record.status == "failed"
            if colors.dark:
                painter.setPen(QColor("#F08A80" if failed else "#E8B25C"))
            else:
                painter.setPen(QColor("#B3261E" if failed else "#9A5B00"))
            align = int(QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignVCenter)
            painter.drawText(QRect(x, y, width, metrics.height()), align, marker)
            used = metrics.horizontalAdvance(marker)
            rest = metrics.elidedText(
                "  ·  " + meta_text, QtCore.Qt.TextElideMode.ElideRight, max(width - used, 0)
            )
            painter.setPen(QColor(colors.muted))
            painter.drawText(QRect(x + used, y, max(width - used, 0), metrics.height()), align, rest)
        else:
            line(meta_text, meta_font, colors.muted)
        painter.restore()

    def _paint_load_more(self, painter: QPainter, option: QStyleOptionViewItem) -> None:
        colors = theme.current_colors()
        state = option.state
        active = bool(
            state & (QtWidgets.QStyle.StateFlag.State_MouseOver | QtWidgets.QStyle.StateFlag.State_Selected)
        )
        focused = bool(state & QtWidgets.QStyle.StateFlag.State_HasFocus)
        painter.save()
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        rect = option.rect.adjusted(10, 8, -10, -8)
        path = QtGui.QPainterPath()
        path.addRoundedRect(QRectF(rect).adjusted(0.5, 0.5, -0.5, -0.5), 8, 8)
        painter.fillPath(path, QColor(colors.accent_soft if active or focused else colors.base))
        painter.setPen(QColor(colors.accent if focused else colors.border))
        painter.drawPath(path)
        title_font, _body_font, meta_font = self._fonts(option)
        title_height = QtGui.QFontMetrics(title_font).height()
        meta_height = QtGui.QFontMetrics(meta_font).height()
        top = rect.top() + (rect.height() - title_height - self.LINE_GAP - meta_height) // 2
        centred = int(QtCore.Qt.AlignmentFlag.AlignHCenter | QtCore.Qt.AlignmentFlag.AlignVCenter)
        painter.setFont(title_font)
        painter.setPen(QColor(colors.accent))
        painter.drawText(QRect(rect.left(), top, rect.width(), title_height), centred, LOAD_MORE_TEXT)
        painter.setFont(meta_font)
        painter.setPen(QColor(colors.muted))
        hint = QtGui.QFontMetrics(meta_font).elidedText(
            LOAD_MORE_HINT, QtCore.Qt.TextElideMode.ElideRight, rect.width() - 16
        )
        painter.drawText(
            QRect(rect.left(), top + title_height + self.LINE_GAP, rect.width(), meta_height), centred, hint
        )
        painter.restore()


def accessible_text(record: ScriptRecord) -> str:
    status = STATUS_LABELS.get(record.status, "Complete")
    return f"{record.topic}. {status}. {provider_label(record.provider)}, {when_text(record.created_at)}."


def record_item(record: ScriptRecord, *, running: bool) -> QStandardItem:
    item = QtGui.QStandardItem(record.topic)
    item.setData(record, RECORD_ROLE)
    item.setData(running, RUNNING_ROLE)
    item.setData(accessible_text(record), QtCore.Qt.ItemDataRole.AccessibleTextRole)
    snippet = " ".join(record.text.split()[:60])
    note = status_note(record)
    item.setToolTip("\n\n".join(x for x in (note, snippet) if x))
    item.setEditable(False)
    return item


def load_more_item() -> QStandardItem:
    item = QtGui.QStandardItem(LOAD_MORE_TEXT)
    item.setData(True, LOAD_MORE_ROLE)
    item.setData("Load more scripts", QtCore.Qt.ItemDataRole.AccessibleTextRole)
    item.setData(
        f"Adds the next {HISTORY_PAGE} older scripts to the list. Press Enter or click.",
        QtCore.Qt.ItemDataRole.AccessibleDescriptionRole,
    )
    item.setToolTip(f"Show the next {HISTORY_PAGE} older scripts (Enter)")
    item.setEditable(False)
    return item


class HistoryPanel(QWidget):
    """Search field ("historySearch") over the list of scripts ("historyList"), a page at a time.

    While older scripts remain, the list ends in a "Load more" row: click it, or reach it with the arrow keys
    (End) and press Enter, and the next page is appended. A refresh keeps as many rows as were loaded.

    Signals: `open_requested(record)` when the user opens a script; `deleted(record)` after a delete (the
    window offers Undo, which calls `restore`); `copied(record)`; `exported(path)`; `failed(message)`.
    """

    open_requested = Signal(object)
    deleted = Signal(object)
    restored = Signal(object)
    copied = Signal(object)
    exported = Signal(object)
    failed = Signal(str)
    refreshed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("historyPanel")
        self._store: Store | None = None
        self._generation = 0
        self._suppress_open = False
        self._select_after_refresh: int | None = None
        self._select_running = False
        self._shown_search: str | None = None  # the search the list shows (None: every script)
        self._has_more = False
        self._total = 0  # the scripts the shown search finds, loaded or not
        self._loading_more: asyncio.Task[None] | None = None
        self.tasks: set[asyncio.Task[Any]] = set()
        self.running = False  # the window is writing a script: the newest "generating" row is that one
        self.export_dialog: QFileDialog | None = None

        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 4, 10, 10)
        layout.setSpacing(8)

        self.search = QLineEdit(self)
        self.search.setObjectName("historySearch")
        self.search.setPlaceholderText("Search topics and scripts")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Search history")
        self.search.setAccessibleDescription("Filters the scripts by topic and text as you type.")
        layout.addWidget(self.search)

        self._layout = layout
        self._list: QListView | None = None  # see `list`
        self._model: QStandardItemModel | None = None

        self.count_label = QLabel(self)
        self.count_label.setObjectName("historyCount")
        self.count_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)  # the theme's muted colour
        self.count_label.hide()  # until there is a page to count; its smaller font is set by _finish_ui
        layout.addWidget(self.count_label)

        self.empty_label = QLabel(self)
        self.empty_label.setObjectName("historyEmpty")
        self.empty_label.setWordWrap(True)
        layout.addWidget(self.empty_label)
        layout.addStretch(0)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(SEARCH_DEBOUNCE_MS)
        self._debounce.timeout.connect(self.schedule_refresh)
        self.search.textChanged.connect(lambda _text: self._debounce.start())
        self.search.returnPressed.connect(self.schedule_refresh)

        self._shortcuts = DeferredShortcuts()  # given by _finish_ui
        self.open_action = self._shortcuts.new_action(self, "Open", self._open_current, "Return")
        self.copy_action = self._shortcuts.new_action(self, "Copy script", self._copy_current)
        self.export_action = self._shortcuts.new_action(self, "Export…", self._export_current)
        self.delete_action = self._shortcuts.new_action(self, "Delete", self._delete_current, "Del")
        FirstPaintWatcher(self, self._finish_ui)
        self._update_empty_state()

    @property
    def list(self) -> QListView:
        """The list of scripts ("historyList"), built on first use: by `_finish_ui` right after the panel's
        first paint, or sooner when a store arrives. Until then it would be empty and hidden, so the window
        paints without QListView's, QAbstractItemView's and the model's Python types (~4.5 ms)."""
        if self._list is None:
            self._list, self._model = self._build_list()
        return self._list

    @property
    def model(self) -> QStandardItemModel:
        if self._model is None:
            self._list, self._model = self._build_list()
        return self._model

    def _build_list(self) -> tuple[QListView, QStandardItemModel]:
        view_class = QtWidgets.QAbstractItemView
        model = QtGui.QStandardItemModel(self)
        view = QtWidgets.QListView(self)
        view.setObjectName("historyList")
        view.setModel(model)
        view.setItemDelegate(HistoryDelegate(view))
        view.setSelectionMode(view_class.SelectionMode.SingleSelection)
        view.setEditTriggers(view_class.EditTrigger.NoEditTriggers)
        view.setVerticalScrollMode(view_class.ScrollMode.ScrollPerPixel)
        view.setMouseTracking(True)
        view.setUniformItemSizes(True)
        view.setAccessibleName("Script history")
        view.setAccessibleDescription(
            "Your scripts, newest first. Enter opens one; Delete removes it; the context menu copies or "
            "exports. While older scripts remain, the last row loads more."
        )
        view.setVisible(False)  # _update_empty_state shows it once it has rows
        self._layout.insertWidget(1, view, 1)  # under the search field
        QWidget.setTabOrder(self.search, view)
        view.selectionModel().currentChanged.connect(lambda current, _previous: self._on_activated(current))
        view.customContextMenuRequested.connect(self._show_context_menu)
        view.clicked.connect(self._on_clicked)
        return view, model

    def _finish_ui(self) -> None:
        """After the first paint: what only shows once the list is in use, the menu's icons and what needs
        Qt's namespace (~25 ms to build, see MainWindow._build_ui). The list's keys and context menu work from
        here on; a panel never painted cannot be used."""
        self._set_menu_icons()
        self._shortcuts.apply()
        count_font = self.count_label.font()  # QFont's type, built here rather than before the paint
        if count_font.pointSizeF() > 0:
            count_font.setPointSizeF(max(count_font.pointSizeF() - 1, 7.0))
        self.count_label.setFont(count_font)
        qt = QtCore.Qt
        self.list.setHorizontalScrollBarPolicy(qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setContextMenuPolicy(qt.ContextMenuPolicy.CustomContextMenu)
        self.count_label.setAlignment(qt.AlignmentFlag.AlignHCenter)
        self.empty_label.setAlignment(qt.AlignmentFlag.AlignHCenter | qt.AlignmentFlag.AlignTop)
        for action in (self.open_action, self.delete_action):  # Enter and Delete act on the list only
            action.setShortcutContext(qt.ShortcutContext.WidgetShortcut)
            self.list.addAction(action)
        self._update_empty_state()
        QTimer.singleShot(
            0, self._prepare_row_drawing
        )  # its own turn: a key pressed meanwhile is not held up

    def _prepare_row_drawing(self) -> None:
        """Build what drawing the first row needs now, while the window has just appeared, rather than when
        the first script is being written into an empty history: the Python types of QStyle, QPainter and
        the style option, with their enums (~10 ms), and `datetime` for the row's date (~4 ms)."""
        QtWidgets.QStyle, QtWidgets.QStyleOptionViewItem, QtGui.QPainter, QtGui.QPainterPath  # noqa: B018
        import datetime  # noqa: F401

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = start_task(coro, name=name)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def shutdown(self) -> None:
        """The window closes: stop loading and writing (the tasks end at their next await)."""
        self._debounce.stop()
        self._store = None
        for task in list(self.tasks):
            task.cancel()

    def refresh_theme(self) -> None:
        self._set_menu_icons()  # the search field's icon is the stylesheet's

    def _set_menu_icons(self) -> None:
        for action, name in (
            (self.copy_action, "copy"),
            (self.export_action, "export"),
            (self.delete_action, "delete"),
        ):
            action.setIcon(theme.icon(name))

    # --- data ------------------------------------------------------------------------------------------

    def set_store(self, store: Store | None) -> None:
        self._store = store
        self.schedule_refresh()

    @property
    def store(self) -> Store | None:
        return self._store

    def search_text(self) -> str:
        return self.search.text().strip()

    def schedule_refresh(
        self, select_id: int | None = None, *, select_running: bool = False
    ) -> asyncio.Task[None] | None:
        if select_id is not None:
            self._select_after_refresh = select_id
        self._select_running = self._select_running or select_running
        if self._store is None:
            return None
        return self._spawn(self.refresh(), "history-refresh")

    async def refresh(self) -> None:
        """Reload the list for the current search; a newer refresh wins over a slower older one."""
        store = self._store
        if store is None:
            return
        self._debounce.stop()
        self._generation += 1
        generation = self._generation
        search = self.search_text() or None
        # As many rows as the user has loaded, so a new or deleted script does not take their pages away.
        shown = self.record_count() if search == self._shown_search else 0
        limit = max(HISTORY_PAGE, shown)
        try:
            # One more than shown: is there more?
            records, total = await run_blocking(load_page, store, limit + 1, search)
        except Exception as error:
            log.exception("Could not load the history")
            self.failed.emit(f"Could not load the history: {error}")
            return
        if generation != self._generation:
            return
        self._shown_search = search
        self._total = total
        self._populate(records[:limit], has_more=len(records) > limit)

    @property
    def has_more(self) -> bool:
        return self._has_more

    def load_more(self) -> asyncio.Task[None] | None:
        """Append the next older page (one load at a time); None when there is nothing more to load."""
        if self._store is None or not self._has_more:
            return None
        if self._loading_more is None or self._loading_more.done():
            self._loading_more = self._spawn(self._load_next_page(), "history-load-more")
        return self._loading_more

    async def _load_next_page(self) -> None:
        store = self._store
        if store is None:
            return
        generation = self._generation
        # Strictly older than the last script shown ("Load more" follows a full page): a script written or
        # deleted meanwhile moves nothing.
        last: ScriptRecord = self.model.item(self.record_count() - 1).data(RECORD_ROLE)
        try:
            records, total = await run_blocking(
                load_page, store, HISTORY_PAGE + 1, self._shown_search, (last.created_at, last.id)
            )
        except Exception as error:
            log.exception("Could not load more of the history")
            self.failed.emit(f"Could not load more scripts: {error}")
            return
        if generation != self._generation:  # a refresh replaced the list meanwhile
            return
        self._total = total
        self._append(records[:HISTORY_PAGE], has_more=len(records) > HISTORY_PAGE)

    def _populate(self, records: Sequence[ScriptRecord], *, has_more: bool) -> None:
        running_id = next((r.id for r in records if r.status == "generating"), None) if self.running else None
        keep = self._select_after_refresh
        self._select_after_refresh = None
        if self._select_running and running_id is not None:
            keep = running_id
        self._select_running = False
        if keep is None:
            current = self.current_record()
            keep = current.id if current else None
        self._suppress_open = True
        try:
            self.model.clear()
            for record in records:
                item = record_item(record, running=record.id == running_id)
                self.model.appendRow(item)
                if record.id == keep:
                    self.list.setCurrentIndex(item.index())
            self._set_has_more(has_more)
        finally:
            self._suppress_open = False
        self._update_empty_state()
        self._update_count()
        self.refreshed.emit(len(records))

    def _append(self, records: Sequence[ScriptRecord], *, has_more: bool) -> None:
        """Add an older page after the rows shown; a current "Load more" row hands on to the first new one."""
        was_current = bool(self.list.currentIndex().data(LOAD_MORE_ROLE))
        self._suppress_open = True
        try:
            self._set_has_more(False)
            first_new: QStandardItem | None = None
            for record in records:
                item = record_item(record, running=False)
                self.model.appendRow(item)
                first_new = first_new or item
            self._set_has_more(has_more)
            if was_current and first_new is not None:
                self.list.setCurrentIndex(first_new.index())
        finally:
            self._suppress_open = False
        self._update_count()
        self.refreshed.emit(self.record_count())

    def _set_has_more(self, has_more: bool) -> None:
        """Show or remove the "Load more" row at the end of the list."""
        last = self.model.rowCount() - 1
        if last >= 0 and self.model.item(last).data(LOAD_MORE_ROLE):
            self.model.removeRow(last)
        self._has_more = has_more
        if has_more:
            self.model.appendRow(load_more_item())

    def _update_empty_state(self) -> None:
        empty = self._model is None or self._model.rowCount() == 0
        search = self.search_text()
        if search:
            self.empty_label.setText(f"No scripts match “{search}”.")
        elif self._store is None:
            self.empty_label.setText("")  # not read yet: "No scripts yet" may not be true
        else:
            self.empty_label.setText("No scripts yet.\nEverything you write is kept here.")
        self.empty_label.setVisible(empty)
        if self._list is not None:
            self._list.setVisible(not empty)

    def _update_count(self) -> None:
        shown = self.record_count()
        self.count_label.setText(count_text(shown, self._total, search=self._shown_search is not None))
        self.count_label.setVisible(shown > 0)

    def records(self) -> builtins.list[ScriptRecord]:  # `list` here is the widget
        return [self.model.item(row).data(RECORD_ROLE) for row in range(self.record_count())]

    def record_count(self) -> int:
        """The scripts listed (the "Load more" row is not one)."""
        return self.model.rowCount() - (1 if self._has_more else 0)

    def current_record(self) -> ScriptRecord | None:
        index = self.list.currentIndex()
        return index.data(RECORD_ROLE) if index.isValid() else None

    def select_id(self, script_id: int) -> bool:
        for row in range(self.record_count()):
            item = self.model.item(row)
            if item.data(RECORD_ROLE).id == script_id:
                self._suppress_open = True
                try:
                    self.list.setCurrentIndex(item.index())
                finally:
                    self._suppress_open = False
                return True
        return False

    def clear_current(self) -> None:
        """No script selected (a new one is about to be written)."""
        self._suppress_open = True
        try:
            self.list.clearSelection()
            self.list.setCurrentIndex(QModelIndex())
        finally:
            self._suppress_open = False

    def focus_search(self) -> None:
        self.search.setFocus(QtCore.Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    # --- actions -----------------------------------------------------------------------------------------

    def _on_activated(self, index: QModelIndex) -> None:
        if self._suppress_open:
            return
        record = index.data(RECORD_ROLE)
        if record is not None:
            self._spawn(self.open_record(record.id), "history-open")

    async def open_record(self, script_id: int) -> None:
        """Load the newest copy of a script from the store and ask the window to show it."""
        if self._store is None:
            return
        record = await run_blocking(self._store.get_script, script_id)
        if record is not None:
            self.open_requested.emit(record)

    def _open_current(self) -> None:
        index = self.list.currentIndex()
        if index.data(LOAD_MORE_ROLE):
            self.load_more()
        elif index.isValid():
            self._on_activated(index)

    def _on_clicked(self, index: QModelIndex) -> None:
        if index.data(LOAD_MORE_ROLE):
            self.load_more()

    def _copy_current(self) -> None:
        record = self.current_record()
        if record is not None:
            self.copy_record(record)

    def copy_record(self, record: ScriptRecord) -> None:
        from PySide6.QtGui import QGuiApplication

        QGuiApplication.clipboard().setText(record.text)
        self.copied.emit(record)

    def _delete_current(self) -> None:
        record = self.current_record()
        if record is not None:
            self._spawn(self.delete(record.id), "history-delete")

    async def delete(self, script_id: int) -> ScriptRecord | None:
        if self._store is None:
            return None
        try:
            record = await run_blocking(self._store.delete_script, script_id)
        except Exception as error:
            log.exception("Could not delete script %s", script_id)
            self.failed.emit(f"Could not delete the script: {error}")
            return None
        await self.refresh()
        if record is not None:
            self.deleted.emit(record)
        return record

    async def restore(self, record: ScriptRecord) -> int | None:
        if self._store is None:
            return None
        try:
            restored_id = await run_blocking(self._store.restore_script, record)
        except Exception as error:
            log.exception("Could not restore script %s", record.id)
            self.failed.emit(f"Could not undo the delete: {error}")
            return None
        self._select_after_refresh = restored_id
        await self.refresh()
        self.restored.emit(record)
        return restored_id

    def _export_current(self) -> None:
        record = self.current_record()
        if record is not None:
            self.export(record)

    def export(self, record: ScriptRecord, directory: Path | None = None) -> QFileDialog:
        """Ask where to save `record` in a non-modal file dialog (`open()`, never `exec()`), then write."""
        # Imported on first use: PySide builds the type with its enums (~3 ms); start-up need not wait.
        from PySide6.QtWidgets import QFileDialog

        if self.export_dialog is not None:
            self.export_dialog.close()
            self.export_dialog.deleteLater()
        dialog = QFileDialog(self.window(), "Export script")
        dialog.setObjectName("exportDialog")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setFileMode(QFileDialog.FileMode.AnyFile)
        markdown, plain = "Markdown (*.md)", "Plain text (*.txt)"
        dialog.setNameFilters([markdown, plain])
        dialog.selectNameFilter(markdown)
        dialog.setDefaultSuffix("md")
        if directory is not None:
            dialog.setDirectory(str(directory))
        dialog.selectFile(suggested_filename(record))

        def on_filter(selected: str) -> None:
            suffix = "txt" if selected == plain else "md"
            dialog.setDefaultSuffix(suffix)
            names = dialog.selectedFiles()
            if names:
                dialog.selectFile(Path(names[0]).with_suffix(f".{suffix}").name)

        dialog.filterSelected.connect(on_filter)
        dialog.fileSelected.connect(lambda name: self._spawn(self.export_to(record, Path(name)), "export"))
        dialog.finished.connect(dialog.deleteLater)
        self.export_dialog = dialog
        dialog.destroyed.connect(lambda *_: setattr(self, "export_dialog", None))
        dialog.open()
        return dialog

    async def export_to(self, record: ScriptRecord, path: Path) -> Path | None:
        try:
            written = await run_blocking(write_export, record, path)
        except OSError as error:
            log.warning("Export to %s failed: %s", path, error)
            self.failed.emit(f"Could not save {path.name}: {error.strerror or error}.")
            return None
        self.exported.emit(written)
        return written

    def _show_context_menu(self, position: Any) -> None:
        index = self.list.indexAt(position)
        if index.data(RECORD_ROLE) is None:  # empty space, or the "Load more" row
            return
        self.list.setCurrentIndex(index)
        menu = QtWidgets.QMenu(self.list)
        for action in (self.open_action, self.copy_action, self.export_action):
            menu.addAction(action)
        menu.addSeparator()
        menu.addAction(self.delete_action)
        menu.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(self.list.viewport().mapToGlobal(position))

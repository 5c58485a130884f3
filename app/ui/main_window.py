"""The main window: topic, persona and length in; the script streams out; history left, limits right.

The window holds no business rule: it reads the service's state and forwards the user's intent. Every call
that may block (store, keychain, files) runs on a worker thread; network calls are awaited on the qasync loop.

Start-up paints once, with every widget: what no one sees before acting (menu icons, cursor shapes,
what needs Qt's namespace) is set right after that first paint, by `_finish_ui`. Painting the frame first and
the widgets after cost a second layout and paint (3.6 ms of the GUI thread, paired) for a blank frame that
showed for ~30 ms.
"""

from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QByteArray, QSettings, QTimer, Signal
from PySide6.QtWidgets import QMainWindow, QWidget

from app.ui import theme
from app.ui.first_paint import DeferredShortcuts, FirstPaintWatcher
from app.ui.provider_warmup import warm_up_provider
from app.ui.script_stats import WORDS_PER_MINUTE, ScriptStats
from app.ui.status_texts import (
    ACTION_LABELS,
    Action,
    ProviderState,
    actionable_error,
    provider_label,
    provider_state,
    status_note,
)
from app.ui.tasks import run_blocking, start_task

if TYPE_CHECKING:
    import asyncio

    from PySide6.QtGui import QCloseEvent, QShowEvent

    from app.core.service import ScriptOutcome, ScriptRequest, ScriptService
    from app.store import ScriptRecord
    from app.ui.fallback_consent import ConsentAnswer

log = logging.getLogger(__name__)

UNDO_TIMEOUT_MS = 8000
STATUS_TIMEOUT_MS = 6000
# While a reply streams, the window gets an event-loop turn (to paint, take input) at least this often.
STREAM_YIELD_INTERVAL_S = 0.004
DEFAULT_MINUTES = 3
UNIT_WORDS = "words"
UNIT_MINUTES = "minutes"


class MainWindow(QMainWindow):
    """objectName "mainWindow". Construct with a service, or call `attach(service)` once it is built.

    `closed` is emitted once when the window closes (after running generations were cancelled).
    """

    closed = Signal()
    generation_finished = Signal(object)  # ScriptOutcome, or None when stopped or failed unexpectedly

    def __init__(
        self,
        service: ScriptService | None = None,
        *,
        key_store: Any = None,
        settings_path: Path | None = None,
        data_dir: Path | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setWindowTitle("Scriptwright")  # its icon is the application's, set once the window has painted
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks)
        self.service: ScriptService | None = None
        self.key_store = key_store
        self.data_dir = data_dir
        self._settings_path = settings_path
        self._task: asyncio.Task[Any] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stop_requested = False
        self._closed = False
        self._unsubscribe: Any = None
        self._provider = "ollama"
        self._model: str | None = None
        self._state = ProviderState("ollama", "unknown")
        self.current_record: ScriptRecord | None = None
        self.settings_dialog: Any = None
        self.consent_dialog: Any = None
        self.about_dialog: Any = None
        self.rate_limit_panel: Any = None
        self._undo_record: ScriptRecord | None = None
        self._status_action: Action | None = None
        self._listed_running = False
        self._layout_restored = False
        self._provider_warmed = False  # the provider's SDK has been loaded (or is loading) on a worker thread
        self._warm_up_task: asyncio.Task[Any] | None = None
        self._docks_sized = False
        self._shortcuts = DeferredShortcuts()  # given by _finish_ui

        self._state_timer = QTimer(self)  # repaints countdowns once a second while something is waiting
        self._state_timer.setInterval(1000)
        self._state_timer.timeout.connect(self._render_provider_state)
        self._state_refresh = QTimer(self)  # coalesces bursts of state notifications into one repaint
        self._state_refresh.setSingleShot(True)
        self._state_refresh.setInterval(0)
        self._state_refresh.timeout.connect(self._render_provider_state)
        self._undo_timer = QTimer(self)
        self._undo_timer.setSingleShot(True)
        self._undo_timer.timeout.connect(self._hide_undo)
        self._message_timer = QTimer(self)
        self._message_timer.setSingleShot(True)
        self._message_timer.timeout.connect(self._clear_message)

        self.resize(1180, 760)
        self._restore_window_geometry()
        self._build_ui()
        if service is not None:
            self.attach(service, key_store=key_store)

    def _build_ui(self) -> None:
        """Create the widgets.

        Nothing here touches Qt's `Qt` namespace: building its Python type (about a hundred enums) takes
        ~25 ms, so a window that opens as it was left (its docks placed by the saved layout, not by a
        `Qt.DockWidgetArea`) paints first. What needs the namespace and is not seen before a person acts (a
        cursor shape, selectable labels, the menus' icons, the shortcuts) is set by `_finish_ui`, right after
        the composer first paints: a window never painted cannot be used. The history panel does the same for
        its menu, keys and alignments.
        """
        self._layout_restored = self._restore_dock_layout()
        self._build_actions()
        self._build_central()
        self._build_docks()
        self._build_status_bar()
        self._connect_actions()
        self._build_menus()
        self.restore_layout()
        self._sync_enabled()
        self.topic_edit.setFocus()
        FirstPaintWatcher(self.composer, self._finish_ui)

    def _finish_ui(self) -> None:
        from PySide6.QtCore import Qt

        self.badge.setCursor(Qt.CursorShape.PointingHandCursor)
        for label in (self.banner_label, self.status_message):
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._set_action_icons()  # only the menus show them
        self._shortcuts.apply()

    # --- construction ------------------------------------------------------------------------------------

    def _build_central(self) -> None:
        from PySide6.QtWidgets import (
            QComboBox,
            QFrame,
            QHBoxLayout,
            QLabel,
            QLineEdit,
            QPushButton,
            QSizePolicy,
            QSpinBox,
            QVBoxLayout,
        )

        from app.ui.script_view import ScriptView, StatsLine

        central = self.composer = QWidget(self)
        central.setObjectName("composer")
        outer = QVBoxLayout(central)
        outer.setContentsMargins(20, 16, 20, 12)
        outer.setSpacing(10)

        topic_label = QLabel("Topic", central)
        topic_label.setObjectName("fieldLabel")
        self.topic_edit = QLineEdit(central)
        self.topic_edit.setObjectName("topicEdit")
        self.topic_edit.setPlaceholderText("What is the video about?")
        self.topic_edit.setToolTip("For example: why octopuses are so clever")
        self.topic_edit.setClearButtonEnabled(True)
        self.topic_edit.setAccessibleName("Topic")
        self.topic_edit.setAccessibleDescription("What the video is about. Press Ctrl+Enter to generate.")
        topic_label.setBuddy(self.topic_edit)
        outer.addWidget(topic_label)
        topic_row = QHBoxLayout()
        topic_row.setSpacing(8)
        topic_row.addWidget(self.topic_edit, 1)
        outer.addLayout(topic_row)

        row = QHBoxLayout()
        row.setSpacing(8)
        row.setContentsMargins(0, 2, 0, 0)
        persona_label = QLabel("Persona", central)
        persona_label.setObjectName("fieldLabel")
        self.persona_combo = QComboBox(central)
        self.persona_combo.setObjectName("personaCombo")
        self.persona_combo.setMinimumContentsLength(12)
        self.persona_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.persona_combo.setAccessibleName("Persona")
        self.persona_combo.setAccessibleDescription("The voice and style the script is written in.")
        persona_label.setBuddy(self.persona_combo)

        length_label = QLabel("Length", central)
        length_label.setObjectName("fieldLabel")
        self.length_spin = QSpinBox(central)
        self.length_spin.setObjectName("targetLengthSpin")
        self.length_spin.setAccessibleName("Target length")
        self.length_spin.setMinimumWidth(64)
        self.length_unit = QComboBox(central)
        self.length_unit.setObjectName("targetUnitCombo")
        self.length_unit.addItem("minutes spoken", UNIT_MINUTES)
        self.length_unit.addItem("words", UNIT_WORDS)
        self.length_unit.setAccessibleName("Length unit")
        self.length_unit.setAccessibleDescription(
            f"Words, or minutes spoken at about {WORDS_PER_MINUTE} words a minute."
        )
        length_label.setBuddy(self.length_spin)
        self.length_hint = QLabel(central)
        self.length_hint.setObjectName("lengthHint")
        self.length_hint.setMinimumWidth(1)  # may shrink to nothing when the window is narrow
        self._set_length_unit(UNIT_MINUTES, DEFAULT_MINUTES)
        self.length_unit.currentIndexChanged.connect(self._on_unit_changed)
        self.length_spin.valueChanged.connect(self._update_length_hint)

        # Labels are set apart: the (text, parent) constructor has an (icon, text, parent) twin, and choosing
        # between them builds QIcon's Python type (theme.FIRST_FRAME_ICONS: the stylesheet draws the icons).
        self.stop_button = QPushButton(central)
        self.stop_button.setText("Stop")
        self.stop_button.setObjectName("stopButton")
        self.stop_button.setToolTip("Stop writing (Esc). The partial script is kept.")
        self.stop_button.setAccessibleDescription("Stops the script being written; its partial text is kept.")
        self.generate_button = QPushButton(central)
        self.generate_button.setText("Generate")
        self.generate_button.setObjectName("generateButton")
        self.generate_button.setToolTip("Write the script (Ctrl+Enter)")
        self.generate_button.setAccessibleDescription(
            "Writes a script about the topic with the chosen persona."
        )
        self.generate_button.setDefault(True)
        self.topic_edit.returnPressed.connect(self.generate)
        self.topic_edit.textChanged.connect(self._on_topic_changed)

        row.addWidget(persona_label)
        self.persona_combo.setSizePolicy(
            QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Fixed
        )  # names stay whole
        row.addWidget(self.persona_combo)
        row.addSpacing(10)
        row.addWidget(length_label)
        row.addWidget(self.length_spin)
        row.addWidget(self.length_unit)
        row.addWidget(self.length_hint)
        row.addStretch(1)
        topic_row.addWidget(self.stop_button)
        topic_row.addWidget(self.generate_button)
        outer.addLayout(row)
        outer.addSpacing(4)

        self.banner = QFrame(central)
        self.banner.setObjectName("scriptBanner")
        self.banner.setProperty("kind", "info")
        banner_layout = QHBoxLayout(self.banner)
        banner_layout.setContentsMargins(12, 8, 8, 8)
        banner_layout.setSpacing(10)
        self.banner_label = QLabel(self.banner)
        self.banner_label.setObjectName("bannerLabel")
        self.banner_label.setWordWrap(True)
        self.banner_button = QPushButton(self.banner)
        self.banner_button.setObjectName("bannerActionButton")
        self.banner_button.clicked.connect(lambda: self._run_action(self.banner_button.property("action")))
        banner_layout.addWidget(self.banner_label, 1)
        banner_layout.addWidget(self.banner_button)  # a fixed-height widget sits centred by default
        self.banner.hide()
        outer.addWidget(self.banner)

        self.script_title = QLabel(central)
        self.script_title.setObjectName("scriptTitle")
        self.script_title.setWordWrap(True)
        self.script_title.hide()
        outer.addWidget(self.script_title)

        self.script_view = ScriptView(central)
        self.script_view.flushed.connect(self._on_flushed)
        outer.addWidget(self.script_view, 1)

        bottom = QHBoxLayout()
        bottom.setSpacing(10)
        self.stats_line = StatsLine(central)
        self.badge = QPushButton(central)
        self.badge.setObjectName("poweredByBadge")
        self.badge.setFlat(True)
        self.badge.setToolTip("Who wrote this script. Click to choose the provider (Settings).")
        self.badge.setAccessibleDescription("Opens the provider settings.")
        self.badge.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
        self.badge.clicked.connect(self.open_settings)
        bottom.addWidget(self.stats_line, 1)
        bottom.addWidget(self.badge)  # at the right: the stats line takes the stretch
        outer.addLayout(bottom)
        self.setCentralWidget(central)
        # Shown once the core says which provider writes (it is read from the store): never a guess first.
        self.badge.hide()

    def _build_docks(self) -> None:
        from PySide6.QtWidgets import QDockWidget, QLabel, QVBoxLayout

        from app.ui.history import HistoryPanel

        self.history = HistoryPanel(self)
        self.history_dock = QDockWidget("History", self)
        self.history_dock.setObjectName("historyDock")
        self.history_dock.setWidget(self.history)
        self.history_dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetClosable | QDockWidget.DockWidgetFeature.DockWidgetMovable
        )
        self.history_dock.setMinimumWidth(240)
        self.history.open_requested.connect(self.show_record)
        self.history.deleted.connect(self._on_deleted)
        self.history.restored.connect(lambda record: self.show_message(f"Restored “{record.topic}”."))
        self.history.copied.connect(
            lambda record: self.show_message(f"Copied “{record.topic}” to the clipboard.")
        )
        self.history.exported.connect(lambda path: self.show_message(f"Exported to {path}."))
        self.history.failed.connect(lambda message: self.show_message(message))

        self.rate_dock = QDockWidget("Rate limits", self)
        self.rate_dock.setObjectName("rateLimitDock")
        self.rate_dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetClosable | QDockWidget.DockWidgetFeature.DockWidgetMovable
        )
        placeholder = QWidget(self.rate_dock)
        placeholder.setObjectName("rateLimitPlaceholder")
        note = QLabel("Limits appear here once a provider is set up.", placeholder)
        note.setWordWrap(True)
        note.setMargin(12)
        column = QVBoxLayout(placeholder)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(note)
        column.addStretch(1)  # the note at the top
        self.rate_dock.setWidget(placeholder)
        self.rate_dock.setMinimumWidth(280)
        self._place_docks()

    def _place_docks(self) -> None:
        """Where the saved layout had them; else (a first start) the history left and the limits right."""
        docks = (self.history_dock, self.rate_dock)
        # A list, not a generator: each dock is restored, whatever the one before answered.
        if self._layout_restored and all([self.restoreDockWidget(dock) for dock in docks]):
            return
        from PySide6.QtCore import Qt

        self._layout_restored = False
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.history_dock)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.rate_dock)

    def _build_status_bar(self) -> None:
        from PySide6.QtWidgets import QLabel, QPushButton

        bar = self.statusBar()
        bar.setSizeGripEnabled(True)
        self.provider_status = QLabel(bar)
        self.provider_status.setObjectName("providerStatusLabel")
        self.provider_status.setAccessibleName("Provider status")
        self.status_message = QLabel(bar)
        self.status_message.setObjectName("statusMessage")
        self.status_action = QPushButton(bar)
        self.status_action.setObjectName("statusActionButton")
        self.status_action.hide()
        self.status_action.clicked.connect(lambda: self._run_action(self._status_action))
        self.undo_button = QPushButton(bar)  # the label apart: see _build_central
        self.undo_button.setText("Undo")
        self.undo_button.setObjectName("undoButton")
        self.undo_button.setToolTip("Bring back the script you just deleted")
        self.undo_button.hide()
        self.undo_button.clicked.connect(self.undo_delete)
        self.status_message.setContentsMargins(16, 0, 0, 0)
        bar.addWidget(self.provider_status)
        bar.addWidget(self.status_message, 1)
        bar.addPermanentWidget(self.undo_button)
        bar.addPermanentWidget(self.status_action)

    def _build_actions(self) -> None:
        from PySide6.QtGui import QAction

        def action(text: str, slot: Any, *shortcuts: str) -> QAction:
            act = self._shortcuts.new_action(self, text, slot, *shortcuts)
            self.addAction(act)
            return act

        self.generate_action = action("Generate", self.generate, "Ctrl+Return", "Ctrl+Enter")
        self.regenerate_action = action("Regenerate (skip the cache)", self.regenerate, "Ctrl+Shift+Return")
        self.stop_action = action("Stop", self.stop, "Esc")
        self.new_action = action("New script", self.new_script, "Ctrl+N")
        self.export_action = action("Export…", self.export_current, "Ctrl+E")
        self.quit_action = action("Quit", self.close, "Ctrl+Q")
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.copy_action = action("Copy script", self.copy_script, "Ctrl+Shift+C")
        self.find_action = action("Search history", self.focus_history_search, "Ctrl+F")
        self.settings_action = action("Settings…", self.open_settings, "Ctrl+,")
        self.settings_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        self.about_action = action("About Scriptwright", self.open_about)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        self.compact_action = QAction(self)
        self.compact_action.setText("Compact rate limits")
        self.compact_action.setCheckable(True)
        self.compact_action.toggled.connect(self._on_compact_toggled)

    def _connect_actions(self) -> None:
        self.generate_button.clicked.connect(self.generate_action.trigger)
        self.stop_button.clicked.connect(self.stop_action.trigger)
        self.rate_panel_action = self.rate_dock.toggleViewAction()
        self.rate_panel_action.setText("Rate limits panel")
        self._shortcuts.add(self.rate_panel_action, "Ctrl+Shift+L")
        self.history_action = self.history_dock.toggleViewAction()
        self.history_action.setText("History")
        self._shortcuts.add(self.history_action, "Ctrl+Shift+H")

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.new_action)
        file_menu.addAction(self.generate_action)
        file_menu.addAction(self.regenerate_action)
        file_menu.addAction(self.export_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        edit_menu = bar.addMenu("&Edit")
        edit_menu.addAction(self.copy_action)
        edit_menu.addAction(self.find_action)
        view_menu = bar.addMenu("&View")
        view_menu.addAction(self.rate_panel_action)
        view_menu.addAction(self.history_action)
        view_menu.addSeparator()
        view_menu.addAction(self.compact_action)
        settings_menu = bar.addMenu("&Settings")
        settings_menu.addAction(self.settings_action)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.about_action)

    # --- the service -------------------------------------------------------------------------------------

    def attach(self, service: ScriptService, *, key_store: Any = None) -> None:
        """Bind the window to the core (at start-up after the first paint, so the window shows at once)."""
        self.service = service
        if key_store is not None:
            self.key_store = key_store
        elif self.key_store is None:
            self.key_store = getattr(service, "key_store", None)
        self._install_rate_limit_panel(service)
        state = getattr(service, "state", None)
        subscribe = getattr(state, "subscribe", None)
        if callable(subscribe):
            self._unsubscribe = subscribe(self._on_state_changed)
        self.history.set_store(service.store)
        from app.ui.usage_hooks import attach_usage

        self.usage_hooks = attach_usage(self, service)
        self._track(start_task(self._load_service_data(), name="window-load"))
        self._sync_enabled()

    def _install_rate_limit_panel(self, service: ScriptService) -> None:
        state = getattr(service, "state", None)
        if state is None:
            return
        try:
            from app.ui.rate_limit_panel import RateLimitPanel
        except ImportError:  # the panel is optional: the status bar still names each provider's state
            log.warning("The rate-limit panel is not available", exc_info=True)
            return
        panel = RateLimitPanel(state, self.rate_dock)
        panel.cancel_wait_requested.connect(self._on_cancel_wait)
        panel.switch_provider_requested.connect(self._on_switch_provider)
        self.rate_limit_panel = panel
        old = self.rate_dock.widget()
        self.rate_dock.setWidget(panel)
        if old is not None:
            old.deleteLater()
        panel.set_compact(self.compact_action.isChecked())
        if self.isVisible() and not self._layout_restored:
            self._docks_sized = True
            QTimer.singleShot(0, self._size_docks)

    async def _load_service_data(self) -> None:
        from PySide6.QtCore import Qt

        service = self.service
        if service is None:
            return
        store = service.store
        try:
            personas = await run_blocking(store.list_personas)
            default = await run_blocking(store.default_persona)
        except Exception as error:
            log.exception("Could not load the personas")
            self.show_message(f"Could not load the personas: {error}")
            personas, default = [], None
        self.persona_combo.clear()
        for persona in personas:
            self.persona_combo.addItem(persona.name, persona.id)
            index = self.persona_combo.count() - 1
            if persona.description:
                self.persona_combo.setItemData(index, persona.description, Qt.ItemDataRole.ToolTipRole)
        if personas:  # the whole name always shows (the style's own estimate clips it under the stylesheet)
            longest = max(self.persona_combo.fontMetrics().horizontalAdvance(p.name) for p in personas)
            self.persona_combo.setMinimumWidth(longest + 44)
        if default is not None:
            index = self.persona_combo.findData(default.id)
            if index >= 0:
                self.persona_combo.setCurrentIndex(index)
        await self.refresh_provider()

    async def refresh_provider(self) -> None:
        """Re-read the current provider and its model (off the GUI thread: keys may come from a keychain)."""
        service = self.service
        if service is None:
            return

        def read() -> tuple[str, str | None]:
            name = service.current_provider()
            try:
                model: str | None = service.provider_settings(name).model
            except Exception:
                log.warning("Could not read the settings of %s", name, exc_info=True)
                model = None
            return name, model

        self._provider, self._model = await run_blocking(read)
        if self.current_record is None and not self.is_generating:
            self._set_badge(self._provider, self._model)
        self._render_provider_state()

    @property
    def provider(self) -> str:
        return self._provider

    # --- rate-limit state -------------------------------------------------------------------------------

    def _on_state_changed(self, *_args: Any) -> None:
        # Called by the core, possibly many times per request: repaint once, on the next loop turn.
        if not self._closed:
            self._state_refresh.start()

    def current_provider_state(self) -> ProviderState:
        state = getattr(self.service, "state", None)
        snapshot = getattr(state, "snapshot", None)
        rows: Any = ()
        if callable(snapshot):
            try:
                rows = snapshot()
            except Exception:
                log.warning("Could not read the rate-limit state", exc_info=True)
        return provider_state(rows, self._provider, self._now(), self._model)

    def _now(self) -> float:
        clock = getattr(getattr(self.service, "state", None), "clock", None) or getattr(
            self.service, "clock", None
        )
        now = getattr(clock, "now", None)
        return float(now()) if callable(now) else time.time()

    def _render_provider_state(self) -> None:
        if self._closed:
            return
        if self.service is None:
            self.provider_status.setText("Starting…")
            return
        self._state = self.current_provider_state()
        text = self._state.text(self._now(), self._model)
        self.provider_status.setText(text)
        self.provider_status.setAccessibleDescription(text)
        ticking = self._state.kind in ("waiting", "next", "unavailable", "daily")
        if ticking and not self._state_timer.isActive():
            self._state_timer.start()
        elif not ticking:
            self._state_timer.stop()

    def _on_cancel_wait(self, provider: str, _model: str) -> None:
        if self.is_generating:
            self.show_message(f"Stopped waiting for {provider_label(provider)}.")
            self.stop()

    def _on_switch_provider(self, provider: str) -> None:
        """The panel's [Switch provider]: stop waiting and write this script with `provider` instead."""
        if not self.is_generating:
            self.generate(provider=provider)
            return
        task = self._task
        self.stop()

        async def restart() -> None:
            import asyncio

            if task is not None:
                await asyncio.gather(task, return_exceptions=True)
            self.generate(provider=provider)

        self._track(start_task(restart(), name="switch-provider"))

    def _on_compact_toggled(self, compact: bool) -> None:
        if self.rate_limit_panel is not None:
            self.rate_limit_panel.set_compact(compact)

    # --- generating --------------------------------------------------------------------------------------

    @property
    def is_generating(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def generation_task(self) -> asyncio.Task[Any] | None:
        return self._task

    def target_words(self) -> int | None:
        value = self.length_spin.value()
        if value <= 0:
            return None
        if self.length_unit.currentData() == UNIT_MINUTES:
            return value * WORDS_PER_MINUTE
        return value

    def persona_id(self) -> str | None:
        data = self.persona_combo.currentData()
        return str(data) if data is not None else None

    def build_request(self, provider: str | None = None, *, use_cache: bool = True) -> ScriptRequest | None:
        from app.core.service import ScriptRequest

        topic = self.topic_edit.text().strip()
        if not topic:
            return None
        return ScriptRequest(
            topic=topic,
            persona_id=self.persona_id(),
            target_words=self.target_words(),
            provider=provider,
            use_cache=use_cache,
        )

    def regenerate(self) -> asyncio.Task[Any] | None:
        """Write the script again from the provider, never from the cache (Ctrl+Shift+Return)."""
        return self.generate(use_cache=False)

    def generate(self, provider: str | None = None, *, use_cache: bool = True) -> asyncio.Task[Any] | None:
        """Start writing a script (Ctrl+Enter). Returns the task, or None when nothing was started."""
        from PySide6.QtCore import Qt

        if self.service is None or self.is_generating or self._closed:
            return None
        request = self.build_request(provider, use_cache=use_cache)
        if request is None:
            self.show_message("Type what the video is about first.")
            self.topic_edit.setFocus(Qt.FocusReason.OtherFocusReason)
            return None
        self._task = self._track(start_task(self._generate(request), name="generate"))
        self._sync_enabled()
        return self._task

    async def _generate(self, request: ScriptRequest) -> ScriptOutcome | None:
        import asyncio

        service = self.service
        assert service is not None
        self._stop_requested = False
        self._listed_running = False
        self.current_record = None
        self._hide_banner()
        self._clear_message()
        self.script_title.setText(request.topic)
        self.script_title.show()
        self.script_view.begin_stream()
        self.stats_line.show_stats(ScriptStats(words=0, streaming=True))
        self.history.clear_current()
        self.history.running = True
        if request.provider and request.provider != self._provider:
            self._set_badge(request.provider, None)
        else:
            self._set_badge(self._provider, self._model)
        self._sync_enabled()
        try:
            # The service imports the SDK on first use, on this thread: have it loaded on a worker first. A
            # warm-up started by typing is waited for, not raced: still running while the reply streams, it
            # would hold the interpreter lock in long slices (stalls of ~20 ms, four fifths of them waiting).
            warming = self._warm_up_task
            if warming is not None and not warming.done():
                await asyncio.wait({warming})  # not cancelled with this task: the SDK stays loaded
            await run_blocking(warm_up_provider, service, request.provider)
            outcome = await service.generate(
                request,
                on_delta=self.script_view.append_delta,
                consent=self._consent,
                yield_every_s=STREAM_YIELD_INTERVAL_S,
            )
        except asyncio.CancelledError:
            self.script_view.flush()
            if not self._stop_requested or self._closed:
                raise
            await self._after_stop(request)
            self.generation_finished.emit(None)
            return None
        except Exception as error:  # a bug, not a provider error: say so plainly, keep the details in the log
            log.exception("Generation failed unexpectedly")
            self.script_view.flush()
            self._show_banner(
                "error",
                f"Something went wrong while writing the script ({type(error).__name__}). "
                "The details are in the log; the partial text is kept in the history.",
                "retry",
            )
            self.show_message("Something went wrong while writing the script — try again", "retry", timeout=0)
            self.history.schedule_refresh()
            self.generation_finished.emit(None)
            return None
        finally:
            self._task = None
            self.history.running = False
            self._sync_enabled()
        await self._show_outcome(outcome)
        self.generation_finished.emit(outcome)
        return outcome

    async def _consent(self, proposal: Any) -> ConsentAnswer:
        from app.ui.fallback_consent import FallbackConsentDialog, consent_question

        self.show_message(consent_question(proposal), timeout=0)
        dialog = FallbackConsentDialog(proposal, self)
        self.consent_dialog = dialog
        try:
            answer = await dialog.answer()
        finally:
            self.consent_dialog = None
        if answer in ("once", "always"):
            target = getattr(proposal, "to_provider", None)
            if target:
                self._set_badge(target, None)
                self.show_message(f"Writing with {provider_label(target)} instead.")
        else:
            self._clear_message()
        return answer

    async def _after_stop(self, request: ScriptRequest) -> None:
        words = self.script_view.words.count
        self.stats_line.show_stats(ScriptStats(words=words))
        kept = "The partial text is kept in the history." if words else "Nothing had been written yet."
        self._show_banner("warning", f"Stopped. {kept}", None)
        self.show_message("Stopped.")
        store = self.service.store if self.service else None
        if store is None:
            return
        records = await run_blocking(store.list_scripts, 1)
        if records and records[0].status == "cancelled" and records[0].topic == request.topic:
            self.current_record = records[0]
            self.history.schedule_refresh(select_id=records[0].id)
        else:
            self.history.schedule_refresh()

    async def _show_outcome(self, outcome: ScriptOutcome) -> None:
        if self.script_view.script_text() != outcome.text:
            self.script_view.set_script(outcome.text)
        self._set_badge(outcome.provider, outcome.model)
        result = outcome.result
        tokens = None
        if result is not None and result.usage is not None:
            tokens = result.usage.completion_tokens or result.usage.total_tokens or None
        self.stats_line.show_stats(
            ScriptStats(
                words=self.script_view.words.count,
                tokens=tokens,
                latency_ms=result.latency_ms if result else None,
                time_to_first_token_ms=result.time_to_first_token_ms if result else None,
            )
        )
        if outcome.status == "complete":
            if outcome.fallback_from:
                self._show_banner(
                    "info",
                    f"{provider_label(outcome.fallback_from)} couldn't write this one, "
                    f"so {provider_label(outcome.provider)} did.",
                    None,
                )
            self.show_message(
                f"Saved · {self.script_view.words.count:,} words by {provider_label(outcome.provider)}."
            )
        elif outcome.status == "failed":
            error = outcome.error
            short, action = actionable_error(error, outcome.provider)
            detail = str(error) if error is not None else "The script could not be written."
            if outcome.text:
                detail += " The partial text is kept in the history."
            self._show_banner("error", detail, action)
            self.show_message(short, action, timeout=0)
        elif outcome.status == "cancelled":
            self._show_banner("warning", "Cancelled. The partial text is kept in the history.", None)
        try:
            script_id = await outcome.wait_saved()  # the history is written behind the reply
        except Exception as error:  # the database refused it: the text is still on screen, say so
            log.error("The script could not be saved to the history: %s", error)
            self._show_banner(
                "error",
                f"This script could not be saved to the history: {error} "
                "It is still shown here: copy it (Ctrl+Shift+C) before writing the next one.",
                None,
            )
            self.show_message("The script could not be saved to the history", timeout=0)
            script_id = None
        store = self.service.store if self.service else None
        if store is not None and script_id is not None:
            try:
                self.current_record = await run_blocking(store.get_script, script_id)
            except Exception:
                log.warning("Could not reload script %s", script_id, exc_info=True)
        self.history.schedule_refresh(select_id=script_id)
        self._render_provider_state()
        self._sync_enabled()

    def stop(self) -> None:
        """Stop writing (Esc): cancel the task, and so the upstream request; the partial text is kept."""
        if not self.is_generating or self._task is None:
            return
        self._stop_requested = True
        if self.consent_dialog is not None:
            self.consent_dialog.reject()
        self._task.cancel()

    def _on_flushed(self, words: int) -> None:
        if self.is_generating:
            self.stats_line.show_stats(ScriptStats(words=words, streaming=True))
            if not self._listed_running:  # the new script's row exists now: show it, marked "Writing…"
                self._listed_running = True
                self.history.schedule_refresh(select_running=True)

    # --- showing scripts ----------------------------------------------------------------------------------

    def show_record(self, record: ScriptRecord) -> None:
        """Open a script from the history (ignored while another one is being written)."""
        if self.is_generating:
            self.show_message("A script is being written — stop it (Esc) or wait before opening another.")
            return
        self.current_record = record
        self.script_title.setText(record.topic)
        self.script_title.show()
        self.script_view.set_script(record.text)
        self._set_badge(record.provider, record.model)
        self.stats_line.show_stats(
            ScriptStats(
                words=self.script_view.words.count,
                tokens=record.completion_tokens or record.total_tokens,
                latency_ms=record.latency_ms,
                time_to_first_token_ms=record.time_to_first_token_ms,
            )
        )
        note = status_note(record)
        if note:
            action: Action | None = None
            if record.status == "failed" and record.error_code:
                _short, action = actionable_error(_StoredError(record), record.provider)
            self._show_banner("error" if record.status == "failed" else "warning", note, action)
        else:
            self._hide_banner()
        self._sync_enabled()

    def new_script(self) -> None:
        """Ctrl+N: clear the view and start over at the topic field."""
        from PySide6.QtCore import Qt

        if self.is_generating:
            self.show_message("A script is being written — stop it (Esc) first.")
            return
        self.current_record = None
        self.topic_edit.clear()
        self.script_view.set_script("")
        self.script_title.clear()
        self.script_title.hide()
        self.stats_line.show_stats(ScriptStats(words=0))
        self._hide_banner()
        self.history.clear_current()
        self._set_badge(self._provider, self._model)
        self.topic_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self._sync_enabled()

    def _set_badge(self, provider: str | None, model: str | None) -> None:
        provider = provider or self._provider
        text = f"Powered by {provider_label(provider)}"
        if model:
            text += f" · {model}"
        self.badge.setText(text)
        self.badge.setAccessibleName(text)
        self.badge.setProperty("provider", provider)
        self.badge.show()

    # --- banner and status bar ------------------------------------------------------------------------------

    def _show_banner(self, kind: str, text: str, action: Action | None) -> None:
        prefix = {"error": "⚠ ", "warning": "■ ", "info": "ℹ "}.get(kind, "")
        self.banner.setProperty("kind", kind)
        self.banner.style().unpolish(self.banner)
        self.banner.style().polish(self.banner)
        self.banner_label.setText(prefix + text)
        self.banner.setAccessibleName(text)
        if action is not None:
            self.banner_button.setText(ACTION_LABELS[action])
            self.banner_button.setProperty("action", action)
            self.banner_button.show()
        else:
            self.banner_button.hide()
        self.banner.show()

    def _hide_banner(self) -> None:
        self.banner.hide()
        self.banner_label.clear()

    def banner_text(self) -> str:
        return "" if self.banner.isHidden() else self.banner_label.text()

    def show_startup_error(self, message: str) -> None:
        """The core could not start (a damaged database, say): say so, and what to do, in the window."""
        self._show_banner("error", message, None)
        self.show_message("Scriptwright could not open its data — see the message above", timeout=0)
        self.provider_status.setText("Not ready")

    def show_message(
        self, text: str, action: Action | None = None, *, timeout: int = STATUS_TIMEOUT_MS
    ) -> None:
        """A status-bar message, with an action button ("Open Settings", "Try again") when one fixes it."""
        self.status_message.setText(text)
        self.status_message.setAccessibleDescription(text)
        self._status_action = action
        if action is not None:
            self.status_action.setText(ACTION_LABELS[action])
            self.status_action.show()
        else:
            self.status_action.hide()
        if timeout > 0:
            self._message_timer.start(timeout)
        else:
            self._message_timer.stop()

    def _clear_message(self) -> None:
        self.status_message.clear()
        self._status_action = None
        self.status_action.hide()

    def status_text(self) -> str:
        return self.status_message.text()

    def _run_action(self, action: Any) -> None:
        if action == "settings":
            self.open_settings()
        elif action == "retry":
            self._clear_message()
            self._hide_banner()
            self.generate()

    # --- history actions
    # --------------------------------------------------------------------------------------

    def _on_deleted(self, record: ScriptRecord) -> None:
        self._undo_record = record
        self.show_message(f"Deleted “{record.topic}”.", timeout=UNDO_TIMEOUT_MS)
        self.undo_button.show()
        self._undo_timer.start(UNDO_TIMEOUT_MS)
        if self.current_record is not None and self.current_record.id == record.id:
            self.current_record = None
            self._sync_enabled()

    def undo_delete(self) -> asyncio.Task[Any] | None:
        record = self._undo_record
        self._hide_undo()
        if record is None:
            return None
        return self._track(start_task(self.history.restore(record), name="undo-delete"))

    def _hide_undo(self) -> None:
        self._undo_record = None
        self._undo_timer.stop()
        self.undo_button.hide()

    def copy_script(self) -> None:
        from PySide6.QtGui import QGuiApplication

        text = self.script_view.script_text()
        if not text:
            self.show_message("There is no script to copy yet.")
            return
        QGuiApplication.clipboard().setText(text)
        self.show_message(f"Copied {self.script_view.words.count:,} words to the clipboard.")

    def export_current(self) -> Any:
        if self.current_record is None:
            self.show_message("Open or write a script first, then export it.")
            return None
        return self.history.export(self.current_record)

    def focus_history_search(self) -> None:
        self.history_dock.show()
        self.history_dock.raise_()
        self.history.focus_search()

    # --- dialogs
    # ------------------------------------------------------------------------------------------------

    def open_settings(self) -> Any:
        """Open the settings dialog (non-modal, `open()`); one at a time."""
        if self.service is None:
            return None
        if self.settings_dialog is not None and self.settings_dialog.isVisible():
            self.settings_dialog.raise_()
            self.settings_dialog.activateWindow()
            return self.settings_dialog
        from app.ui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.service, self.key_store, self)
        dialog.saved.connect(self._on_settings_saved)
        dialog.finished.connect(lambda _result: self._forget_settings_dialog(dialog))
        self.settings_dialog = dialog
        dialog.open()
        return dialog

    def _forget_settings_dialog(self, dialog: Any) -> None:
        if self.settings_dialog is dialog:
            self.settings_dialog = None
        dialog.deleteLater()

    def _on_settings_saved(self, sentence: str) -> None:
        self.show_message(sentence or "Settings saved.")
        if self.banner.property("kind") == "error":
            self._hide_banner()
        self._track(start_task(self.refresh_provider(), name="refresh-provider"))
        self._warm_up_provider()  # the provider or the fallbacks may have changed

    def _on_topic_changed(self, text: str) -> None:
        # A topic is being typed: a Generate is coming. Load the provider's SDK now, off the GUI thread.
        if text.strip() and not self._provider_warmed:
            self._warm_up_provider()

    def _warm_up_provider(self) -> None:
        if self.service is None or self._closed:
            return
        self._provider_warmed = True
        self._warm_up_task = self._track(
            start_task(run_blocking(warm_up_provider, self.service), name="warm-up-provider")
        )

    def open_about(self) -> Any:
        from app.ui.about_dialog import AboutDialog

        if self.about_dialog is not None:
            self.about_dialog.raise_()
            return self.about_dialog
        dialog = AboutDialog(self, data_dir=self.data_dir)
        dialog.destroyed.connect(lambda *_: setattr(self, "about_dialog", None))
        self.about_dialog = dialog
        dialog.open()
        return dialog

    def refresh_theme(self, *_args: Any) -> None:
        """The colour scheme changed: re-tint the menus' icons (the palette and the stylesheet, which draws
        the buttons' icons, are application-wide)."""
        self._set_action_icons()
        self.history.refresh_theme()
        self.history.list.viewport().update()

    def _set_action_icons(self) -> None:
        for action, name in (
            (self.generate_action, "generate"),
            (self.stop_action, "stop"),
            (self.new_action, "new"),
            (self.export_action, "export"),
            (self.copy_action, "copy"),
            (self.find_action, "search"),
            (self.settings_action, "settings"),
        ):
            action.setIcon(theme.icon(name))

    # --- state and lifetime ---------------------------------------------------------------------------------

    def _sync_enabled(self) -> None:
        generating = self.is_generating
        ready = self.service is not None and not self._closed
        self.generate_action.setEnabled(ready and not generating)
        self.generate_button.setEnabled(ready and not generating)
        self.stop_action.setEnabled(generating)
        self.stop_button.setEnabled(generating)
        self.export_action.setEnabled(self.current_record is not None and not generating)
        self.copy_action.setEnabled(True)
        self.new_action.setEnabled(not generating)
        self.generate_button.setText("Writing…" if generating else "Generate")

    def _set_length_unit(self, unit: str, value: int) -> None:
        self.length_spin.blockSignals(True)
        if unit == UNIT_MINUTES:
            self.length_spin.setRange(0, 60)
            self.length_spin.setSingleStep(1)
        else:
            self.length_spin.setRange(0, 9000)
            self.length_spin.setSingleStep(50)
        self.length_spin.setSpecialValueText("Any")
        self.length_spin.setValue(value)
        self.length_spin.blockSignals(False)
        index = self.length_unit.findData(unit)
        if index >= 0 and self.length_unit.currentIndex() != index:
            self.length_unit.blockSignals(True)
            self.length_unit.setCurrentIndex(index)
            self.length_unit.blockSignals(False)
        self._update_length_hint()

    def _on_unit_changed(self, _index: int) -> None:
        unit = self.length_unit.currentData()
        value = self.length_spin.value()
        if value <= 0:
            converted = 0
        elif unit == UNIT_WORDS:  # from minutes
            converted = value * WORDS_PER_MINUTE
        else:
            converted = max(1, round(value / WORDS_PER_MINUTE))
        self._set_length_unit(unit, converted)

    def _update_length_hint(self) -> None:
        words = self.target_words()
        if words is None:
            self.length_hint.setText("no target")
        elif self.length_unit.currentData() == UNIT_MINUTES:
            self.length_hint.setText(f"≈ {words:,} words")
        else:
            minutes = words / WORDS_PER_MINUTE
            self.length_hint.setText(f"≈ {minutes:.1f} min spoken".replace(".0 ", " "))

    def _track(self, task: asyncio.Task[Any]) -> asyncio.Task[Any]:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def settings(self) -> QSettings | None:
        if self._settings_path is None:
            return None
        return QSettings(str(self._settings_path), QSettings.Format.IniFormat)

    def _restore_window_geometry(self) -> None:
        settings = self.settings()
        if settings is None:
            return
        geometry = settings.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)

    def _restore_dock_layout(self) -> bool:
        """Restore the saved dock layout before the docks exist (they then take their saved places as they
        are created, see `_place_docks`); False when there is none."""
        settings = self.settings()
        state = settings.value("window/state") if settings is not None else None
        return isinstance(state, QByteArray) and self.restoreState(state)

    def restore_layout(self) -> None:
        """The composer's length choice and the panel's density, as they were left."""
        settings = self.settings()
        if settings is None:
            return
        unit = settings.value("composer/unit")
        value = settings.value("composer/length")
        if unit in (UNIT_WORDS, UNIT_MINUTES):
            with contextlib.suppress(TypeError, ValueError):
                self._set_length_unit(str(unit), int(str(value)))
        compact = settings.value("view/compactLimits")
        self.compact_action.setChecked(str(compact).lower() == "true")

    def save_geometry(self) -> None:
        settings = self.settings()
        if settings is None:
            return
        settings.setValue("window/geometry", self.saveGeometry())
        settings.setValue("window/state", self.saveState())
        settings.setValue("composer/unit", self.length_unit.currentData())
        settings.setValue("composer/length", self.length_spin.value())
        settings.setValue("view/compactLimits", self.compact_action.isChecked())
        settings.sync()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._docks_sized:  # roomy side panels on a first start (a saved layout wins)
            self._docks_sized = True
            if not self._layout_restored:
                QTimer.singleShot(0, self._size_docks)

    def _size_docks(self) -> None:
        from PySide6.QtCore import Qt

        self.resizeDocks([self.history_dock, self.rate_dock], [300, 340], Qt.Orientation.Horizontal)

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._closed:
            self._closed = True
            self.save_geometry()
            for task in list(self._tasks):
                task.cancel()
            self.history.shutdown()
            if callable(self._unsubscribe):
                try:
                    self._unsubscribe()
                except Exception:
                    log.warning("Unsubscribing from the rate-limit state failed", exc_info=True)
                self._unsubscribe = None
            self._state_timer.stop()
            for dialog in (
                self.settings_dialog,
                self.consent_dialog,
                self.about_dialog,
                self.history.export_dialog,
            ):
                if dialog is not None:
                    dialog.close()
            self.closed.emit()
        super().closeEvent(event)

    async def wait_idle(self, timeout: float = 5.0) -> None:
        """Wait for the window's tasks (generation included) to finish after they were cancelled."""
        import asyncio

        tasks = [t for t in (*self._tasks, *self.history.tasks) if not t.done()]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)


class _StoredError:
    """An error rebuilt from a history row, enough for `actionable_error`."""

    def __init__(self, record: ScriptRecord) -> None:
        self.code = record.error_code
        self.provider = record.provider
        self.message = record.error_message or ""

    def __str__(self) -> str:
        return self.message

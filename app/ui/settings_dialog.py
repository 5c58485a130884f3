"""Settings → AI Configuration: the default provider, each provider's model, key, host and limits, the
fallback order, and the live rate-limit status.

The dialog is opened with `open()` (never `exec()`: a nested event loop breaks qasync). Everything slow runs
off the GUI thread: reading and writing the store and the keychain go to a worker thread (`run_blocking`),
model lists and connection tests are asyncio tasks on the qasync loop. Nothing is written until [Save
Changes]; Esc or [Cancel] discards every change.

Contract with the core (`app.core.service.ScriptService`): `store` (settings_with_prefix, set_settings,
delete_setting, set_default_provider), `env`, `state` (optional, for the panel), `current_provider()`, `async
list_models(provider, settings)`, `async health(provider, settings)`, `apply_settings()`. Settings keys
written: `provider.<name>.model`, `provider.<name>.base_url`, `ratelimit.<name>.enabled`,
`ratelimit.<name>.requests_per_minute`, `ratelimit.<name>.seconds_per_request` ("none" = no spacing),
`ratelimit.fallback_chain` (a list; empty = off), and `providers.openai_instances` (the named
OpenAI-compatible servers: a list of {id, label, base_url, model, needs_key}; a removed server's
`provider.<id>.*` and `ratelimit.<id>.*` settings and key go with it). API keys go to the key store only. A
server added here joins the provider list, tabs and fallback order once saved (Save closes the dialog; the
next opening shows it). The "Usage & costs" page
(`app.ui.usage_settings_page`) adds `usage.prices`, `usage.budgets`, `usage.budget_alert_threshold`,
`usage.cache_ttl_hours` and `usage.cache_max_mb`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.core.catalogue import (
    BUILTIN,
    CATALOGUE,
    INSTANCES_KEY,
    PROVIDER_NAMES,
    OpenAIInstance,
    ProviderCatalogEntry,
    instance_id,
    parse_instances,
)
from app.core.config import ProviderSettings, is_placeholder_key, resolve_provider_settings
from app.ui.tasks import run_blocking, start_task
from app.ui.usage_settings_page import UsageForm, UsageSettingsPage, load_usage_form
from app.ui.widgets.busy import BusyIndicator
from app.ui.widgets.key_field import KeyField
from app.ui.widgets.labels import MutedLabel, SectionHeading
from app.ui.widgets.settings_page import prepare_settings_page

if TYPE_CHECKING:
    from app.ui.rate_limit_panel import RateLimitPanel

log = logging.getLogger(__name__)

MODEL_FETCH_DEBOUNCE_MS = 700  # after the last keystroke in a key or host field
RPM_RANGE = (1, 1000)
SPACING_RANGE = (0.0, 3600.0)
FALLBACK_KEY = "ratelimit.fallback_chain"

_PAGE_STYLE = """
QFrame#settingsSection {
    background: palette(base);
    border: 1px solid palette(mid);
    border-radius: 8px;
}
QLabel#fieldError { color: palette(window-text); font-weight: 600; }
QFrame#errorBanner {
    border: 1px solid rgba(214, 72, 72, 0.6);
    background: rgba(214, 72, 72, 0.10);
    border-radius: 6px;
}
QListWidget#fallbackList::item { padding: 4px 6px; }
QListWidget#settingsNav { border: none; background: transparent; outline: none; }
QListWidget#settingsNav::item { padding: 7px 10px; border-radius: 6px; }
QListWidget#settingsNav::item:selected { background: palette(highlight); color: palette(highlighted-text); }
QScrollArea#settingsScroll { border: none; background: transparent; }
QWidget#settingsPageBody { background: transparent; }
"""


def setting_key(provider: str, name: str) -> str:
    return f"provider.{provider}.{name}"


def rate_key(provider: str, name: str) -> str:
    return f"ratelimit.{provider}.{name}"


# --- what the form holds ------------------------------------------------------------------------------------


@dataclass(slots=True)
class ProviderForm:
    """One provider's values as the form shows them (and as they were loaded, to know what changed)."""

    model: str
    base_url: str
    key: str
    key_source: str | None  # "keychain" | "file" | None (not stored)
    env_key_var: str | None  # the environment variable that provides a key, if any
    limit_enabled: bool
    requests_per_minute: int
    seconds_per_request: float  # 0: none
    label: str = ""  # a server the user added: its name (built-in providers' names are fixed)


@dataclass(slots=True)
class LoadedSettings:
    default_provider: str
    providers: dict[str, ProviderForm]
    fallback_chain: tuple[str, ...]
    storage: str  # where a key saved now goes, in words
    warnings: tuple[str, ...] = ()
    describe_source: dict[str, str] = field(default_factory=dict)
    usage: UsageForm | None = None
    instances: tuple[OpenAIInstance, ...] = ()


def _load_settings(service: Any, key_store: Any) -> LoadedSettings:
    """Everything the form starts from. Blocking (SQLite, keychain): runs on a worker thread."""
    from app.core.ratelimit.settings import load_guard_settings

    store = service.store
    env: Mapping[str, str] = getattr(service, "env", {}) or {}
    try:
        default = service.current_provider()
    except Exception:
        default = store.get_default_provider()
    saved_rates = store.settings_with_prefix("ratelimit.")
    guards = load_guard_settings(env, saved_rates)
    providers: dict[str, ProviderForm] = {}
    sources: dict[str, str] = {}
    for name, entry in CATALOGUE.items():
        saved = store.settings_with_prefix(f"provider.{name}.")
        model = saved.get(setting_key(name, "model")) or env.get(entry.model_env) or entry.default_model
        # A server the user added shows its own URL (kept in its entry); an empty Ollama host is the default.
        base_url = saved.get(setting_key(name, "base_url")) or (
            entry.default_base_url if name not in BUILTIN else ""
        )
        stored = key_store.get(name) if key_store is not None and entry.needs_key else None
        env_var = next((var for var in entry.key_envs if env.get(var)), None)
        limits = guards.limit_for(name)
        providers[name] = ProviderForm(
            model=str(model),
            base_url=str(base_url),
            key=stored[0] if stored else "",
            key_source=stored[1] if stored else None,
            env_key_var=env_var,
            limit_enabled=limits.enabled,
            requests_per_minute=max(RPM_RANGE[0], min(RPM_RANGE[1], limits.requests_per_minute)),
            seconds_per_request=max(0.0, min(SPACING_RANGE[1], limits.seconds_per_request or 0.0)),
            label=entry.label if name not in BUILTIN else "",
        )
        if stored and key_store is not None:
            describe = getattr(key_store, "describe_source", None)
            sources[name] = describe(stored[1]) if callable(describe) else stored[1]
    storage = str(getattr(key_store, "backend_description", "")) if key_store is not None else ""
    try:
        usage = load_usage_form(service)
    except Exception:
        log.exception("[Settings] could not read the usage settings")
        usage = None
    return LoadedSettings(
        default_provider=default if default in CATALOGUE else PROVIDER_NAMES[0],
        providers=providers,
        fallback_chain=tuple(guards.fallback_chain),
        storage=storage,
        warnings=tuple(guards.warnings),
        describe_source=sources,
        usage=usage,
        instances=tuple(parse_instances(store.get_setting(INSTANCES_KEY))),
    )


# --- one provider's section -----------------------------------------------------------------------------


class ProviderSection(QWidget):
    """Model, key, host, connection test and local rate limiting for one provider."""

    def __init__(self, entry: ProviderCatalogEntry, dialog: SettingsDialog) -> None:
        super().__init__()
        self.entry = entry
        self.dialog = dialog
        name = entry.name
        self.setObjectName(f"providerSection_{name}")
        self._fetch_task: asyncio.Task[None] | None = None
        self._test_task: asyncio.Task[None] | None = None
        self._fetch_generation = 0
        self.models_loaded: list[str] = []

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 14, 16, 14)
        layout.setSpacing(10)
        about = MutedLabel(
            f"{entry.display_name}: {entry.tagline}."
            + (" Prompts are sent to its servers." if entry.leaves_machine else ""),
            self,
        )
        layout.addWidget(about)

        form = QFormLayout()
        form.setHorizontalSpacing(14)
        form.setVerticalSpacing(8)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        layout.addLayout(form)

        # name: a server the user added can be renamed (its id, and so its settings and key, stay)
        self.is_named_server = name not in BUILTIN
        self.name_edit: QLineEdit | None = None
        self.name_error = _error_label(f"nameError_{name}", self)
        if self.is_named_server:
            self.name_edit = QLineEdit(self)
            self.name_edit.setObjectName(f"nameEdit_{name}")
            self.name_edit.setAccessibleName("Server name")
            self.name_edit.setAccessibleDescription("How the server is shown in the lists and the panel.")
            name_label = QLabel("N&ame:", self)
            name_label.setBuddy(self.name_edit)
            form.addRow(name_label, _stack(self.name_edit, self.name_error))

        # model
        self.model_combo = QComboBox(self)
        self.model_combo.setObjectName(f"modelCombo_{name}")
        self.model_combo.setEditable(True)
        self.model_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.model_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model_combo.setMinimumContentsLength(24)
        self.model_combo.setAccessibleName(f"{entry.label} model")
        self.model_combo.setAccessibleDescription(
            f"The {entry.label} model that writes scripts. Pick one from the list or type its name."
        )
        self.refresh_button = QPushButton("&Refresh", self)
        self.refresh_button.setObjectName(f"refreshModelsButton_{name}")
        self.refresh_button.setAccessibleName(f"Refresh the {entry.label} model list")
        self.refresh_button.setAccessibleDescription(f"Asks {entry.label} again for the models it offers.")
        self.refresh_button.clicked.connect(lambda: self.fetch_models())
        model_row = QHBoxLayout()
        model_row.setSpacing(8)
        model_row.addWidget(self.model_combo, 1)
        model_row.addWidget(self.refresh_button)
        self.models_busy = BusyIndicator("Loading models…", self)
        self.models_busy.setObjectName(f"modelsBusy_{name}")
        self.models_busy.hide()
        self.models_status = MutedLabel("", self)
        self.models_status.setObjectName(f"modelsStatus_{name}")
        model_label = QLabel("&Model:", self)
        model_label.setBuddy(self.model_combo)
        form.addRow(model_label, _stack(model_row, self.models_busy, self.models_status))

        # key
        self.key_field: KeyField | None = None
        self.key_error = _error_label(f"keyError_{name}", self)
        self.key_location = MutedLabel("", self)
        self.key_location.setObjectName(f"keyLocation_{name}")
        if entry.needs_key:
            self.key_field = KeyField(entry.label, self)
            self.key_field.line_edit.setObjectName(f"apiKeyEdit_{name}")
            self.key_field.toggle.setObjectName(f"showKeyButton_{name}")
            key_label = QLabel("API &key:", self)
            key_label.setBuddy(self.key_field.line_edit)
            key_parts: list[QWidget | QHBoxLayout] = [self.key_field, self.key_error, self.key_location]
            if entry.key_url:
                self.key_link = QLabel(f'<a href="{entry.key_url}">Get a {entry.label} API key</a>', self)
                self.key_link.setObjectName(f"getKeyLink_{name}")
                self.key_link.setOpenExternalLinks(True)
                self.key_link.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
                self.key_link.setAccessibleName(f"Get a {entry.label} API key")
                self.key_link.setAccessibleDescription(f"Opens {entry.key_url} in your browser.")
                key_parts.append(self.key_link)
            form.addRow(key_label, _stack(*key_parts))
            self.key_field.textChanged.connect(self._on_key_edited)

        # host: Ollama's (optional), or the base URL of a server the user added (required, kept in its entry)
        self.host_edit: QLineEdit | None = None
        self.host_error = _error_label(f"hostError_{name}", self)
        if name == "ollama" or self.is_named_server:
            self.host_edit = QLineEdit(self)
            self.host_edit.setObjectName(f"hostEdit_{name}")
            self.host_edit.setPlaceholderText(entry.default_base_url or "http://127.0.0.1:11434")
            self.host_edit.setClearButtonEnabled(not self.is_named_server)
            if self.is_named_server:
                self.host_edit.setAccessibleName(f"{entry.label} base URL")
                self.host_edit.setAccessibleDescription(
                    "The address before /chat/completions, starting with http:// or https://."
                )
                host_label = QLabel("&Base URL:", self)
                host_hint = MutedLabel("The address before /chat/completions.", self)
            else:
                self.host_edit.setAccessibleName(f"{entry.label} host")
                self.host_edit.setAccessibleDescription(
                    f"The address of the {entry.label} server. Empty: {entry.default_base_url} "
                    f"(or {entry.base_url_env} from the environment)."
                )
                host_label = QLabel("&Host:", self)
                host_hint = MutedLabel(
                    f"Empty: {entry.default_base_url}, or {entry.base_url_env} if set.", self
                )
            host_label.setBuddy(self.host_edit)
            form.addRow(host_label, _stack(self.host_edit, self.host_error, host_hint))
            self.host_edit.textChanged.connect(self._on_host_edited)

        # connection test
        self.test_button = QPushButton("&Test connection", self)
        self.test_button.setObjectName(f"testButton_{name}")
        self.test_button.setAccessibleName(f"Test the connection to {entry.label}")
        self.test_button.setAccessibleDescription(
            "Sends the cheapest real request with the values in this form: reports the latency, whether "
            "the key is accepted and the limits the provider reports."
        )
        self.test_button.clicked.connect(self.test_connection)
        self.test_busy = BusyIndicator("Testing…", self)
        self.test_busy.hide()
        test_row = QHBoxLayout()
        test_row.setSpacing(10)
        test_row.addWidget(self.test_button)
        test_row.addWidget(self.test_busy)
        test_row.addStretch(1)
        self.test_result = QLabel(self)
        self.test_result.setObjectName(f"testResult_{name}")
        self.test_result.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.test_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.test_result.hide()
        form.addRow("", test_row)
        form.addRow("", self.test_result)

        # rate limiting
        heading = _subheading("Rate limiting", self)
        heading.setContentsMargins(0, 10, 0, 0)
        form.addRow(heading)
        self.limit_check = QCheckBox("&Limit requests to stay within the free tier", self)
        self.limit_check.setObjectName(f"rateLimitEnabled_{name}")
        self.limit_check.setAccessibleName(f"Limit requests to {entry.label}")
        self.limit_check.setAccessibleDescription(
            "When on, Scriptwright waits for a free slot rather than send a request that would be refused."
        )
        form.addRow("", self.limit_check)
        self.rpm_spin = QSpinBox(self)
        self.rpm_spin.setObjectName(f"rpmSpin_{name}")
        self.rpm_spin.setRange(*RPM_RANGE)
        self.rpm_spin.setSuffix(" per minute")
        self.rpm_spin.setAccessibleName(f"{entry.label} requests per minute")
        self.rpm_spin.setAccessibleDescription(
            f"At most this many requests in any 60 seconds (1 to 1000). "
            f"Default {entry.rate_limit.requests_per_minute}."
        )
        self.spacing_spin = QDoubleSpinBox(self)
        self.spacing_spin.setObjectName(f"spacingSpin_{name}")
        self.spacing_spin.setRange(*SPACING_RANGE)
        self.spacing_spin.setDecimals(1)
        self.spacing_spin.setSingleStep(1.0)
        self.spacing_spin.setSuffix(" s")
        self.spacing_spin.setSpecialValueText("None")
        self.spacing_spin.setAccessibleName(f"{entry.label} seconds between requests")
        self.spacing_spin.setAccessibleDescription(
            "The shortest gap between two requests, 0 to 3600 seconds; 0 means none."
        )
        for widget in (self.rpm_spin, self.spacing_spin):
            widget.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
            widget.setMinimumWidth(160)
        rpm_label = QLabel("Requests per mi&nute:", self)
        rpm_label.setBuddy(self.rpm_spin)
        spacing_label = QLabel("Seconds &between:", self)
        spacing_label.setBuddy(self.spacing_spin)
        form.addRow(rpm_label, self.rpm_spin)
        form.addRow(spacing_label, self.spacing_spin)
        self.limit_check.toggled.connect(self._sync_limit_controls)
        layout.addStretch(1)

        self._key_timer = QTimer(self)
        self._key_timer.setSingleShot(True)
        self._key_timer.setInterval(MODEL_FETCH_DEBOUNCE_MS)
        self._key_timer.timeout.connect(lambda: self.fetch_models())
        self._loading_values = False

    # --- values --------------------------------------------------------------------------------------------

    def set_values(self, values: ProviderForm, storage: str, stored_where: str | None) -> None:
        self._loading_values = True
        try:
            self.model_combo.setEditText(values.model)
            if self.key_field is not None:
                self.key_field.setText(values.key)
            if self.host_edit is not None:
                self.host_edit.setText(values.base_url)
            if self.name_edit is not None:
                self.name_edit.setText(values.label)
            self.limit_check.setChecked(values.limit_enabled)
            self.rpm_spin.setValue(values.requests_per_minute)
            self.spacing_spin.setValue(values.seconds_per_request)
        finally:
            self._loading_values = False
        self._values = values
        self._storage = storage
        self._stored_where = stored_where
        self._sync_limit_controls()
        self._update_key_location()

    def values(self) -> ProviderForm:
        loaded = self._values
        return replace(
            loaded,
            model=self.model_combo.currentText().strip(),
            base_url=self.host_edit.text().strip() if self.host_edit is not None else loaded.base_url,
            label=self.name_edit.text().strip() if self.name_edit is not None else loaded.label,
            key=self.key_field.text().strip() if self.key_field is not None else "",
            limit_enabled=self.limit_check.isChecked(),
            requests_per_minute=self.rpm_spin.value(),
            seconds_per_request=round(self.spacing_spin.value(), 1),
        )

    @property
    def loaded_values(self) -> ProviderForm:
        return self._values

    def provider_settings(self) -> ProviderSettings:
        """The settings a request would use if the form were saved now (key typed here, else from the env)."""
        values = self.values()
        saved: dict[str, Any] = {"model": values.model or self.entry.default_model}
        if values.base_url:
            saved["base_url"] = values.base_url
        saved_key = (values.key, "form") if values.key else None
        env = getattr(self.dialog.service, "env", {}) or {}
        return resolve_provider_settings(self.entry.name, env, saved, saved_key)

    def has_key(self) -> bool:
        values = self.values()
        return bool(values.key) or values.env_key_var is not None

    # --- validation -----------------------------------------------------------------------------------------

    def validate(self) -> QWidget | None:
        """Show inline errors; return the first widget to fix, or None when the section is valid."""
        first: QWidget | None = None
        values = self.values()
        if self.key_field is not None:
            key = values.key
            message = ""
            if key and is_placeholder_key(key):
                message = (
                    f"“{key[:40]}” is a placeholder, not a {self.entry.label} API key. Paste the key from "
                    f"{self.entry.key_url or 'your account'}, or leave the field empty."
                )
            elif key and any(ch.isspace() for ch in key):
                message = "An API key has no spaces. Check that only the key was pasted."
            elif (
                not key and self.entry.name == self.dialog.selected_provider() and values.env_key_var is None
            ):
                message = (
                    f"{self.entry.label} needs an API key to write scripts. Paste one here, or choose "
                    "another default provider."
                )
            self._show_error(self.key_error, message)
            if message:
                first = self.key_field.line_edit
        if self.name_edit is not None:
            message = ""
            others = self.dialog.server_names(excluding=self.entry.name)
            if not values.label:
                message = "Give the server a name, e.g. “LM Studio on this computer”."
            elif values.label.lower() in others:
                message = f"There is already a server named “{values.label}”."
            self._show_error(self.name_error, message)
            if message and first is None:
                first = self.name_edit
        if self.host_edit is not None:
            host = values.base_url
            message = ""
            what = "base URL" if self.is_named_server else "host"
            if not host and self.is_named_server:
                message = f"Enter the server's base URL (for example {self.entry.default_base_url})."
            elif host and not host.lower().startswith(("http://", "https://")):
                example = self.entry.default_base_url
                message = f"The {what} must start with http:// or https:// (for example {example})."
            self._show_error(self.host_error, message)
            if message and first is None:
                first = self.host_edit
        return first

    @staticmethod
    def _show_error(label: QLabel, message: str) -> None:
        label.setText(f"⚠ {message}" if message else "")
        label.setAccessibleName(message)
        label.setVisible(bool(message))

    # --- models ---------------------------------------------------------------------------------------------

    def fetch_models(self) -> None:
        """Ask the provider for its models (async); a newer fetch supersedes an older one."""
        self._key_timer.stop()
        if self._fetch_task is not None and not self._fetch_task.done():
            self._fetch_task.cancel()
        self._fetch_generation += 1
        if self.entry.needs_key and not self.has_key():
            self.models_busy.hide()
            self.models_status.setText(f"Add an API key to load {self.entry.label}'s models.")
            return
        self.models_status.setText("")
        self.models_busy.show()
        self._fetch_task = start_task(
            self._fetch(self._fetch_generation, self.provider_settings()), name=f"models-{self.entry.name}"
        )

    async def _fetch(self, generation: int, settings: ProviderSettings) -> None:
        try:
            models = await self.dialog.service.list_models(self.entry.name, settings)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            if generation == self._fetch_generation:
                self.models_busy.hide()
                self.models_status.setText(f"Could not load the models: {_sentence(error)}")
                self.models_status.setAccessibleName(self.models_status.text())
            log.info("[Settings] model list for %s failed: %s", self.entry.name, type(error).__name__)
            return
        if generation != self._fetch_generation:
            return
        ids = sorted({str(getattr(m, "id", m)) for m in models})
        self.models_loaded = ids
        typed = self.model_combo.currentText()
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        self.model_combo.addItems(ids)
        self.model_combo.setEditText(typed)
        self.model_combo.blockSignals(False)
        self.models_busy.hide()
        count = len(ids)
        if count == 0:
            text = f"{self.entry.label} offers no model yet. Type a model name."
        else:
            noun = "model" if count == 1 else "models"
            text = f"{count} {noun} available from {self.entry.label}."
            if typed and typed not in ids:
                text += f" “{typed}” is not among them."
        self.models_status.setText(text)
        self.models_status.setAccessibleName(text)

    def _on_key_edited(self, _text: str) -> None:
        if self._loading_values:
            return
        self._show_error(self.key_error, "")
        self._update_key_location()
        self._key_timer.start()

    def _on_host_edited(self, _text: str) -> None:
        if self._loading_values:
            return
        self._show_error(self.host_error, "")
        self._key_timer.start()

    def _update_key_location(self) -> None:
        if self.key_field is None:
            return
        values = self.values()
        loaded = self._values
        env_var = values.env_key_var
        if values.key and values.key == loaded.key and loaded.key_source:
            text = f"Stored in {self._stored_where or self._storage}."
        elif values.key:
            text = f"Will be stored in {self._storage} when you save." if self._storage else ""
        elif env_var:
            text = f"Using the key from the environment ({env_var}). A key saved here takes precedence."
        elif loaded.key:
            text = "The stored key will be deleted when you save."
        else:
            text = f"No key yet. Saved keys go to {self._storage}." if self._storage else "No key yet."
        self.key_location.setText(text)
        if self.key_field is not None and not values.key and env_var:
            self.key_field.line_edit.setPlaceholderText(f"Using {env_var} from the environment")
        elif self.key_field is not None:
            self.key_field.line_edit.setPlaceholderText("Paste your API key")

    def _sync_limit_controls(self) -> None:
        enabled = self.limit_check.isChecked()
        self.rpm_spin.setEnabled(enabled)
        self.spacing_spin.setEnabled(enabled)

    # --- connection test ------------------------------------------------------------------------------------

    def test_connection(self) -> None:
        if self._test_task is not None and not self._test_task.done():
            return
        if self.key_field is not None and self.values().key and is_placeholder_key(self.values().key):
            self.validate()
            return
        self.test_button.setEnabled(False)
        self.test_busy.show()
        self.test_result.hide()
        self._test_task = start_task(self._test(self.provider_settings()), name=f"health-{self.entry.name}")

    async def _test(self, settings: ProviderSettings) -> None:
        try:
            report = await self.dialog.service.health(self.entry.name, settings)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            text = _wrap(f"Could not test the connection: {_sentence(error)}")
        else:
            text = health_text(self.entry, report)
        self.test_busy.hide()
        self.test_button.setEnabled(True)
        self.test_result.setText(text)
        self.test_result.setAccessibleName(text)
        self.test_result.show()

    def cancel_tasks(self) -> None:
        self._key_timer.stop()
        for task in (self._fetch_task, self._test_task):
            if task is not None and not task.done():
                task.cancel()


def health_text(entry: ProviderCatalogEntry, report: Any) -> str:
    """The connection test's outcome in lines: "Connected in 212 ms — key accepted.", then the limits the
    provider reported, one per line ("• 13,990 of 14,400 requests per day left")."""
    latency = getattr(report, "latency_ms", None)
    reachable = bool(getattr(report, "reachable", False))
    key_accepted = getattr(report, "key_accepted", None)
    message = str(getattr(report, "message", "") or "")
    if not reachable:
        return _wrap(f"Could not connect. {message}".strip())
    if key_accepted is False:
        return _wrap(f"{entry.label} answered but refused the key. {message}".strip())
    parts = [f"Connected in {latency:.0f} ms" if latency is not None else "Connected"]
    if key_accepted:
        parts.append("key accepted")
    lines = [" — ".join(parts) + "."]
    limits = getattr(report, "rate_limits", None)
    windows = [w for w in getattr(limits, "windows", ()) if getattr(w, "limit", None) is not None]
    if windows:
        lines.append(f"{entry.label} reports:")
        for window in windows:
            unit = window.window.label
            if window.remaining is not None:
                lines.append(f"• {window.remaining:,} of {window.limit:,} {unit} left")
            else:
                lines.append(f"• {window.limit:,} {unit}")
    elif message and not message.startswith(entry.label):
        lines.append(_wrap(message))
    return "\n".join(lines)


def _wrap(text: str, width: int = 72) -> str:
    """Lines of at most `width` characters: the result label does not wrap (a wrapping label in a form inside
    tabs gets more height than its lines need)."""
    import textwrap

    return "\n".join(textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False)) or text


def _sentence(error: BaseException) -> str:
    text = str(getattr(error, "message", "") or error).strip()
    return text or "the provider did not say why."


def _stack(*parts: QWidget | QHBoxLayout) -> QVBoxLayout:
    """A form field made of several lines (the control, then its hints and errors)."""
    box = QVBoxLayout()
    box.setSpacing(4)
    for part in parts:
        if isinstance(part, QWidget):
            box.addWidget(part)
        else:
            box.addLayout(part)
    return box


def _error_label(object_name: str, parent: QWidget) -> QLabel:
    label = QLabel(parent)
    label.setObjectName(object_name)
    label.setWordWrap(True)
    label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
    label.hide()
    return label


def _subheading(text: str, parent: QWidget) -> QLabel:
    label = QLabel(text, parent)
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    return label


def _section(parent: QWidget) -> tuple[QFrame, QVBoxLayout]:
    frame = QFrame(parent)
    frame.setObjectName("settingsSection")
    layout = QVBoxLayout(frame)
    layout.setContentsMargins(16, 14, 16, 14)
    layout.setSpacing(10)
    return frame, layout


# --- the dialog ---------------------------------------------------------------------------------------------


class SettingsDialog(QDialog):
    """Settings, with its "AI Configuration" page. `saved(message)` tells the window what changed."""

    saved = Signal(str)
    loaded = Signal()

    def __init__(self, service: Any, key_store: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.service = service
        self.key_store = key_store
        self.setObjectName("settingsDialog")
        self.setWindowTitle("Settings")
        self.setModal(True)
        self.setStyleSheet(_PAGE_STYLE)
        self.resize(860, 760)
        self.setMinimumSize(640, 480)
        self._loaded: LoadedSettings | None = None
        self._load_task: asyncio.Task[None] | None = None
        self._save_task: asyncio.Task[None] | None = None
        self.sections: dict[str, ProviderSection] = {}

        root = QHBoxLayout(self)
        root.setContentsMargins(0, 0, 0, 0)
        root.setSpacing(0)

        self.nav = QListWidget(self)
        self.nav.setObjectName("settingsNav")
        self.nav.setAccessibleName("Settings pages")
        self.nav.setAccessibleDescription("Choose a page of settings.")
        self.nav.setFixedWidth(190)
        for title in ("AI Configuration", "Usage & costs"):
            item = QListWidgetItem(title)
            # The stylesheet's item padding is not in the default size hint, so rows would overlap.
            item.setSizeHint(QSize(0, self.nav.fontMetrics().height() + 18))
            self.nav.addItem(item)
        self.nav.setSpacing(2)
        nav_box = QWidget(self)
        nav_box.setObjectName("settingsNavBox")
        nav_layout = QVBoxLayout(nav_box)
        nav_layout.setContentsMargins(12, 16, 8, 16)
        nav_layout.addWidget(self.nav)
        root.addWidget(nav_box)
        divider = QFrame(self)
        divider.setFrameShape(QFrame.Shape.VLine)
        divider.setFrameShadow(QFrame.Shadow.Plain)
        divider.setStyleSheet("color: palette(mid);")
        root.addWidget(divider)

        right = QVBoxLayout()
        right.setContentsMargins(0, 0, 0, 0)
        right.setSpacing(0)
        self.pages = QStackedWidget(self)
        self.pages.addWidget(self._build_ai_page())
        self.usage_page = UsageSettingsPage(self.service, self)
        self.pages.addWidget(self.usage_page)
        self.nav.currentRowChanged.connect(self.pages.setCurrentIndex)
        self.nav.setCurrentRow(0)
        right.addWidget(self.pages, 1)

        footer = QWidget(self)
        footer_layout = QVBoxLayout(footer)
        footer_layout.setContentsMargins(20, 10, 20, 16)
        footer_layout.setSpacing(8)
        self.error_banner = QFrame(footer)
        self.error_banner.setObjectName("errorBanner")
        banner_layout = QHBoxLayout(self.error_banner)
        banner_layout.setContentsMargins(10, 8, 10, 8)
        self.error_label = QLabel(self.error_banner)
        self.error_label.setObjectName("saveErrorLabel")
        self.error_label.setWordWrap(True)
        banner_layout.addWidget(self.error_label)
        self.error_banner.hide()
        footer_layout.addWidget(self.error_banner)
        self.buttons = QDialogButtonBox(footer)
        self.save_button = QPushButton("&Save Changes", footer)
        self.save_button.setObjectName("saveButton")
        self.save_button.setDefault(True)
        self.save_button.setAutoDefault(True)
        self.save_button.setAccessibleName("Save changes")
        self.save_button.setAccessibleDescription("Saves these settings; they take effect at once. Ctrl+S.")
        self.cancel_button = QPushButton("Cancel", footer)
        self.cancel_button.setObjectName("cancelButton")
        self.cancel_button.setAutoDefault(False)
        self.cancel_button.setAccessibleName("Cancel")
        self.cancel_button.setAccessibleDescription("Closes Settings without saving anything. Esc.")
        self.buttons.addButton(self.save_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(self.cancel_button, QDialogButtonBox.ButtonRole.RejectRole)
        self.save_button.clicked.connect(self.save)
        self.cancel_button.clicked.connect(self.reject)
        self.saving_busy = BusyIndicator("Saving…", footer)
        self.saving_busy.hide()
        button_row = QHBoxLayout()
        button_row.addWidget(self.saving_busy, 1)
        button_row.addWidget(self.buttons)
        footer_layout.addLayout(button_row)
        right.addWidget(footer)
        root.addLayout(right, 1)

        QShortcut(QKeySequence.StandardKey.Save, self, self.save)
        self._set_form_enabled(False)
        self._load_task = start_task(self._load(), name="settings-load")

    # --- building -------------------------------------------------------------------------------------------

    def _build_ai_page(self) -> QWidget:
        scroll = QScrollArea(self)
        body, page = prepare_settings_page(scroll, "AI Configuration")
        self.loading_busy = BusyIndicator("Loading your settings…", body)
        page.addWidget(self.loading_busy)
        intro = MutedLabel(
            "Choose the model that writes your scripts. Nothing changes until you save; "
            "then every new generation uses it at once.",
            body,
        )
        page.addWidget(intro)

        # default provider
        frame, box = _section(body)
        box.addWidget(SectionHeading("LLM Provider", frame))
        self.provider_combo = QComboBox(frame)
        self.provider_combo.setObjectName("providerCombo")
        for name, entry in CATALOGUE.items():
            self.provider_combo.addItem(entry.dropdown_text, name)
        # The longest line must not widen the whole page: the closed combo elides, its list shows all.
        self.provider_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.provider_combo.setMinimumContentsLength(28)
        self.provider_combo.view().setMinimumWidth(self.provider_combo.view().sizeHintForColumn(0) + 24)
        self.provider_combo.setAccessibleName("Default provider")
        self.provider_combo.setAccessibleDescription("The provider that writes every new script.")
        provider_label = QLabel("&Provider:", frame)
        provider_label.setBuddy(self.provider_combo)
        row = QHBoxLayout()
        row.setSpacing(12)
        row.addWidget(provider_label)
        row.addWidget(self.provider_combo, 1)
        box.addLayout(row)
        self.provider_hint = MutedLabel("", frame)
        self.provider_hint.setObjectName("providerHint")
        box.addWidget(self.provider_hint)
        self.provider_combo.currentIndexChanged.connect(self._on_provider_changed)
        page.addWidget(frame)

        # per provider
        frame, box = _section(body)
        box.addWidget(SectionHeading("Providers", frame))
        box.addWidget(
            MutedLabel(
                "Set up each provider here, whichever is the default, so switching later is one click.", frame
            )
        )
        self.provider_tabs = QTabWidget(frame)
        self.provider_tabs.setObjectName("providerTabs")
        self.provider_tabs.setDocumentMode(True)
        self.provider_tabs.setAccessibleName("Provider settings")
        self.provider_tabs.setAccessibleDescription("One tab per provider: model, API key, host and limits.")
        for name, entry in CATALOGUE.items():
            section = ProviderSection(entry, self)
            self.sections[name] = section
            self.provider_tabs.addTab(section, entry.label)
        box.addWidget(self.provider_tabs)
        page.addWidget(frame)
        page.addWidget(self._build_instances_section(body))

        # fallback
        frame, box = _section(body)
        box.addWidget(SectionHeading("Fallback order", frame))
        box.addWidget(
            MutedLabel(
                "When the default provider cannot answer (daily quota used, unreachable), the ticked "
                "providers are offered in this order. Nothing ticked: no fallback (the default).",
                frame,
            )
        )
        self.fallback_list = QListWidget(frame)
        self.fallback_list.setObjectName("fallbackList")
        self.fallback_list.setAccessibleName("Fallback providers")
        self.fallback_list.setAccessibleDescription(
            "Tick a provider to use it as a fallback; the order is the order they are tried. Space ticks."
        )
        self.fallback_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.fallback_list.setFixedHeight(3 * 30 + 6)
        self.fallback_up = QPushButton("Move &up", frame)
        self.fallback_up.setObjectName("fallbackUpButton")
        self.fallback_up.setAccessibleName("Move the selected fallback provider up")
        self.fallback_up.setAccessibleDescription("Tries it earlier.")
        self.fallback_down = QPushButton("Move do&wn", frame)
        self.fallback_down.setObjectName("fallbackDownButton")
        self.fallback_down.setAccessibleName("Move the selected fallback provider down")
        self.fallback_down.setAccessibleDescription("Tries it later.")
        self.fallback_up.clicked.connect(lambda: self.move_fallback(-1))
        self.fallback_down.clicked.connect(lambda: self.move_fallback(1))
        self.fallback_list.currentRowChanged.connect(self._sync_fallback_buttons)
        row = QHBoxLayout()
        row.setSpacing(8)
        row.addWidget(self.fallback_list, 1)
        buttons = QVBoxLayout()
        buttons.addWidget(self.fallback_up)
        buttons.addWidget(self.fallback_down)
        buttons.addStretch(1)
        row.addLayout(buttons)
        box.addLayout(row)
        page.addWidget(frame)

        # live status
        self.rate_limit_panel: RateLimitPanel | None = None
        state = getattr(self.service, "state", None)
        if state is not None:
            frame, box = _section(body)
            box.addWidget(SectionHeading("Rate Limit Status", frame))
            from app.ui.rate_limit_panel import RateLimitPanel

            self.rate_limit_panel = RateLimitPanel(state, frame, scrollable=False)
            box.addWidget(self.rate_limit_panel)
            page.addWidget(frame)
        page.addStretch(1)
        return scroll

    def _build_instances_section(self, body: QWidget) -> QFrame:
        """Named OpenAI-compatible servers: a list, Remove, and a small form to add one."""
        self._instances: list[OpenAIInstance] = []
        self._instance_keys: dict[str, str] = {}  # keys typed for servers added since loading
        frame, box = _section(body)
        box.addWidget(SectionHeading("OpenAI-compatible servers", frame))
        box.addWidget(
            MutedLabel(
                "Add any server that speaks OpenAI's API under a name of your own (LM Studio on this "
                "computer, OpenRouter, vLLM). Each is a provider of its own, with its own model, key, "
                "limits, usage and cost. Once saved, a server appears in the lists above, with a tab where "
                "its model, base URL and key can be changed.",
                frame,
            )
        )
        self.instance_list = QListWidget(frame)
        self.instance_list.setObjectName("instanceList")
        self.instance_list.setAccessibleName("OpenAI-compatible servers")
        self.instance_list.setAccessibleDescription("The servers you added. Select one to remove it.")
        self.instance_list.setFixedHeight(3 * 26 + 6)
        self.remove_instance_button = QPushButton("Remove server", frame)
        self.remove_instance_button.setObjectName("removeInstanceButton")
        self.remove_instance_button.setAccessibleName("Remove the selected server")
        self.remove_instance_button.setAccessibleDescription(
            "Forgets the server, its settings and its stored key when you save."
        )
        self.remove_instance_button.clicked.connect(self.remove_instance)
        self.instance_list.currentRowChanged.connect(self._sync_instance_buttons)
        row = QHBoxLayout()
        row.setSpacing(8)
        row.addWidget(self.instance_list, 1)
        buttons = QVBoxLayout()
        buttons.addWidget(self.remove_instance_button)
        buttons.addStretch(1)
        row.addLayout(buttons)
        box.addLayout(row)

        form = QFormLayout()
        form.setHorizontalSpacing(14)
        form.setVerticalSpacing(8)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        fields = (
            ("instanceNameEdit", "Name:", "LM Studio on this computer", "Server name", "How it is shown."),
            (
                "instanceUrlEdit",
                "Base URL:",
                "http://127.0.0.1:1234/v1",
                "Server base URL",
                "The address before /chat/completions, starting with http:// or https://.",
            ),
            (
                "instanceModelEdit",
                "Model:",
                "the model's id",
                "Server model",
                "The model that writes scripts.",
            ),
        )
        edits: list[QLineEdit] = []
        for object_name, text, placeholder, accessible, description in fields:
            edit = QLineEdit(frame)
            edit.setObjectName(object_name)
            edit.setPlaceholderText(placeholder)
            edit.setAccessibleName(accessible)
            edit.setAccessibleDescription(description)
            label = QLabel(text, frame)
            label.setBuddy(edit)
            form.addRow(label, edit)
            edits.append(edit)
        self.instance_name_edit, self.instance_url_edit, self.instance_model_edit = edits
        self.instance_key_field = KeyField("Server", frame)
        self.instance_key_field.line_edit.setObjectName("instanceKeyEdit")
        self.instance_key_field.line_edit.setPlaceholderText("Optional: a local server needs none")
        self.instance_key_field.toggle.setObjectName("instanceShowKeyButton")
        key_label = QLabel("API key:", frame)
        key_label.setBuddy(self.instance_key_field.line_edit)
        form.addRow(key_label, self.instance_key_field)
        self.instance_error = _error_label("instanceError", frame)
        self.add_instance_button = QPushButton("Add server", frame)
        self.add_instance_button.setObjectName("addInstanceButton")
        self.add_instance_button.setAccessibleName("Add the server")
        self.add_instance_button.setAccessibleDescription(
            "Adds the server to the list; it is kept when you save."
        )
        self.add_instance_button.clicked.connect(self.add_instance)
        add_row = QHBoxLayout()
        add_row.addWidget(self.add_instance_button)
        add_row.addStretch(1)
        form.addRow("", self.instance_error)
        form.addRow("", add_row)
        box.addLayout(form)
        self._sync_instance_buttons()
        return frame

    def add_instance(self) -> None:
        """Check the add form; on success the server joins the list (written on save)."""
        name = self.instance_name_edit.text().strip()
        url = self.instance_url_edit.text().strip()
        model = self.instance_model_edit.text().strip()
        key = self.instance_key_field.text().strip()
        message = ""
        if not name:
            message, widget = (
                "Give the server a name, e.g. “LM Studio on this computer”.",
                self.instance_name_edit,
            )
        elif name.lower() in self.server_names():
            message, widget = f"There is already a server named “{name}”.", self.instance_name_edit
        elif not url.lower().startswith(("http://", "https://")):
            message, widget = (
                "The base URL must start with http:// or https:// (for example http://127.0.0.1:1234/v1).",
                self.instance_url_edit,
            )
        elif not model:
            message, widget = "Name the model the server should use.", self.instance_model_edit
        elif key and (is_placeholder_key(key) or any(ch.isspace() for ch in key)):
            message, widget = (
                "That is not an API key. Paste the server's key, or leave the field empty.",
                self.instance_key_field.line_edit,
            )
        ProviderSection._show_error(self.instance_error, message)
        if message:
            widget.setFocus()
            return
        taken = set(BUILTIN) | {i.id for i in self._instances} | set(CATALOGUE)
        instance = OpenAIInstance(instance_id(name, taken), name, url, model, needs_key=bool(key))
        self._instances.append(instance)
        if key:
            self._instance_keys[instance.id] = key
        self._add_instance_item(instance, pending=True)
        for edit in (self.instance_name_edit, self.instance_url_edit, self.instance_model_edit):
            edit.clear()
        self.instance_key_field.setText("")
        self._sync_instance_buttons()

    def _add_instance_item(self, instance: OpenAIInstance, *, pending: bool) -> None:
        text = f"{instance.label} — {instance.base_url} · {instance.model or 'default model'}"
        item = QListWidgetItem(text + (" (added when you save)" if pending else ""))
        item.setData(Qt.ItemDataRole.UserRole, instance.id)
        self.instance_list.addItem(item)

    def remove_instance(self) -> None:
        """Forget the selected server: its tab, its place in the lists and (on save) its settings and key."""
        row = self.instance_list.currentRow()
        if row < 0:
            return
        ident = str(self.instance_list.takeItem(row).data(Qt.ItemDataRole.UserRole))
        self._instances = [i for i in self._instances if i.id != ident]
        self._instance_keys.pop(ident, None)
        index = self.provider_combo.findData(ident)
        if index >= 0:
            if index == self.provider_combo.currentIndex():
                self.provider_combo.setCurrentIndex(self.provider_combo.findData(PROVIDER_NAMES[0]))
            self.provider_combo.removeItem(index)
        section = self.sections.pop(ident, None)
        if section is not None:
            section.cancel_tasks()
            self.provider_tabs.removeTab(self.provider_tabs.indexOf(section))
            section.deleteLater()
        for fallback_row in range(self.fallback_list.count()):
            if self.fallback_list.item(fallback_row).data(Qt.ItemDataRole.UserRole) == ident:
                self.fallback_list.takeItem(fallback_row)
                break
        self._sync_instance_buttons()
        self._sync_fallback_buttons()

    def _sync_instance_buttons(self, *_args: object) -> None:
        self.remove_instance_button.setEnabled(self.instance_list.currentRow() >= 0)

    def instances(self) -> list[OpenAIInstance]:
        return list(self._instances)

    def server_names(self, *, excluding: str | None = None) -> set[str]:
        """The names of the servers in the form, lower-cased, as they would be saved now."""
        names = set()
        for instance in self._instances:
            if instance.id == excluding:
                continue
            section = self.sections.get(instance.id)
            label = section.values().label if section is not None else instance.label
            names.add(label.lower())
        return names

    # --- loading --------------------------------------------------------------------------------------------

    @property
    def is_loaded(self) -> bool:
        return self._loaded is not None

    async def _load(self) -> None:
        try:
            loaded = await run_blocking(_load_settings, self.service, self.key_store)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.exception("[Settings] could not read the settings")
            self.loading_busy.hide()
            self._show_error(f"Could not read your settings: {_sentence(error)}")
            return
        self._apply_loaded(loaded)

    def _apply_loaded(self, loaded: LoadedSettings) -> None:
        self._loaded = loaded
        index = self.provider_combo.findData(loaded.default_provider)
        self.provider_combo.setCurrentIndex(max(0, index))
        for name, section in self.sections.items():
            section.set_values(loaded.providers[name], loaded.storage, loaded.describe_source.get(name))
        self.fallback_list.clear()
        order = [n for n in loaded.fallback_chain if n in CATALOGUE]
        order += [n for n in CATALOGUE if n not in loaded.fallback_chain]
        for name in order:
            item = QListWidgetItem(CATALOGUE[name].display_name)
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(
                Qt.CheckState.Checked if name in loaded.fallback_chain else Qt.CheckState.Unchecked
            )
            self.fallback_list.addItem(item)
        rows = sum(self.fallback_list.sizeHintForRow(i) for i in range(self.fallback_list.count()))
        self.fallback_list.setFixedHeight(rows + 2 * self.fallback_list.frameWidth() + 2)
        self._sync_fallback_buttons()
        self._on_provider_changed()
        self.provider_tabs.setCurrentWidget(self.sections[loaded.default_provider])
        self._instances = list(loaded.instances)
        self._instance_keys.clear()
        self.instance_list.clear()
        for instance in loaded.instances:
            self._add_instance_item(instance, pending=False)
        self._sync_instance_buttons()
        if loaded.usage is not None:
            self.usage_page.set_values(loaded.usage)
        self.loading_busy.hide()
        if loaded.warnings:
            self._show_error("Some saved values were invalid and were replaced: " + " ".join(loaded.warnings))
        self._set_form_enabled(True)
        self.provider_combo.setFocus()
        for section in self.sections.values():
            section.fetch_models()
        self.loaded.emit()

    def _set_form_enabled(self, enabled: bool) -> None:
        self.pages.setEnabled(enabled)
        self.save_button.setEnabled(enabled)

    # --- reading the form -----------------------------------------------------------------------------------

    def selected_provider(self) -> str:
        return str(self.provider_combo.currentData() or PROVIDER_NAMES[0])

    def fallback_chain(self) -> list[str]:
        chain = []
        for row in range(self.fallback_list.count()):
            item = self.fallback_list.item(row)
            if item.checkState() == Qt.CheckState.Checked:
                chain.append(str(item.data(Qt.ItemDataRole.UserRole)))
        return chain

    def move_fallback(self, step: int) -> None:
        row = self.fallback_list.currentRow()
        target = row + step
        if row < 0 or not 0 <= target < self.fallback_list.count():
            return
        item = self.fallback_list.takeItem(row)
        self.fallback_list.insertItem(target, item)
        self.fallback_list.setCurrentRow(target)

    def _sync_fallback_buttons(self, *_args: object) -> None:
        row = self.fallback_list.currentRow()
        self.fallback_up.setEnabled(row > 0)
        self.fallback_down.setEnabled(0 <= row < self.fallback_list.count() - 1)

    def _on_provider_changed(self, *_args: object) -> None:
        entry = CATALOGUE[self.selected_provider()]
        where = (
            "Prompts are sent to its servers."
            if entry.leaves_machine
            else "Prompts never leave this computer."
        )
        self.provider_hint.setText(f"Every new script is written by {entry.label}. {where}")
        self.provider_combo.setToolTip(entry.dropdown_text)
        section = self.sections.get(entry.name)
        if section is not None and self.is_loaded:
            self.provider_tabs.setCurrentWidget(section)
            for other in self.sections.values():
                if other.key_error.isVisible():
                    other.validate()  # "needs a key" depends on which provider is the default

    def changes(self) -> tuple[dict[str, Any], list[str], dict[str, str | None]]:
        """(settings to write, settings keys to delete, keys to store: provider -> key, None = delete)."""
        loaded = self._loaded
        if loaded is None:
            return {}, [], {}
        to_write: dict[str, Any] = {}
        to_delete: list[str] = []
        keys: dict[str, str | None] = {}
        instances = list(self._instances)
        for name, section in self.sections.items():
            before = section.loaded_values
            now = section.values()
            model = now.model or CATALOGUE[name].default_model
            if model != before.model:
                to_write[setting_key(name, "model")] = model
            if section.is_named_server:  # its name and URL are kept in its entry, not as overrides
                if (now.base_url, now.label) != (before.base_url, before.label):
                    instances = [
                        replace(i, base_url=now.base_url, label=now.label) if i.id == name else i
                        for i in instances
                    ]
                if now.base_url != before.base_url:
                    to_delete.append(setting_key(name, "base_url"))
            elif now.base_url != before.base_url:
                if now.base_url:
                    to_write[setting_key(name, "base_url")] = now.base_url
                else:
                    to_delete.append(setting_key(name, "base_url"))
            if now.limit_enabled != before.limit_enabled:
                to_write[rate_key(name, "enabled")] = now.limit_enabled
            if now.requests_per_minute != before.requests_per_minute:
                to_write[rate_key(name, "requests_per_minute")] = now.requests_per_minute
            if now.seconds_per_request != before.seconds_per_request:
                to_write[rate_key(name, "seconds_per_request")] = now.seconds_per_request or "none"
            if CATALOGUE[name].needs_key and now.key != before.key:
                keys[name] = now.key or None
        if tuple(instances) != loaded.instances:
            to_write[INSTANCES_KEY] = [instance.as_json() for instance in instances]
            kept = {instance.id for instance in instances}
            for removed in (i.id for i in loaded.instances if i.id not in kept):
                keys[removed] = (
                    None  # with its settings (`_write` deletes `provider.<id>.*`, `ratelimit.<id>.*`)
                )
            keys.update(self._instance_keys)
        chain = self.fallback_chain()
        if tuple(chain) != loaded.fallback_chain:
            to_write[FALLBACK_KEY] = chain
        to_write.update(self.usage_page.changes())
        return to_write, to_delete, keys

    # --- saving ---------------------------------------------------------------------------------------------

    def save(self) -> None:
        """Validate; then write (off the GUI thread), apply, confirm and close. Invalid: nothing written."""
        if not self.is_loaded or (self._save_task is not None and not self._save_task.done()):
            return
        self.error_banner.hide()
        first_invalid: QWidget | None = None
        for name, section in self.sections.items():
            widget = section.validate()
            if widget is not None and first_invalid is None:
                first_invalid = widget
                self.provider_tabs.setCurrentWidget(self.sections[name])
        if first_invalid is None and self.usage_page.validate() is not None:
            first_invalid = self.usage_page.price_table
            self.nav.setCurrentRow(1)
        if first_invalid is not None:
            self._show_error("Fix the highlighted field before saving; nothing was saved.")
            first_invalid.setFocus()
            return
        settings, deletions, keys = self.changes()
        provider = self.selected_provider()
        self._save_task = start_task(self._save(provider, settings, deletions, keys), name="settings-save")

    async def _save(
        self, provider: str, settings: dict[str, Any], deletions: list[str], keys: dict[str, str | None]
    ) -> None:
        assert self._loaded is not None
        previous = self._loaded.default_provider
        self.save_button.setEnabled(False)
        self.saving_busy.show()
        try:
            await run_blocking(self._write, provider, settings, deletions, keys)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.warning("[Settings] saving failed: %s", type(error).__name__)
            self.saving_busy.hide()
            self.save_button.setEnabled(True)
            self._show_error(f"Could not save the settings: {_sentence(error)}")
            return
        self.saving_busy.hide()
        try:
            self.service.apply_settings()
        except Exception:
            log.exception("[Settings] applying the saved settings failed")
        label = CATALOGUE[provider].label
        if provider != previous:
            message = f"Provider switched to {label} — all subsequent script generations will use {label}."
        else:
            message = f"Settings saved — script generations use {label}."
        self.saved.emit(message)
        self.accept()

    def _write(
        self, provider: str, settings: dict[str, Any], deletions: list[str], keys: dict[str, str | None]
    ) -> None:
        """Blocking: keys first (the part most likely to fail), then the settings in one transaction."""
        for name, key in keys.items():
            if key:
                self.key_store.set(name, key)
            else:
                self.key_store.delete(name)
        store = self.service.store
        if INSTANCES_KEY in settings and self._loaded is not None:
            kept = {item["id"] for item in settings[INSTANCES_KEY]}
            for gone in (i.id for i in self._loaded.instances if i.id not in kept):
                for prefix in (f"provider.{gone}.", f"ratelimit.{gone}."):
                    deletions = [*deletions, *store.settings_with_prefix(prefix)]
        if settings:
            store.set_settings(settings)
        for key in deletions:
            store.delete_setting(key)
        store.set_default_provider(provider)

    def _show_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_label.setAccessibleName(message)
        self.error_banner.setVisible(bool(message))

    # --- closing --------------------------------------------------------------------------------------------

    @property
    def is_saving(self) -> bool:
        return self._save_task is not None and not self._save_task.done()

    def reject(self) -> None:
        if self.is_saving:  # the write is under way: closing now would hide whether it landed
            return
        super().reject()

    def done(self, result: int) -> None:
        for section in self.sections.values():
            section.cancel_tasks()
        if self._load_task is not None and not self._load_task.done():
            self._load_task.cancel()
        if self.rate_limit_panel is not None:
            self.rate_limit_panel.detach()
        super().done(result)

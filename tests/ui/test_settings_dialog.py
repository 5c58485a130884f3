"""Settings → AI Configuration, on real widgets over a real store and a key store with an in-memory keychain.

Clicks start asyncio tasks (loading, model lists, connection tests, saving), so every test runs with the
`qasync_loop` fixture and waits with `qtbot.waitUntil`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QComboBox,
    QDialog,
    QLineEdit,
    QListWidget,
    QTabWidget,
    QWidget,
)
from pytestqt.qtbot import QtBot

from app.core.catalogue import CATALOGUE
from app.core.keys import KeyStore
from app.core.ratelimit.settings import load_guard_settings
from app.core.service import ScriptService
from app.ui.settings_dialog import SettingsDialog
from tests.ui import limit_states
from tests.ui.settings_fakes import MODELS, FakeSettingsService, auth_failure, make_fake_service

# Obviously fake keys: nothing shaped like a real provider key.
KEY = "test-key-1234"
OTHER_KEY = "test-key-5678"

pytestmark = pytest.mark.usefixtures("qasync_loop")


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[FakeSettingsService, KeyStore]]:
    service, key_store = make_fake_service(tmp_path)
    yield service, key_store
    service.store.close()


W = TypeVar("W", bound=QWidget)


def child(parent: QWidget, kind: type[W], name: str) -> W:
    widget = parent.findChild(kind, name)
    assert widget is not None, f"no {kind.__name__} named {name}"
    return widget


def open_dialog(qtbot: QtBot, service: Any, key_store: Any) -> SettingsDialog:
    dialog = SettingsDialog(service, key_store)
    qtbot.addWidget(dialog)
    dialog.open()
    qtbot.waitUntil(lambda: dialog.is_loaded, timeout=3000)
    return dialog


def wait_models(qtbot: QtBot, dialog: SettingsDialog, provider: str) -> None:
    section = dialog.sections[provider]
    qtbot.waitUntil(
        lambda: section.models_busy.isHidden() and bool(section.models_status.text()), timeout=3000
    )


def set_key(dialog: SettingsDialog, provider: str, key: str) -> None:
    edit = child(dialog, QLineEdit, f"apiKeyEdit_{provider}")
    assert edit is not None
    edit.setText(key)


def saved_messages(dialog: SettingsDialog) -> list[str]:
    messages: list[str] = []
    dialog.saved.connect(messages.append)
    return messages


def save_and_wait(qtbot: QtBot, dialog: SettingsDialog) -> None:
    with qtbot.waitSignal(dialog.finished, timeout=3000):
        dialog.save_button.click()


# --- what it shows ------------------------------------------------------------------------------------------


def test_dialog_identity_and_dropdown_text_come_from_the_catalogue(qtbot: QtBot, setup: Any) -> None:
    dialog = open_dialog(qtbot, *setup)
    assert dialog.objectName() == "settingsDialog"
    assert dialog.windowTitle() == "Settings"
    combo = child(dialog, QComboBox, "providerCombo")
    assert combo is dialog.provider_combo
    texts = [combo.itemText(i) for i in range(combo.count())]
    assert texts == [entry.dropdown_text for entry in CATALOGUE.values()]
    assert texts[2] == "Groq (Cloud) — ultra-fast, free tier with per-minute and daily limits"
    assert combo.currentData() == "ollama"  # the default preference
    for name in CATALOGUE:  # every provider can be configured without switching the default
        assert child(dialog, QComboBox, f"modelCombo_{name}") is not None
    assert child(dialog, QLineEdit, "apiKeyEdit_groq") is not None
    assert child(dialog, QLineEdit, "apiKeyEdit_gemini") is not None
    assert dialog.findChild(QLineEdit, "apiKeyEdit_ollama") is None
    assert child(dialog, QLineEdit, "hostEdit_ollama") is not None
    assert dialog.save_button.objectName() == "saveButton" and dialog.save_button.isDefault()
    assert dialog.rate_limit_panel is None  # the fake service has no state here


def test_the_rate_limit_panel_sits_on_the_page(qtbot: QtBot, tmp_path: Path) -> None:
    state, _clock, _handle = limit_states.showcase()
    service, key_store = make_fake_service(tmp_path, state=state)
    try:
        dialog = open_dialog(qtbot, service, key_store)
        panel = dialog.rate_limit_panel
        assert panel is not None and panel.objectName() == "rateLimitPanel"
        assert not panel.compact  # detailed mode on the settings page
        assert len(panel.cards()) == 3
    finally:
        service.store.close()


def test_stored_values_are_shown_and_the_key_location_is_named(qtbot: QtBot, setup: Any) -> None:
    service, key_store = setup
    service.store.set_default_provider("groq")
    service.store.set_settings(
        {"provider.groq.model": "llama-3.1-8b-instant", "ratelimit.groq.requests_per_minute": 7}
    )
    key_store.set("groq", KEY)
    dialog = open_dialog(qtbot, service, key_store)
    assert dialog.provider_combo.currentData() == "groq"
    section = dialog.sections["groq"]
    assert section.model_combo.currentText() == "llama-3.1-8b-instant"
    assert section.rpm_spin.value() == 7
    assert section.key_field is not None and section.key_field.text() == KEY
    assert section.key_field.line_edit.echoMode() == QLineEdit.EchoMode.Password
    assert section.key_location.text().startswith("Stored in the system keychain")


def test_a_key_from_the_environment_is_named_not_shown(qtbot: QtBot, tmp_path: Path) -> None:
    service, key_store = make_fake_service(tmp_path, env={"GROQ_API_KEY": KEY})
    try:
        dialog = open_dialog(qtbot, service, key_store)
        section = dialog.sections["groq"]
        assert section.key_field is not None and section.key_field.text() == ""
        assert "from the environment (GROQ_API_KEY)" in section.key_location.text()
        assert "GROQ_API_KEY" in section.key_field.line_edit.placeholderText()
    finally:
        service.store.close()


# --- model lists ------------------------------------------------------------------------------------------


def test_model_list_fills_asynchronously_with_a_loading_indicator(qtbot: QtBot, setup: Any) -> None:
    import asyncio

    service, key_store = setup
    service.model_gate = asyncio.Event()
    dialog = open_dialog(qtbot, service, key_store)
    section = dialog.sections["ollama"]
    qtbot.waitUntil(lambda: not section.models_busy.isHidden())
    assert section.models_busy.label.text() == "Loading models…"
    assert section.model_combo.count() == 0
    service.model_gate.set()
    wait_models(qtbot, dialog, "ollama")
    combo = child(dialog, QComboBox, "modelCombo_ollama")
    assert [combo.itemText(i) for i in range(combo.count())] == sorted(MODELS["ollama"])
    assert combo.currentText() == "llama3.2"  # what was typed or saved is kept
    assert section.models_status.text() == "3 models available from Ollama."


def test_a_failed_model_list_shows_the_errors_sentence(qtbot: QtBot, setup: Any) -> None:
    service, key_store = setup
    key_store.set("groq", KEY)
    service.fail_models["groq"] = auth_failure("groq")
    dialog = open_dialog(qtbot, service, key_store)
    wait_models(qtbot, dialog, "groq")
    status = dialog.sections["groq"].models_status.text()
    assert (
        status
        == "Could not load the models: Groq refused the API key. Check it in Settings → AI Configuration."
    )
    assert dialog.sections["groq"].model_combo.count() == 0


def test_without_a_key_no_model_request_is_sent(qtbot: QtBot, setup: Any) -> None:
    service, key_store = setup
    dialog = open_dialog(qtbot, service, key_store)
    wait_models(qtbot, dialog, "ollama")
    assert dialog.sections["gemini"].models_status.text() == "Add an API key to load Gemini's models."
    assert [p for p, _ in service.model_calls] == ["ollama"]


def test_typing_a_key_fetches_the_models_again_once_debounced(qtbot: QtBot, setup: Any) -> None:
    service, key_store = setup
    dialog = open_dialog(qtbot, service, key_store)
    wait_models(qtbot, dialog, "ollama")
    edit = child(dialog, QLineEdit, "apiKeyEdit_groq")
    for i in range(1, len(KEY) + 1):  # keystrokes
        edit.setText(KEY[:i])
    assert [p for p, _ in service.model_calls].count("groq") == 0
    qtbot.waitUntil(lambda: dialog.sections["groq"].model_combo.count() == 3, timeout=3000)
    groq_calls = [s for p, s in service.model_calls if p == "groq"]
    assert len(groq_calls) == 1
    assert groq_calls[0].api_key == KEY  # the form's key, before anything is saved
    assert key_store.get("groq") is None


def test_refresh_fetches_again(qtbot: QtBot, setup: Any) -> None:
    service, key_store = setup
    dialog = open_dialog(qtbot, service, key_store)
    wait_models(qtbot, dialog, "ollama")
    child(dialog, QAbstractButton, "refreshModelsButton_ollama").click()
    qtbot.waitUntil(lambda: [p for p, _ in service.model_calls].count("ollama") == 2)


# --- key field ----------------------------------------------------------------------------------------------


def test_key_show_hide_toggle(qtbot: QtBot, setup: Any) -> None:
    dialog = open_dialog(qtbot, *setup)
    edit = child(dialog, QLineEdit, "apiKeyEdit_groq")
    toggle = child(dialog, QAbstractButton, "showKeyButton_groq")
    edit.setText(KEY)
    assert edit.echoMode() == QLineEdit.EchoMode.Password
    assert toggle.text() == "Show"
    toggle.click()
    assert edit.echoMode() == QLineEdit.EchoMode.Normal
    assert toggle.text() == "Hide" and toggle.accessibleName() == "Hide Groq API key"
    toggle.click()
    assert edit.echoMode() == QLineEdit.EchoMode.Password


# --- saving -------------------------------------------------------------------------------------------------


def test_a_placeholder_key_is_refused_inline_and_nothing_is_written(qtbot: QtBot, setup: Any) -> None:
    service, key_store = setup
    dialog = open_dialog(qtbot, service, key_store)
    messages = saved_messages(dialog)
    dialog.provider_combo.setCurrentIndex(dialog.provider_combo.findData("groq"))
    set_key(dialog, "groq", "your_key_here")
    dialog.save_button.click()
    qtbot.wait(50)
    error = dialog.sections["groq"].key_error
    assert error.isVisible()
    assert "placeholder" in error.text()
    assert dialog.error_banner.isVisible()
    assert dialog.isVisible()
    assert dialog.provider_tabs.currentWidget() is dialog.sections["groq"]
    assert service.store.get_default_provider() == "ollama"
    assert service.store.settings_with_prefix("") == {}
    assert key_store.get("groq") is None
    assert service.applied == 0 and messages == []


def test_a_cloud_default_without_any_key_is_refused(qtbot: QtBot, setup: Any) -> None:
    service, key_store = setup
    dialog = open_dialog(qtbot, service, key_store)
    dialog.provider_combo.setCurrentIndex(dialog.provider_combo.findData("gemini"))
    dialog.save_button.click()
    qtbot.wait(50)
    assert "needs an API key" in dialog.sections["gemini"].key_error.text()
    assert service.store.get_default_provider() == "ollama"


def test_an_invalid_host_is_refused(qtbot: QtBot, setup: Any) -> None:
    service, key_store = setup
    dialog = open_dialog(qtbot, service, key_store)
    child(dialog, QLineEdit, "hostEdit_ollama").setText("localhost:11434")
    dialog.save_button.click()
    qtbot.wait(50)
    assert "must start with http://" in dialog.sections["ollama"].host_error.text()
    assert service.store.settings_with_prefix("") == {}


def test_save_writes_settings_default_and_key_then_confirms(qtbot: QtBot, setup: Any) -> None:
    service, key_store = setup
    dialog = open_dialog(qtbot, service, key_store)
    messages = saved_messages(dialog)
    dialog.provider_combo.setCurrentIndex(dialog.provider_combo.findData("groq"))
    set_key(dialog, "groq", KEY)
    groq = dialog.sections["groq"]
    groq.model_combo.setEditText("llama-3.1-8b-instant")
    groq.rpm_spin.setValue(10)
    groq.spacing_spin.setValue(2.5)
    child(dialog, QLineEdit, "hostEdit_ollama").setText("http://10.0.0.5:11434")
    fallback = child(dialog, QListWidget, "fallbackList")
    gemini_row = next(
        i for i in range(fallback.count()) if fallback.item(i).data(Qt.ItemDataRole.UserRole) == "gemini"
    )
    fallback.item(gemini_row).setCheckState(Qt.CheckState.Checked)

    save_and_wait(qtbot, dialog)

    assert dialog.result() == QDialog.DialogCode.Accepted
    store = service.store
    assert store.get_default_provider() == "groq"
    assert store.get_setting("provider.groq.model") == "llama-3.1-8b-instant"
    assert store.get_setting("provider.ollama.base_url") == "http://10.0.0.5:11434"
    assert store.get_setting("ratelimit.groq.requests_per_minute") == 10
    assert store.get_setting("ratelimit.groq.seconds_per_request") == 2.5
    assert store.get_setting("ratelimit.fallback_chain") == ["gemini"]
    assert (
        store.get_setting("ratelimit.gemini.requests_per_minute") is None
    )  # unchanged: not frozen into SQLite
    assert key_store.get("groq") == (KEY, "keychain")
    assert all(KEY not in str(v) for v in store.settings_with_prefix("").values())  # never in SQLite
    assert service.applied == 1
    assert messages == ["Provider switched to Groq — all subsequent script generations will use Groq."]


def test_what_the_dialog_saves_is_what_the_core_reads(qtbot: QtBot, setup: Any) -> None:
    service, key_store = setup
    dialog = open_dialog(qtbot, service, key_store)
    groq = dialog.sections["groq"]
    set_key(dialog, "groq", KEY)
    groq.model_combo.setEditText("llama-3.1-8b-instant")
    groq.limit_check.setChecked(False)
    ollama = dialog.sections["ollama"]
    ollama.limit_check.setChecked(True)
    ollama.rpm_spin.setValue(30)
    ollama.spacing_spin.setValue(0)
    save_and_wait(qtbot, dialog)

    core = ScriptService(service.store, {}, key_store=key_store)
    settings = core.provider_settings("groq")
    assert (settings.model, settings.api_key, settings.key_source) == (
        "llama-3.1-8b-instant",
        KEY,
        "keychain",
    )
    guards = load_guard_settings({}, service.store)
    assert guards.warnings == ()
    assert guards.limit_for("groq").enabled is False
    assert guards.limit_for("ollama").enabled is True
    assert guards.limit_for("ollama").requests_per_minute == 30
    assert guards.limit_for("ollama").seconds_per_request is None
    assert guards.fallback_chain == ()


def test_saved_values_come_back_in_a_new_dialog(qtbot: QtBot, setup: Any) -> None:
    service, key_store = setup
    dialog = open_dialog(qtbot, service, key_store)
    gemini = dialog.sections["gemini"]
    set_key(dialog, "gemini", KEY)
    gemini.spacing_spin.setValue(4)
    fallback = dialog.fallback_list
    for row in range(fallback.count()):
        fallback.item(row).setCheckState(Qt.CheckState.Checked)
    fallback.setCurrentRow(2)  # groq, last: move it first
    dialog.fallback_up.click()
    dialog.fallback_up.click()
    chain = dialog.fallback_chain()
    assert chain[0] == "groq"
    save_and_wait(qtbot, dialog)

    again = open_dialog(qtbot, service, key_store)
    assert again.sections["gemini"].spacing_spin.value() == 4
    key_field = again.sections["gemini"].key_field
    assert key_field is not None and key_field.text() == KEY
    assert again.fallback_chain() == chain
    messages = saved_messages(again)
    save_and_wait(qtbot, again)  # nothing changed: same provider
    assert messages == ["Settings saved — script generations use Ollama."]


def test_emptying_a_key_deletes_the_stored_one(qtbot: QtBot, setup: Any) -> None:
    service, key_store = setup
    key_store.set("gemini", KEY)
    key_store.set("groq", OTHER_KEY)
    dialog = open_dialog(qtbot, service, key_store)
    set_key(dialog, "gemini", "")
    assert "will be deleted" in dialog.sections["gemini"].key_location.text()
    save_and_wait(qtbot, dialog)
    assert key_store.get("gemini") is None
    assert key_store.get("groq") == (OTHER_KEY, "keychain")  # untouched


def test_cancel_and_escape_write_nothing(qtbot: QtBot, setup: Any) -> None:
    service, key_store = setup
    for close in ("button", "escape"):
        dialog = open_dialog(qtbot, service, key_store)
        messages = saved_messages(dialog)
        dialog.provider_combo.setCurrentIndex(dialog.provider_combo.findData("groq"))
        set_key(dialog, "groq", KEY)
        dialog.sections["groq"].rpm_spin.setValue(99)
        with qtbot.waitSignal(dialog.finished, timeout=2000):
            if close == "button":
                dialog.cancel_button.click()
            else:
                qtbot.keyClick(dialog, Qt.Key.Key_Escape)
        assert dialog.result() == QDialog.DialogCode.Rejected
        assert service.store.get_default_provider() == "ollama"
        assert service.store.settings_with_prefix("") == {}
        assert key_store.get("groq") is None
        assert service.applied == 0 and messages == []


def test_ctrl_s_saves(qtbot: QtBot, setup: Any) -> None:
    service, key_store = setup
    dialog = open_dialog(qtbot, service, key_store)
    dialog.activateWindow()
    dialog.sections["ollama"].rpm_spin.setValue(12)
    with qtbot.waitSignal(dialog.finished, timeout=3000):
        qtbot.keyClick(dialog, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert service.store.get_setting("ratelimit.ollama.requests_per_minute") == 12


# --- connection test --------------------------------------------------------------------------------------


def test_test_connection_shows_latency_and_groq_limits(qtbot: QtBot, setup: Any) -> None:
    service, key_store = setup
    dialog = open_dialog(qtbot, service, key_store)
    set_key(dialog, "groq", KEY)
    child(dialog, QAbstractButton, "testButton_groq").click()
    result = dialog.sections["groq"].test_result
    qtbot.waitUntil(lambda: not result.isHidden(), timeout=3000)
    assert result.text().startswith("Connected in 212 ms — key accepted.")
    assert result.text().splitlines()[1:] == [
        "Groq reports:",
        "• 13,990 of 14,400 requests per day left",
        "• 5,800 of 6,000 tokens per minute left",
    ]
    provider, settings = service.health_calls[-1]
    assert provider == "groq" and settings.api_key == KEY  # the form's values, unsaved
    assert key_store.get("groq") is None


def test_test_connection_reports_a_refused_key(qtbot: QtBot, setup: Any) -> None:
    from app.core.types import HealthReport

    service, key_store = setup
    service.health_report = lambda p, s: HealthReport(
        p, s.model, True, False, 80.0, "Groq refused the API key."
    )
    dialog = open_dialog(qtbot, service, key_store)
    set_key(dialog, "groq", KEY)
    dialog.sections["groq"].test_button.click()
    result = dialog.sections["groq"].test_result
    qtbot.waitUntil(lambda: not result.isHidden(), timeout=3000)
    assert result.text() == "Groq answered but refused the key. Groq refused the API key."


# --- the controls themselves ----------------------------------------------------------------------------


def test_limit_controls_cannot_produce_invalid_values(qtbot: QtBot, setup: Any) -> None:
    dialog = open_dialog(qtbot, *setup)
    section = dialog.sections["groq"]
    assert (section.rpm_spin.minimum(), section.rpm_spin.maximum()) == (1, 1000)
    assert (section.spacing_spin.minimum(), section.spacing_spin.maximum()) == (0.0, 3600.0)
    section.rpm_spin.setValue(0)
    assert section.rpm_spin.value() == 1
    section.spacing_spin.setValue(0)
    assert section.spacing_spin.text() == "None"
    section.limit_check.setChecked(False)
    assert not section.rpm_spin.isEnabled() and not section.spacing_spin.isEnabled()


def test_every_interactive_control_has_an_accessible_name(qtbot: QtBot, tmp_path: Path) -> None:
    state, _clock, _handle = limit_states.showcase()
    service, key_store = make_fake_service(tmp_path, state=state)
    try:
        dialog = open_dialog(qtbot, service, key_store)
        kinds = (QAbstractButton, QLineEdit, QComboBox, QAbstractSpinBox, QListWidget, QTabWidget)
        controls = [w for w in dialog.findChildren(QWidget) if isinstance(w, kinds)]
        controls = [w for w in controls if not _internal(w)]
        assert len(controls) > 30
        missing = [
            f"{type(w).__name__}:{w.objectName()} in {type(w.parentWidget()).__name__}"
            for w in controls
            if not w.accessibleName().strip()
        ]
        assert missing == []
    finally:
        service.store.close()


def _internal(widget: QWidget) -> bool:
    """Qt's own sub-widgets (a spin box's line edit, a tab bar's scroll buttons, a combo's edit, a line edit's
    clear button) are named by their owner."""
    parent = widget.parentWidget()
    return (
        isinstance(parent, QAbstractSpinBox | QComboBox | QLineEdit)
        or type(parent).__name__ == "QTabBar"
        or (type(widget).__name__ in ("QTabBar", "QToolButton") and isinstance(parent, QTabWidget))
    )


def test_mnemonics_point_at_their_fields(qtbot: QtBot, setup: Any) -> None:
    from PySide6.QtWidgets import QLabel

    dialog = open_dialog(qtbot, *setup)
    buddies = {
        label.text(): label.buddy() for label in dialog.findChildren(QLabel) if label.buddy() is not None
    }
    assert buddies["&Provider:"] is dialog.provider_combo
    assert any(text == "API &key:" for text in buddies)
    assert any(text == "&Model:" for text in buddies)


def test_with_the_real_service_saving_takes_effect_at_once(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dialog against the real ScriptService (its store, state and apply_settings); only the network calls
    are replaced."""
    from app.core.types import ModelInfo
    from app.store import Store
    from tests.ui.settings_fakes import MemoryKeyring

    store = Store.open(tmp_path / "scriptwright.db")
    key_store = KeyStore(tmp_path, backend=MemoryKeyring())
    service = ScriptService(store, {}, key_store=key_store)

    async def list_models(provider: str, settings: Any = None) -> list[ModelInfo]:
        return [ModelInfo(id=m) for m in MODELS[provider]]

    monkeypatch.setattr(service, "list_models", list_models)
    try:
        dialog = open_dialog(qtbot, service, key_store)
        assert dialog.rate_limit_panel is not None
        assert {c.key[0] for c in dialog.rate_limit_panel.cards()} == set(CATALOGUE)
        dialog.provider_combo.setCurrentIndex(dialog.provider_combo.findData("groq"))
        set_key(dialog, "groq", KEY)
        groq = dialog.sections["groq"]
        groq.model_combo.setEditText("llama-3.1-8b-instant")
        groq.rpm_spin.setValue(10)
        messages = saved_messages(dialog)
        save_and_wait(qtbot, dialog)

        assert messages == ["Provider switched to Groq — all subsequent script generations will use Groq."]
        assert service.current_provider() == "groq"
        settings = service.provider_settings("groq")
        assert (settings.model, settings.api_key) == ("llama-3.1-8b-instant", KEY)
        assert service.guards.settings.limit_for("groq").requests_per_minute == 10
        view = service.state.view("groq", "llama-3.1-8b-instant")
        assert view.rpm_limit == 10  # the panel's row for the new model already uses the new limit
    finally:
        store.close()


def test_an_openai_compatible_server_is_added_then_removed(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Add "LM Studio" in the form, save; it is then a provider with its own tab, dropdown entry, fallback
    item and panel row; remove it, save; it is gone with its key and its settings."""
    from app.core.catalogue import INSTANCES_KEY, provider_names
    from app.core.types import ModelInfo
    from app.store import Store
    from tests.ui.settings_fakes import MemoryKeyring

    ident = "openai:lm-studio"
    store = Store.open(tmp_path / "scriptwright.db")
    key_store = KeyStore(tmp_path, backend=MemoryKeyring())
    service = ScriptService(store, {}, key_store=key_store)

    async def list_models(provider: str, settings: Any = None) -> list[ModelInfo]:
        return [ModelInfo(id=m) for m in MODELS.get(provider, ["qwen2.5-7b"])]

    monkeypatch.setattr(service, "list_models", list_models)
    try:
        dialog = open_dialog(qtbot, service, key_store)
        assert ident not in dialog.sections
        add = child(dialog, QAbstractButton, "addInstanceButton")
        child(dialog, QLineEdit, "instanceNameEdit").setText("LM Studio")
        child(dialog, QLineEdit, "instanceUrlEdit").setText("localhost:1234")  # no scheme: refused
        child(dialog, QLineEdit, "instanceModelEdit").setText("qwen2.5-7b")
        add.click()
        assert dialog.instances() == []
        assert "http://" in child(dialog, QWidget, "instanceError").accessibleName()
        child(dialog, QLineEdit, "instanceUrlEdit").setText("http://127.0.0.1:1234/v1")
        child(dialog, QLineEdit, "instanceKeyEdit").setText(KEY)
        add.click()
        assert [i.id for i in dialog.instances()] == [ident]
        assert child(dialog, QListWidget, "instanceList").count() == 1
        save_and_wait(qtbot, dialog)

        saved = store.get_setting(INSTANCES_KEY)
        assert saved == [
            {
                "id": ident,
                "label": "LM Studio",
                "base_url": "http://127.0.0.1:1234/v1",
                "model": "qwen2.5-7b",
                "needs_key": True,
            }
        ]
        assert key_store.get(ident) == (KEY, "keychain")
        assert ident in provider_names()
        settings = service.provider_settings(ident)
        assert (settings.model, settings.api_key, settings.base_url) == (
            "qwen2.5-7b",
            KEY,
            "http://127.0.0.1:1234/v1",
        )
        assert any(view.provider == ident for view in service.state.snapshot())

        # Reopened: a provider like the others, whose limit is set in its own tab.
        dialog = open_dialog(qtbot, service, key_store)
        assert dialog.provider_combo.findData(ident) >= 0
        section = dialog.sections[ident]
        assert dialog.provider_tabs.indexOf(section) >= 0
        fallback = dialog.fallback_list
        assert ident in [fallback.item(i).data(Qt.ItemDataRole.UserRole) for i in range(fallback.count())]
        section.limit_check.setChecked(True)
        section.rpm_spin.setValue(7)
        save_and_wait(qtbot, dialog)
        assert store.get_setting(f"ratelimit.{ident}.requests_per_minute") == 7
        assert service.guards.settings.limit_for(ident).requests_per_minute == 7

        # Removed: gone from the form at once, and from the store, key store and catalogue on save.
        dialog = open_dialog(qtbot, service, key_store)
        dialog.provider_combo.setCurrentIndex(dialog.provider_combo.findData(ident))
        instance_list = child(dialog, QListWidget, "instanceList")
        instance_list.setCurrentRow(0)
        child(dialog, QAbstractButton, "removeInstanceButton").click()
        assert ident not in dialog.sections and dialog.provider_combo.findData(ident) < 0
        assert dialog.selected_provider() != ident
        save_and_wait(qtbot, dialog)
        assert store.get_setting(INSTANCES_KEY) == []
        assert key_store.get(ident) is None
        assert store.settings_with_prefix(f"ratelimit.{ident}.") == {}
        assert ident not in provider_names()
        assert not any(view.provider == ident for view in service.state.snapshot())
    finally:
        store.close()


def service_with_servers(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    entries: list[dict[str, Any]],
    asked_urls: list[str | None] | None = None,
) -> tuple[Any, KeyStore, ScriptService]:
    """A store holding these named servers, an in-memory keychain, and a service whose model lists answer
    at once (noting the base URL each was asked from)."""
    from app.core.catalogue import INSTANCES_KEY
    from app.core.types import ModelInfo
    from app.store import Store
    from tests.ui.settings_fakes import MemoryKeyring

    store = Store.open(tmp_path / "scriptwright.db")
    store.set_setting(INSTANCES_KEY, entries)
    key_store = KeyStore(tmp_path, backend=MemoryKeyring())
    service = ScriptService(store, {}, key_store=key_store)

    async def list_models(provider: str, settings: Any = None) -> list[ModelInfo]:
        if asked_urls is not None:
            asked_urls.append(settings.base_url if settings is not None else None)
        return [ModelInfo(id=str(entries[0]["model"]))]

    monkeypatch.setattr(service, "list_models", list_models)
    return store, key_store, service


def test_a_named_server_base_url_is_edited_in_its_own_tab(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server's base URL shows in its tab; empty or without a scheme it is refused with nothing saved; a new
    URL is written into the server's entry (not as an override) and the next request uses it."""
    from app.core.catalogue import INSTANCES_KEY

    ident = "openai:lm-studio"
    entry = {
        "id": ident,
        "label": "LM Studio",
        "base_url": "http://127.0.0.1:1234/v1",
        "model": "qwen2.5-7b",
        "needs_key": False,
    }
    seen_urls: list[str | None] = []
    store, key_store, service = service_with_servers(tmp_path, monkeypatch, [entry], seen_urls)
    try:
        dialog = open_dialog(qtbot, service, key_store)
        host = child(dialog, QLineEdit, f"hostEdit_{ident}")
        assert host.text() == "http://127.0.0.1:1234/v1"
        assert host.accessibleName() == "LM Studio base URL"

        host.setText("")
        dialog.save_button.click()
        error = child(dialog, QWidget, f"hostError_{ident}")
        assert "base URL" in error.accessibleName() and dialog.isVisible()
        host.setText("192.168.1.20:1234/v1")
        dialog.save_button.click()
        assert "http://" in error.accessibleName() and dialog.isVisible()
        assert store.get_setting(INSTANCES_KEY) == [entry]  # nothing written

        host.setText("http://192.168.1.20:1234/v1")
        qtbot.waitUntil(lambda: "http://192.168.1.20:1234/v1" in seen_urls, timeout=3000)  # models re-fetched
        save_and_wait(qtbot, dialog)
        assert store.get_setting(INSTANCES_KEY) == [{**entry, "base_url": "http://192.168.1.20:1234/v1"}]
        assert store.settings_with_prefix(f"provider.{ident}.base_url") == {}
        assert service.provider_settings(ident).base_url == "http://192.168.1.20:1234/v1"

        reopened = open_dialog(qtbot, service, key_store)
        assert child(reopened, QLineEdit, f"hostEdit_{ident}").text() == "http://192.168.1.20:1234/v1"
        instance_list = child(reopened, QListWidget, "instanceList")
        assert "192.168.1.20" in instance_list.item(0).text()
    finally:
        store.close()


def test_a_named_server_is_renamed_in_its_own_tab_and_keeps_its_id_settings_and_key(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.core.catalogue import CATALOGUE, INSTANCES_KEY

    ident, other = "openai:lm-studio", "openai:openrouter"
    entries: list[dict[str, Any]] = [
        {
            "id": ident,
            "label": "LM Studio",
            "base_url": "http://127.0.0.1:1234/v1",
            "model": "m",
            "needs_key": True,
        },
        {"id": other, "label": "OpenRouter", "base_url": "https://openrouter.ai/api/v1", "model": "m"},
    ]
    store, key_store, service = service_with_servers(tmp_path, monkeypatch, entries)
    store.set_setting(f"ratelimit.{ident}.requests_per_minute", 7)
    key_store.set(ident, KEY)
    try:
        dialog = open_dialog(qtbot, service, key_store)
        name = child(dialog, QLineEdit, f"nameEdit_{ident}")
        assert name.text() == "LM Studio"
        error = child(dialog, QWidget, f"nameError_{ident}")
        for refused, said in (("", "name"), ("openrouter", "already")):
            name.setText(refused)
            dialog.save_button.click()
            assert said in error.accessibleName() and dialog.isVisible()
        assert [e["label"] for e in store.get_setting(INSTANCES_KEY)] == ["LM Studio", "OpenRouter"]

        name.setText("Studio on the laptop")
        save_and_wait(qtbot, dialog)
        saved = store.get_setting(INSTANCES_KEY)
        assert [(e["id"], e["label"]) for e in saved] == [
            (ident, "Studio on the laptop"),
            (other, "OpenRouter"),
        ]
        assert CATALOGUE[ident].label == "Studio on the laptop"  # the lists and the panel follow
        assert store.get_setting(f"ratelimit.{ident}.requests_per_minute") == 7
        assert key_store.get(ident) == (KEY, "keychain")
        reopened = open_dialog(qtbot, service, key_store)
        index = reopened.provider_tabs.indexOf(reopened.sections[ident])
        assert reopened.provider_tabs.tabText(index).replace("&", "") == "Studio on the laptop"
    finally:
        store.close()

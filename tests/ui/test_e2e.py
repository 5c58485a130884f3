"""End to end: the real window, service and store and the unmodified SDKs, against the provider emulator.

Each test builds the app the way `scriptwright` does (`build_context` over a data folder), but with the
emulator's URLs and keys in the environment and the file key store instead of the system keychain.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QComboBox, QDialog, QMessageBox, QPushButton

from app.ui.app_context import AppContext, build_context
from app.ui.main_window import MainWindow
from app.ui.tasks import run_blocking
from tests.emulator.emulator import Emulator
from tests.emulator.scripting import Fault

from .window_fakes import wait_until

GROQ_MODEL = "llama-3.3-70b-versatile"


def app_env(emu: Emulator, data_dir: Path, **extra: str) -> dict[str, str]:
    """What the app under test sees: the emulator for all three providers, no local limits unless asked."""
    env = {
        "GROQ_API_KEY": emu.groq_key,
        "GROQ_BASE_URL": emu.url,
        "GEMINI_API_KEY": emu.gemini_key,
        "GOOGLE_GEMINI_BASE_URL": emu.url,
        "OLLAMA_HOST": emu.url,
        "SCRIPTWRIGHT_DATA_DIR": str(data_dir),
        "GROQ_RATE_LIMIT_ENABLED": "false",
        "GEMINI_RATE_LIMIT_ENABLED": "false",
        "OLLAMA_RATE_LIMIT_ENABLED": "false",
    }
    env.update(extra)
    return env


@contextlib.asynccontextmanager
async def running_app(env: dict[str, str], data_dir: Path) -> AsyncIterator[tuple[MainWindow, AppContext]]:
    """The window over a freshly built context (store, key store, service), shut down like the app does."""
    context = await run_blocking(build_context, env, data_dir=data_dir, use_keychain=False)
    window = MainWindow(
        context.service, key_store=context.key_store, settings_path=data_dir / "window.ini", data_dir=data_dir
    )
    window.show()
    try:
        # Ready: personas listed and the provider read (the badge shows once the window knows which).
        await wait_until(lambda: window.persona_combo.count() > 0 and window.badge.isVisible(), timeout=10)
        yield window, context
    finally:
        window.close()
        await window.wait_idle()
        window.deleteLater()
        await context.aclose()


async def generate(window: MainWindow, topic: str, timeout: float = 20.0) -> Any:
    window.topic_edit.setText(topic)
    window.length_unit.setCurrentIndex(window.length_unit.findData("words"))
    window.length_spin.setValue(150)
    outcomes: list[Any] = []
    window.generation_finished.connect(outcomes.append)
    QTest.mouseClick(window.generate_button, Qt.MouseButton.LeftButton)
    await wait_until(lambda: bool(outcomes), timeout=timeout)
    window.generation_finished.disconnect(outcomes.append)
    return outcomes[0]


def no_message_box_shown() -> bool:
    return not any(isinstance(w, QMessageBox) and w.isVisible() for w in QApplication.topLevelWidgets())


async def switch_provider_in_settings(window: MainWindow, provider: str) -> str:
    dialog: Any = window.open_settings()
    assert isinstance(dialog, QDialog) and dialog.objectName() == "settingsDialog"
    await wait_until(lambda: getattr(dialog, "is_loaded", True), timeout=10)
    messages: list[str] = []
    dialog.saved.connect(messages.append)
    combo = dialog.findChild(QComboBox, "providerCombo")
    assert combo is not None
    combo.setCurrentIndex(combo.findData(provider))
    save = dialog.findChild(QPushButton, "saveButton")
    assert save is not None
    QTest.mouseClick(save, Qt.MouseButton.LeftButton)
    await wait_until(lambda: bool(messages), timeout=10)
    await wait_until(lambda: window.provider == provider, timeout=5)
    return messages[0]


async def test_a_switch_to_groq_in_settings_then_generate(emulator: Emulator, tmp_path: Path) -> None:
    async with running_app(app_env(emulator, tmp_path), tmp_path) as (window, _context):
        assert window.provider == "ollama"
        assert window.badge.text().startswith("Powered by Ollama")
        message = await switch_provider_in_settings(window, "groq")
        assert "Groq" in message
        assert "Groq" in window.status_text()
        outcome = await generate(window, "Why octopuses are clever")
        assert outcome is not None and outcome.status == "complete", outcome
        assert emulator.requests_for("groq", "/chat/completions")
        assert not emulator.requests_for("ollama", "/api/chat")
        assert window.badge.text().startswith("Powered by Groq")
        assert window.script_view.toPlainText() == outcome.text != ""


async def test_b_a_restart_keeps_groq_selected(emulator: Emulator, tmp_path: Path) -> None:
    env = app_env(emulator, tmp_path)
    async with running_app(env, tmp_path) as (window, _context):
        await switch_provider_in_settings(window, "groq")
    async with running_app(env, tmp_path) as (window, _context):  # a new process would do the same
        await wait_until(lambda: window.provider == "groq", timeout=5)
        assert window.provider_status.text().startswith("Groq")
        assert window.badge.text().startswith("Powered by Groq")
        dialog = window.open_settings()
        await wait_until(lambda: getattr(dialog, "is_loaded", True), timeout=10)
        combo = dialog.findChild(QComboBox, "providerCombo")
        assert combo is not None and combo.currentData() == "groq"
        dialog.close()


async def test_c_groq_429_counts_down_then_completes(emulator: Emulator, tmp_path: Path) -> None:
    emulator.queue("groq", Fault.rate_limit(retry_after=3, window="rpm"))
    env = app_env(emulator, tmp_path, LLM_PROVIDER="groq")
    async with running_app(env, tmp_path) as (window, _context):
        seen: list[str] = []
        task = asyncio.ensure_future(generate(window, "Patience", timeout=30))

        def waiting_text() -> str | None:
            text = window.provider_status.text()
            if "waiting" in text and (not seen or seen[-1] != text):
                seen.append(text)
            return text if "waiting" in text else None

        await wait_until(lambda: waiting_text() is not None, timeout=10)
        panel = window.rate_limit_panel
        assert panel is not None and panel.isVisible()

        def panel_countdown() -> str:
            labels = panel.findChildren(type(window.status_message), "waitLabel")
            return next((w.text() for w in labels if w.isVisible() and w.text()), "")

        await wait_until(lambda: bool(panel_countdown()), timeout=3)
        assert any(ch.isdigit() for ch in panel_countdown()), panel_countdown()
        while not task.done():
            waiting_text()
            await asyncio.sleep(0.05)
        outcome = task.result()
        assert outcome.status == "complete", outcome
        assert outcome.attempts >= 2
        assert [int(t.split("waiting ")[1].split(" ")[0]) for t in seen][:3] in ([3, 2, 1], [2, 1], [3, 2])
        assert "waiting" not in window.provider_status.text()
        assert len(emulator.requests_for("groq", "/chat/completions")) == 2


async def test_d_stop_cancels_upstream_and_keeps_the_partial_script(
    emulator: Emulator, tmp_path: Path
) -> None:
    emulator.token_rate = 20.0  # slow enough to stop mid-stream
    env = app_env(emulator, tmp_path, LLM_PROVIDER="groq")
    async with running_app(env, tmp_path) as (window, context):
        window.topic_edit.setText("A slow one")
        task = window.generate()
        assert task is not None
        await wait_until(lambda: window.script_view.words.count >= 3, timeout=15)
        QTest.keyClick(window, Qt.Key.Key_Escape)  # the Stop shortcut
        if window.is_generating:
            window.stop_action.trigger()
        await asyncio.wait([task], timeout=10)
        disconnected = await run_blocking(emulator.wait_for_disconnect, 5.0)
        assert disconnected is not None, "the emulator saw the client hang up"
        partial = window.script_view.toPlainText()
        assert partial and partial in emulator.reply_text
        await wait_until(lambda: [r.status for r in window.history.records()] == ["cancelled"], timeout=5)
        record = window.history.records()[0]
        assert record.text == partial
        assert "Stopped" in window.banner_text()
        stored = context.store.get_script(record.id)
        assert stored is not None and stored.status == "cancelled"


async def test_e_bad_key_is_actionable_in_the_window_and_status_bar(
    emulator: Emulator, tmp_path: Path
) -> None:
    env = app_env(emulator, tmp_path, LLM_PROVIDER="groq", GROQ_API_KEY="not-the-emulator-key")
    async with running_app(env, tmp_path) as (window, _context):
        outcome = await generate(window, "Keys matter")
        assert outcome.status == "failed" and outcome.error is not None
        assert outcome.error.code.value == "AUTHENTICATION_FAILED"
        assert "Groq" in window.banner_text()
        assert window.status_text() == "Groq rejected the API key — open Settings to fix it"
        assert window.status_action.isVisible() and window.status_action.text() == "Open Settings"
        assert "Traceback" not in window.banner_text() + window.status_text()
        assert no_message_box_shown()
        QTest.mouseClick(window.status_action, Qt.MouseButton.LeftButton)
        assert window.settings_dialog is not None and window.settings_dialog.isVisible()
        window.settings_dialog.close()


async def test_f_fallback_once_to_gemini_when_groq_daily_quota_is_used_up(
    emulator: Emulator, tmp_path: Path
) -> None:
    emulator.queue("groq", Fault.rate_limit(window="rpd"))
    env = app_env(emulator, tmp_path, LLM_PROVIDER="groq", SCRIPTWRIGHT_FALLBACK_CHAIN="groq,gemini")
    async with running_app(env, tmp_path) as (window, _context):
        task = asyncio.ensure_future(generate(window, "Plan B", timeout=30))
        await wait_until(
            lambda: window.consent_dialog is not None and window.consent_dialog.isVisible(), timeout=15
        )
        dialog = window.consent_dialog
        assert dialog.question.text() == "Groq's daily limit is reached. Use Gemini for this script?"
        QTest.mouseClick(dialog.once_button, Qt.MouseButton.LeftButton)
        outcome = await task
        assert outcome.status == "complete", outcome
        assert outcome.provider == "gemini" and outcome.fallback_from == "groq"
        assert window.badge.text().startswith("Powered by Gemini")
        assert emulator.requests_for("gemini")
        assert "Groq couldn't write this one" in window.banner_text()


@pytest.mark.parametrize("answer", ["cancel"])
async def test_f2_fallback_cancelled_leaves_an_actionable_failure(
    emulator: Emulator, tmp_path: Path, answer: str
) -> None:
    emulator.queue("groq", Fault.rate_limit(window="rpd"))
    env = app_env(emulator, tmp_path, LLM_PROVIDER="groq", SCRIPTWRIGHT_FALLBACK_CHAIN="groq,gemini")
    async with running_app(env, tmp_path) as (window, _context):
        task = asyncio.ensure_future(generate(window, "No plan B", timeout=30))
        await wait_until(
            lambda: window.consent_dialog is not None and window.consent_dialog.isVisible(), timeout=15
        )
        QTest.mouseClick(window.consent_dialog.cancel_button, Qt.MouseButton.LeftButton)
        outcome = await task
        assert outcome.status in ("failed", "cancelled")
        assert not emulator.requests_for("gemini", "generateContent")
        assert window.badge.text().startswith("Powered by Groq")
        assert no_message_box_shown()

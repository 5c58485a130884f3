"""The main window against a fake service over a real store: streaming, stop, errors, consent, history, shell
bits."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QGuiApplication, QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialog, QFileDialog, QLabel, QMessageBox, QPushButton

from app.core.errors import ErrorCode, LLMProviderError, describe_wait
from app.store import Store
from app.ui import theme
from app.ui.history import script_to_markdown, script_to_text, suggested_filename, when_text
from app.ui.main_window import MainWindow
from app.ui.script_view import FLUSH_INTERVAL_MS, ScriptStats, ScriptView, WordCounter, spoken_duration
from app.ui.status_texts import ProviderState, actionable_error, provider_state

from . import limit_states
from .window_fakes import FakeService, open_window, wait_until


def seed(store: Store, topic: str, text: str, status: str = "complete", provider: str = "groq") -> int:
    persona = store.default_persona()
    script_id = store.create_script(topic, persona, provider, "model-x", 300)
    store.finish_script(script_id, text=text, status=status, provider=provider, model="model-x")  # type: ignore[arg-type]
    return script_id


# --- layout and names ---------------------------------------------------------------------------------------


async def test_stable_object_names_and_initial_state(window: MainWindow) -> None:
    for name in (
        "topicEdit", "personaCombo", "generateButton", "stopButton", "scriptView", "poweredByBadge",
        "historyList", "historySearch", "statsLabel", "targetLengthSpin", "targetUnitCombo", "rateLimitDock",
        "historyDock", "providerStatusLabel",
    ):  # fmt: skip
        assert window.findChild(QObject, name) is not None, name
    assert window.objectName() == "mainWindow"
    assert window.focusWidget() is window.topic_edit
    assert "about" in window.topic_edit.placeholderText().lower()
    assert window.script_view.isReadOnly()
    assert window.generate_button.isEnabled()
    assert not window.stop_button.isEnabled()
    assert window.badge.text() == "Powered by Groq · llama-3.3-70b-versatile"


async def test_personas_loaded_with_the_default_preselected(window: MainWindow, store: Store) -> None:
    names = [window.persona_combo.itemText(i) for i in range(window.persona_combo.count())]
    assert names == [p.name for p in store.list_personas()]
    assert window.persona_combo.currentData() == store.default_persona().id


async def test_target_length_in_minutes_or_words(window: MainWindow) -> None:
    assert window.length_unit.currentData() == "minutes"
    window.length_spin.setValue(4)
    assert window.target_words() == 600
    window.length_unit.setCurrentIndex(window.length_unit.findData("words"))
    assert window.length_spin.value() == 600
    assert window.target_words() == 600
    assert "min spoken" in window.length_hint.text()
    window.length_spin.setValue(0)
    assert window.target_words() is None


async def test_menus_and_shortcuts(window: MainWindow) -> None:
    menus = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert menus == ["File", "Edit", "View", "Settings", "Help"]
    assert QKeySequence("Ctrl+Return") in window.generate_action.shortcuts()
    assert window.stop_action.shortcut() == QKeySequence("Esc")
    assert window.quit_action.shortcut() == QKeySequence("Ctrl+Q")
    assert window.settings_action.shortcut() == QKeySequence("Ctrl+,")
    assert window.find_action.shortcut() == QKeySequence("Ctrl+F")
    assert window.new_action.shortcut() == QKeySequence("Ctrl+N")
    window.rate_panel_action.trigger()
    assert window.rate_dock.isHidden()
    window.rate_panel_action.trigger()
    assert not window.rate_dock.isHidden()
    window.history_action.trigger()
    assert window.history_dock.isHidden()


# --- generating ---------------------------------------------------------------------------------------------


async def test_generate_streams_saves_and_badges(
    window: MainWindow, service: FakeService, store: Store
) -> None:
    window.topic_edit.setText("Why octopuses are clever")
    window.length_spin.setValue(2)
    QTest.mouseClick(window.generate_button, Qt.MouseButton.LeftButton)
    assert window.is_generating
    assert window.stop_button.isEnabled() and not window.generate_button.isEnabled()
    await wait_until(lambda: not window.is_generating)
    assert window.script_view.toPlainText() == "Hello creators, this is a script."
    request = service.requests[-1]
    assert request.topic == "Why octopuses are clever"
    assert request.target_words == 300
    assert request.persona_id == store.default_persona().id
    assert window.badge.text() == "Powered by Groq · llama-3.3-70b-versatile"
    stats = window.stats_line.full_text()
    assert "6 words" in stats and "spoken" in stats and "tokens" in stats and "first token" in stats
    await wait_until(lambda: len(window.history.records()) == 1)
    assert window.history.current_record() is not None
    assert window.current_record is not None and window.current_record.status == "complete"
    assert "Saved" in window.status_text()


async def test_a_script_the_database_refuses_is_said_and_stays_on_screen(
    window: MainWindow, service: FakeService
) -> None:
    from app.store import StoreError

    service.save_error = StoreError("The disk is full.")
    window.topic_edit.setText("Tides")
    window.generate()
    await wait_until(lambda: not window.is_generating)
    await wait_until(lambda: "could not be saved" in window.status_text())
    assert window.script_view.toPlainText() == "Hello creators, this is a script."  # nothing lost
    assert "The disk is full." in window.banner_text() and "Ctrl+Shift+C" in window.banner_text()
    assert window.current_record is None


async def test_generate_needs_a_topic(window: MainWindow, service: FakeService) -> None:
    assert window.generate() is None
    assert "Type what the video is about" in window.status_text()
    assert service.requests == []


async def test_ctrl_return_generates(window: MainWindow, service: FakeService) -> None:
    window.activateWindow()
    window.topic_edit.setFocus()
    window.topic_edit.setText("Shortcut topic")
    QTest.keyClick(window.topic_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    await wait_until(lambda: bool(service.requests))
    await wait_until(lambda: not window.is_generating)
    assert service.requests[0].topic == "Shortcut topic"


async def test_the_window_keeps_loop_turns_coming_while_a_reply_streams(
    window: MainWindow, service: FakeService
) -> None:
    window.topic_edit.setText("Responsive")
    task = window.generate()
    assert task is not None
    await asyncio.wait([task], timeout=5)
    # The service forces no turns unless asked: the window asks, so that it paints and takes input between
    # the tokens of a reply that arrives faster than it is read.
    [interval] = service.yield_intervals
    assert interval is not None and 0 < interval <= 0.008


async def test_the_history_list_follows_its_search_field_on_tab(window: MainWindow, store: Store) -> None:
    # The list view is built on first use (here when the core attached), after every other widget of the
    # window: it must still come right after the search field in the focus chain.
    seed(store, "Tides", "The moon pulls.")
    window.history.schedule_refresh()
    await wait_until(lambda: len(window.history.records()) == 1)
    assert window.history.list.isVisible() and window.history.list.y() > window.history.search.y()
    window.activateWindow()
    window.history.search.setFocus()
    QTest.keyClick(window.history.search, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is window.history.list


async def test_stop_cancels_and_keeps_the_partial_script(window: MainWindow, service: FakeService) -> None:
    service.deltas = [f"word{i} " for i in range(200)]
    service.delay = 0.01
    window.topic_edit.setText("A long one")
    task = window.generate()
    assert task is not None
    await wait_until(lambda: window.script_view.words.count >= 3)
    window.stop_action.trigger()
    await asyncio.wait([task], timeout=5)
    assert service.cancelled == 1
    assert not window.is_generating
    partial = window.script_view.toPlainText()
    assert partial.startswith("word0 word1 word2")
    assert len(partial.split()) < 200
    assert "Stopped" in window.banner_text()
    await wait_until(lambda: [r.status for r in window.history.records()] == ["cancelled"])
    record = window.history.records()[0]
    assert record.text == partial
    assert window.current_record is not None and window.current_record.id == record.id


async def test_bad_key_is_an_actionable_message_not_a_dialog(
    window: MainWindow, service: FakeService
) -> None:
    service.deltas = []
    service.error = LLMProviderError(
        ErrorCode.AUTHENTICATION_FAILED, "Groq rejected the API key. Check it in Settings.", provider="groq"
    )
    window.topic_edit.setText("Keys")
    task = window.generate()
    assert task is not None
    await asyncio.wait([task], timeout=5)
    assert "Groq rejected the API key" in window.banner_text()
    assert window.status_text() == "Groq rejected the API key — open Settings to fix it"
    assert window.status_action.isVisible() and window.status_action.text() == "Open Settings"
    assert window.banner_button.text() == "Open Settings"
    assert not any(isinstance(w, QMessageBox) for w in QApplication.topLevelWidgets() if w.isVisible())
    opened: list[bool] = []
    window.open_settings = lambda: opened.append(True)  # type: ignore[method-assign]
    QTest.mouseClick(window.status_action, Qt.MouseButton.LeftButton)
    assert opened == [True]


async def test_fallback_consent_once_badges_the_fallback(window: MainWindow, service: FakeService) -> None:
    service.fallback_to = "gemini"
    window.topic_edit.setText("Quota day")
    task = window.generate()
    assert task is not None
    await wait_until(lambda: window.consent_dialog is not None and window.consent_dialog.isVisible())
    dialog = window.consent_dialog
    assert dialog.objectName() == "fallbackConsentDialog"
    assert dialog.question.text() == "Groq's daily limit is reached. Use Gemini for this script?"
    assert not dialog.isModal() or dialog.windowModality() == Qt.WindowModality.WindowModal
    buttons = [b.text() for b in dialog.findChildren(QPushButton)]
    assert {"Once", "Always", "Cancel"} <= set(buttons)
    QTest.mouseClick(dialog.once_button, Qt.MouseButton.LeftButton)
    await asyncio.wait([task], timeout=5)
    assert service.consent_answers == ["once"]
    assert window.badge.text() == "Powered by Gemini · gemini-2.5-flash"


async def test_fallback_consent_always_is_passed_to_the_service(
    window: MainWindow, service: FakeService
) -> None:
    service.fallback_to = "gemini"
    window.topic_edit.setText("Every day")
    task = window.generate()
    assert task is not None
    await wait_until(lambda: window.consent_dialog is not None and window.consent_dialog.isVisible())
    QTest.mouseClick(window.consent_dialog.always_button, Qt.MouseButton.LeftButton)
    await asyncio.wait([task], timeout=5)
    assert service.consent_answers == ["always"]  # the service persists it; the window only answers
    assert window.badge.text().startswith("Powered by Gemini")


async def test_fallback_consent_cancel(window: MainWindow, service: FakeService) -> None:
    service.fallback_to = "gemini"
    window.topic_edit.setText("Quota day")
    task = window.generate()
    assert task is not None
    await wait_until(lambda: window.consent_dialog is not None)
    window.consent_dialog.cancel_button.click()
    await asyncio.wait([task], timeout=5)
    assert service.consent_answers == ["cancel"]
    assert window.badge.text().startswith("Powered by Groq")


async def test_closing_the_window_cancels_the_running_generation(
    service: FakeService, tmp_path: Path
) -> None:
    service.deltas = ["x "] * 1000
    service.delay = 0.01
    async with open_window(service, tmp_path / "w.ini") as win:
        await wait_until(lambda: win.persona_combo.count() > 0)
        win.topic_edit.setText("Closing")
        task = win.generate()
        assert task is not None
        await wait_until(lambda: win.script_view.words.count > 0)
        win.close()
        await win.wait_idle()
        assert task.cancelled()
        assert service.cancelled == 1


# --- the script view ----------------------------------------------------------------------------------------


async def test_script_view_batches_many_deltas_into_few_flushes(qtbot) -> None:
    view = ScriptView()
    qtbot.addWidget(view)
    view.show()
    deltas = [f"tok{i} " if i % 7 else f"tok{i}\n" for i in range(5000)]
    for delta in deltas:
        view.append_delta(delta)
    assert view.flush_count == 0  # nothing rendered synchronously
    await wait_until(lambda: not view.has_pending)
    assert view.flush_count == 1
    assert view.toPlainText() == "".join(deltas)
    assert view.words.count == len("".join(deltas).split())


async def test_script_view_streams_at_a_bounded_flush_rate(qtbot) -> None:
    view = ScriptView()
    qtbot.addWidget(view)
    view.show()
    latencies: list[float] = []
    view.latency_probe = latencies.append
    sent: list[str] = []
    loop = asyncio.get_running_loop()
    start = loop.time()
    i = 0
    while loop.time() - start < 0.4:  # ~2,000 deltas/s in bursts of 10 every 5 ms
        for _ in range(10):
            delta = f"w{i} "
            sent.append(delta)
            view.append_delta(delta)
            i += 1
        await asyncio.sleep(0.005)
    await wait_until(lambda: not view.has_pending)
    assert view.toPlainText() == "".join(sent)
    assert view.delta_count == len(sent)
    # One flush per interval at most (plus slack for the last one): far fewer than the deltas.
    assert view.flush_count <= 0.4 / (FLUSH_INTERVAL_MS / 1000) + 3
    assert view.flush_count < len(sent) / 10
    assert len(latencies) == len(sent)


def test_word_counter_across_split_words() -> None:
    counter = WordCounter()
    for piece in ["Hel", "lo wor", "ld", " ", "again\n", "and", " again"]:
        counter.feed(piece)
    assert counter.count == len(["Hello", "world", "again", "and", "again"])


def test_spoken_duration_and_stats_text() -> None:
    assert spoken_duration(150) == "≈ 1 min"
    assert spoken_duration(412) == "≈ 2 min 45 s"
    assert spoken_duration(20) == "≈ 10 s"
    stats = ScriptStats(words=412, tokens=623, latency_ms=3200, time_to_first_token_ms=240)
    assert (
        stats.text()
        == "412 words  ·  ≈ 2 min 45 s spoken  ·  623 tokens  ·  3.2 s total  ·  first token after 240 ms"
    )
    assert "writing…" in ScriptStats(words=3, streaming=True).text()


# --- history ------------------------------------------------------------------------------------------------


async def test_history_lists_newest_first_and_marks_partial_scripts(window: MainWindow, store: Store) -> None:
    seed(store, "First", "one two")
    seed(store, "Second", "partial words", status="cancelled")
    seed(store, "Third", "", status="failed")
    await window.history.refresh()
    topics = [r.topic for r in window.history.records()]
    assert topics == ["Third", "Second", "First"]
    window.history.select_id(window.history.records()[1].id)
    await window.history.open_record(window.history.records()[1].id)
    assert window.script_view.toPlainText() == "partial words"
    assert "Cancelled" in window.banner_text() and "partial" in window.banner_text()
    item = window.history.model.item(1)
    assert "Cancelled" in item.data(Qt.ItemDataRole.AccessibleTextRole)


async def test_history_search_is_debounced_and_matches_topic_and_text(
    window: MainWindow, store: Store
) -> None:
    seed(store, "Octopus minds", "tentacles think")
    seed(store, "Volcanoes", "magma and octopus-free rock")
    seed(store, "Bread", "flour water salt")
    await window.history.refresh()
    assert len(window.history.records()) == 3
    QTest.keyClicks(window.history.search, "octopus")
    assert len(window.history.records()) == 3  # not yet: debounced
    await wait_until(lambda: len(window.history.records()) == 2, timeout=2)
    assert {r.topic for r in window.history.records()} == {"Octopus minds", "Volcanoes"}
    window.history.search.setText("zzz-nothing")
    await wait_until(lambda: window.history.model.rowCount() == 0, timeout=2)
    assert "No scripts match" in window.history.empty_label.text()
    assert not window.history.empty_label.isHidden()


async def test_a_script_in_the_history_has_a_context_menu_and_keys(window: MainWindow, store: Store) -> None:
    from PySide6.QtWidgets import QMenu

    seed(store, "Octopus minds", "tentacles think")
    await window.history.refresh()
    await wait_until(lambda: window.history.list.isVisible())
    history = window.history
    assert history.list.contextMenuPolicy() == Qt.ContextMenuPolicy.CustomContextMenu
    history.list.customContextMenuRequested.emit(history.list.visualRect(history.model.index(0, 0)).center())
    menus = [menu for menu in history.list.findChildren(QMenu) if menu.isVisible()]
    assert len(menus) == 1
    assert [a.text() for a in menus[0].actions() if not a.isSeparator()] == [
        "Open",
        "Copy script",
        "Export…",
        "Delete",
    ]
    menus[0].close()
    # Enter and Delete act on the list only (not on the topic field, say).
    for action in (history.open_action, history.delete_action):
        assert action in history.list.actions()
        assert action.shortcutContext() == Qt.ShortcutContext.WidgetShortcut
    assert history.open_action.shortcut() == QKeySequence("Return")
    assert history.delete_action.shortcut() == QKeySequence("Del")


async def test_delete_then_undo_restores_the_script(window: MainWindow, store: Store) -> None:
    script_id = seed(store, "Keep me", "precious words")
    await window.history.refresh()
    await window.history.delete(script_id)
    assert store.get_script(script_id) is None
    assert window.history.records() == []
    assert window.undo_button.isVisible()
    assert "Deleted" in window.status_text()
    QTest.mouseClick(window.undo_button, Qt.MouseButton.LeftButton)
    await wait_until(lambda: len(window.history.records()) == 1)
    restored = store.get_script(script_id)
    assert restored is not None and restored.text == "precious words"
    assert not window.undo_button.isVisible()


async def test_export_markdown_and_text(window: MainWindow, store: Store, tmp_path: Path) -> None:
    script_id = seed(store, "Octopus: Minds!", "Line one.\n\nLine two.", status="cancelled")
    record = store.get_script(script_id)
    assert record is not None
    md = await window.history.export_to(record, tmp_path / "out.md")
    txt = await window.history.export_to(record, tmp_path / "out.txt")
    assert md is not None and txt is not None
    markdown = md.read_text(encoding="utf-8")
    assert markdown.startswith("# Octopus: Minds!\n")
    assert "Groq · model-x" in markdown and "Cancelled" in markdown
    assert markdown.rstrip().endswith("Line one.\n\nLine two.")
    assert txt.read_text(encoding="utf-8") == "Line one.\n\nLine two.\n"
    assert markdown == script_to_markdown(record) and script_to_text(record) == "Line one.\n\nLine two.\n"
    assert suggested_filename(record) == "octopus-minds.md"


async def test_export_through_the_non_modal_file_dialog(
    window: MainWindow, store: Store, tmp_path: Path
) -> None:
    script_id = seed(store, "Dialog export", "Words to save.")
    await window.history.refresh()
    await window.history.open_record(script_id)
    assert window.current_record is not None
    dialog = window.export_current()
    assert isinstance(dialog, QFileDialog) and dialog.isVisible()
    target = tmp_path / "picked.txt"
    dialog.fileSelected.emit(str(target))  # what the dialog does when the user accepts a file name
    dialog.close()
    await wait_until(target.exists)
    assert target.read_text(encoding="utf-8") == "Words to save.\n"
    await wait_until(lambda: "Exported" in window.status_text())


async def test_copy_script_and_new_script(window: MainWindow, store: Store) -> None:
    script_id = seed(store, "Copy me", "alpha beta gamma")
    await window.history.refresh()
    await window.history.open_record(script_id)
    window.copy_action.trigger()
    assert QGuiApplication.clipboard().text() == "alpha beta gamma"
    window.topic_edit.setText("something")
    window.new_action.trigger()
    assert window.topic_edit.text() == "" and window.script_view.toPlainText() == ""
    assert window.focusWidget() is window.topic_edit
    assert window.current_record is None
    window.find_action.trigger()
    assert window.focusWidget() is window.history.search


async def test_failed_history_item_offers_its_fix(window: MainWindow, store: Store) -> None:
    persona = store.default_persona()
    script_id = store.create_script("Bad key", persona, "groq", "m", None)
    store.finish_script(
        script_id, text="", status="failed", provider="groq", model="m",
        error_code="AUTHENTICATION_FAILED", error_message="Groq rejected the API key.",
    )  # fmt: skip
    await window.history.refresh()
    await window.history.open_record(script_id)
    assert "Failed before any text was written" in window.banner_text()
    assert window.banner_button.text() == "Open Settings"


# --- status bar ---------------------------------------------------------------------------------------------


async def test_status_bar_follows_the_rate_limit_state(window: MainWindow, service: FakeService) -> None:
    state, clock = service.state, service.clock
    assert window.provider_status.text() == "Groq · llama-3.3-70b-versatile · ready"
    handle = limit_states.start_wait(state, clock, seconds=12)
    await wait_until(lambda: "waiting" in window.provider_status.text())
    assert window.provider_status.text() == "Groq · llama-3.3-70b-versatile · waiting 12 s"
    clock.advance(5)
    await wait_until(lambda: window.provider_status.text().endswith("waiting 7 s"), timeout=3)
    state.wait_ended(handle)
    await wait_until(lambda: window.provider_status.text().endswith("ready"))
    limit_states.gemini_daily_used(state, clock)  # another provider: not ours
    await asyncio.sleep(0.05)
    assert window.provider_status.text().endswith("ready")


def test_provider_state_texts() -> None:
    now = limit_states.START  # 08:20 local
    assert ProviderState("groq").text(now) == "Groq · ready"
    assert ProviderState("groq", "waiting", now + 12).text(now) == "Groq · waiting 12 s"
    assert ProviderState("groq", "daily", now + 40 * 60).text(now) == "Groq · daily quota used up until 09:00"
    assert (
        ProviderState("groq", "daily", now + 86400).text(now)
        == "Groq · daily quota used up until tomorrow 08:20"
    )
    assert ProviderState("gemini", "unavailable").text(now) == "Gemini · unavailable"
    assert (
        ProviderState("ollama", "unavailable", now + 30).text(now)
        == "Ollama · unavailable, trying again in 30 s"
    )
    assert ProviderState("groq", "next", now + 5).text(now, "m") == "Groq · m · next request in 5 s"
    assert describe_wait(0.2) == "1 s" and describe_wait(125) == "2 min 5 s"
    assert describe_wait(3 * 3600) == "3 h"


def test_provider_state_from_the_real_rate_limit_state() -> None:
    state, _limiter, clock = limit_states.groq_at_limit()
    now = clock.now()
    model = limit_states.GROQ_MODEL
    assert provider_state(state.snapshot(), "groq", now, model).text(now) == "Groq · next request in 15 s"
    handle = limit_states.start_wait(state, clock, seconds=37)
    assert provider_state(state.snapshot(), "groq", now, model).text(now, model) == (
        f"Groq · {model} · waiting 37 s"
    )
    handle.cancel()
    reset = limit_states.gemini_daily_used(state, clock)
    gemini = provider_state(state.snapshot(), "gemini", now, limit_states.GEMINI_MODEL)
    assert gemini.kind == "daily" and gemini.until == reset
    assert gemini.text(now) == "Gemini · daily quota used up until 09:00"
    probe = limit_states.ollama_circuit_open(state, clock, in_seconds=90)
    ollama = provider_state(state.snapshot(), "ollama", now)
    assert (ollama.kind, ollama.until) == ("unavailable", probe)
    assert ollama.text(now) == "Ollama · unavailable, trying again in 1 min 30 s"
    assert provider_state(state.snapshot(), "groq", now, "another-model").kind == "ready"


def test_actionable_errors() -> None:
    def err(code: ErrorCode, provider: str = "groq", **kw: object) -> LLMProviderError:
        return LLMProviderError(code, "sentence", provider=provider, **kw)  # type: ignore[arg-type]

    assert actionable_error(err(ErrorCode.AUTHENTICATION_FAILED)) == (
        "Groq rejected the API key — open Settings to fix it",
        "settings",
    )
    text, action = actionable_error(err(ErrorCode.QUOTA_EXHAUSTED, "gemini"))
    assert text.startswith("Gemini's daily quota is used up") and action == "settings"
    assert actionable_error(err(ErrorCode.NETWORK_ERROR, "ollama"))[0].startswith("Ollama isn't answering")
    assert actionable_error(err(ErrorCode.RATE_LIMIT_EXCEEDED, retry_after=12.0)) == (
        "Groq is busy (rate limit) — try again in 12 s",
        "retry",
    )


# --- dialogs, geometry, theme
# ---------------------------------------------------------------------------------


async def test_about_dialog_is_non_modal_and_shows_the_version(window: MainWindow) -> None:
    from app import __version__

    dialog = window.open_about()
    assert isinstance(dialog, QDialog) and dialog.isVisible()
    assert dialog.objectName() == "aboutDialog"
    label = dialog.findChild(QLabel, "aboutVersion")
    assert label is not None and __version__ in label.text()
    dialog.close()


async def test_badge_opens_the_settings(window: MainWindow) -> None:
    pytest.importorskip("app.ui.settings_dialog")
    QTest.mouseClick(window.badge, Qt.MouseButton.LeftButton)
    dialog = window.settings_dialog
    assert dialog is not None and dialog.objectName() == "settingsDialog" and dialog.isVisible()
    dialog.close()


async def test_geometry_and_composer_choices_are_remembered(service: FakeService, tmp_path: Path) -> None:
    ini = tmp_path / "window.ini"
    async with open_window(service, ini) as first:
        first.resize(first.width(), 520)  # the offscreen screen is 800x600: restoreGeometry clamps to it
        first.rate_dock.hide()
        first.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, first.history_dock)  # moved by the user
        first.length_unit.setCurrentIndex(first.length_unit.findData("words"))
        first.length_spin.setValue(750)
    async with open_window(service, ini) as second:
        assert second.height() == 520
        assert second.rate_dock.isHidden() and not second.history_dock.isHidden()
        # Placed by the saved layout as they were created, not by the defaults (history on the left).
        assert second.dockWidgetArea(second.history_dock) == Qt.DockWidgetArea.RightDockWidgetArea
        assert second.target_words() == 750


async def test_a_first_start_puts_the_history_left_and_the_limits_right(
    service: FakeService, tmp_path: Path
) -> None:
    async with open_window(service, tmp_path / "window.ini") as window:
        assert window.dockWidgetArea(window.history_dock) == Qt.DockWidgetArea.LeftDockWidgetArea
        assert window.dockWidgetArea(window.rate_dock) == Qt.DockWidgetArea.RightDockWidgetArea


def test_theme_follower_re_applies_when_the_scheme_changes(
    qapp: QApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(theme.THEME_ENV, "light")
    follower = theme.follow_system_theme(qapp)
    seen: list[bool] = []
    follower.add_listener(lambda colors: seen.append(colors.dark))
    monkeypatch.setenv(theme.THEME_ENV, "dark")  # what the system would now answer
    follower.recheck()
    assert seen == [True] and theme.current_colors().dark
    follower.recheck()  # nothing changed: nothing re-applied
    assert seen == [True]
    monkeypatch.setenv(theme.THEME_ENV, "light")
    follower.recheck()
    assert seen == [True, False]


def test_theme_follows_the_environment_override(qapp: QApplication, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(theme.THEME_ENV, "dark")
    assert theme.apply_theme(qapp).dark
    assert qapp.palette().window().color().name().lower() == theme.DARK.window.lower()
    monkeypatch.setenv(theme.THEME_ENV, "light")
    assert not theme.apply_theme(qapp).dark
    assert not theme.icon("generate").isNull()
    assert not theme.app_icon().isNull()


def test_the_first_frames_icons_are_drawn_by_the_stylesheet_in_each_theme(
    qtbot, qapp: QApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    # From tinted PNG files (theme.FIRST_FRAME_ICONS), so that the window paints without QIcon's Python type.
    from PySide6.QtGui import QColor
    from PySide6.QtWidgets import QLineEdit

    def near(color: QColor, target: QColor) -> bool:
        return all(abs(a - b) <= 24 for a, b in zip(color.getRgb()[:3], target.getRgb()[:3], strict=True))

    glyphs = {}
    for scheme in ("light", "dark"):
        monkeypatch.setenv(theme.THEME_ENV, scheme)
        colors = theme.apply_theme(qapp)
        button = QPushButton()
        button.setObjectName("generateButton")
        button.setText("Generate")
        field = QLineEdit()
        field.setObjectName("historySearch")
        for widget in (button, field):
            qtbot.addWidget(widget)
            widget.show()
        assert not button.icon().isNull() and button.iconSize().width() == 16
        glyphs[scheme] = button.icon().pixmap(16, 16).toImage()
        # The search glyph sits in the field's inset, in the theme's icon colour; the text begins after it.
        image = field.grab().toImage()
        inset = range(theme.FIELD_ICON_INSET_PX, theme.FIELD_ICON_INSET_PX + theme.FIELD_ICON_PX)
        assert any(
            near(image.pixelColor(x, y), QColor(colors.icon)) for x in inset for y in range(image.height())
        )
        assert field.cursorRect().left() >= theme.FIELD_ICON_INSET_PX + theme.FIELD_ICON_PX
    assert glyphs["light"] != glyphs["dark"]  # re-tinted with the scheme


def test_the_app_icon_is_read_once(qapp: QApplication) -> None:
    assert theme.app_icon() is theme.app_icon()
    assert not theme.app_icon().isNull()


def test_when_text_is_relative() -> None:
    now = datetime(2026, 3, 12, 15, 0).astimezone()
    assert when_text(now.replace(hour=9, minute=5).astimezone(UTC).isoformat(), now) == "09:05"
    yesterday = (now - timedelta(days=1)).replace(hour=8, minute=0)
    assert when_text(yesterday.astimezone(UTC).isoformat(), now) == "Yesterday 08:00"
    assert when_text(datetime(2026, 1, 2, 12).astimezone().astimezone(UTC).isoformat(), now) == "2 Jan"


def test_one_collector_and_one_theme_follower_per_application(qapp: QApplication) -> None:
    from app.ui.gc_guard import GuiGarbageCollector

    assert GuiGarbageCollector.install(qapp) is GuiGarbageCollector.install(qapp)
    assert theme.follow_system_theme(qapp) is theme.follow_system_theme(qapp)


async def test_shortcuts_arrive_once_the_window_has_painted(service: FakeService, tmp_path: Path) -> None:
    # QKeySequence's type is built after the first paint: no shortcut shows, or can be pressed, before it.
    unshown = MainWindow(service, settings_path=tmp_path / "unshown.ini")
    try:
        assert unshown.generate_action.shortcuts() == [] and unshown.history.delete_action.shortcuts() == []
    finally:
        unshown.close()
        await unshown.wait_idle()
        unshown.deleteLater()
    async with open_window(service, tmp_path / "window.ini", data_dir=tmp_path) as window:
        await wait_until(lambda: window.generate_action.shortcuts() != [])
        assert window.generate_action.shortcuts() == [QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")]
        assert window.rate_panel_action.shortcut() == QKeySequence("Ctrl+Shift+L")
        assert window.history_action.shortcut() == QKeySequence("Ctrl+Shift+H")
        await wait_until(lambda: window.history.delete_action.shortcuts() != [])


async def test_menu_icons_arrive_once_the_window_has_painted(window: MainWindow) -> None:
    # Loaded after the first paint (only an open menu shows them), but loaded.
    await wait_until(lambda: not window.settings_action.icon().isNull())
    await wait_until(lambda: not window.history.delete_action.icon().isNull())
    assert not window.generate_action.icon().isNull() and not window.copy_action.icon().isNull()

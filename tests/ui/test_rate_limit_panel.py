"""The rate-limit panel over a REAL RateLimitState on a fake clock: its words, its ticks, its buttons."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from PySide6.QtWidgets import QAbstractButton, QAbstractSpinBox, QComboBox, QLineEdit, QProgressBar, QWidget
from pytestqt.qtbot import QtBot

from app.core.catalogue import CATALOGUE
from app.core.errors import describe_wait
from app.core.ratelimit.clock import FakeClock
from app.core.ratelimit.limiter import WaitCancelled, cancellable_sleep
from app.core.ratelimit.snapshot import LimitSource, RateLimitSnapshot, Window, WindowLimit
from app.core.ratelimit.state import RateLimitState
from app.ui.rate_limit_panel import (
    RateLimitPanel,
    Status,
    age_text,
    read_row,
    row_status,
)
from tests.ui import limit_states
from tests.ui.limit_states import GEMINI_MODEL, GROQ_MODEL


def make_panel(qtbot: QtBot, state: Any, **kwargs: Any) -> RateLimitPanel:
    panel = RateLimitPanel(state, **kwargs)
    qtbot.addWidget(panel)
    panel.resize(560, 700)
    panel.show()
    return panel


def visible_text(widget: QWidget) -> str:
    from PySide6.QtWidgets import QLabel

    return "\n".join(
        label.text() for label in widget.findChildren(QLabel) if label.isVisibleTo(widget) and label.text()
    )


def interactive_controls(root: QWidget) -> list[QWidget]:
    kinds = (QAbstractButton, QLineEdit, QComboBox, QAbstractSpinBox, QProgressBar)
    return [w for w in root.findChildren(QWidget) if isinstance(w, kinds)]


# --- words ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0 s"), (14.2, "15 s"), (60, "1 m"), (179.56, "3 m"), (178.5, "2 m 59 s"), (3900, "1 h 5 m")],
)
def test_a_compact_wait(seconds: float, text: str) -> None:
    assert describe_wait(seconds, "compact") == text


def test_age_text() -> None:
    assert age_text(0.2) == "just now"
    assert age_text(3.7) == "3 s ago"
    assert age_text(125) == "2 m ago"


# --- rendering ----------------------------------------------------------------------------------------------


def test_headline_and_next_available_come_from_the_state(qtbot: QtBot) -> None:
    state, _limiter, _clock = limit_states.groq_at_limit()
    panel = make_panel(qtbot, state)
    card = panel.card("groq", GROQ_MODEL)
    assert card is not None
    assert card.headline.text() == "Groq: 2 requests used in last 60s (limit: 2 RPM)"
    assert card.next_available.text() == "Next request available in: 15 seconds"
    assert card.chip.text() == Status.AT_LIMIT
    assert "Groq · llama-3.3-70b-versatile" in card.title.text()
    assert not panel.empty_label.isVisible()


def test_countdown_ticks_with_the_clock_and_the_timer_stops_when_idle(qtbot: QtBot) -> None:
    state, _limiter, clock = limit_states.groq_at_limit()
    panel = make_panel(qtbot, state)
    card = panel.card("groq", GROQ_MODEL)
    assert card is not None
    assert panel.ticking  # something counts down: one timer runs
    clock.advance(5)
    panel._tick_timer.timeout.emit()  # one tick of the panel's 1 s timer
    assert card.next_available.text() == "Next request available in: 10 seconds"
    clock.advance(10)
    panel._tick_timer.timeout.emit()
    assert card.next_available.text() == "Next request available: now"
    assert card.headline.text() == "Groq: 1 request used in last 60s (limit: 2 RPM)"
    assert card.chip.text() == Status.READY
    clock.advance(60)  # every request has left the window: nothing counts down any more
    panel._tick_timer.timeout.emit()
    assert card.headline.text() == "Groq: 0 requests used in last 60s (limit: 2 RPM)"
    assert not panel.ticking


def test_the_real_timer_ticks_once_a_second(qtbot: QtBot) -> None:
    state, _limiter, clock = limit_states.groq_at_limit()
    panel = make_panel(qtbot, state)
    card = panel.card("groq", GROQ_MODEL)
    assert card is not None
    assert panel._tick_timer.interval() == 1000
    clock.advance(3)
    qtbot.waitUntil(
        lambda: card.next_available.text() == "Next request available in: 12 seconds", timeout=2500
    )


def test_provider_reported_windows_show_remaining_reset_and_source(qtbot: QtBot) -> None:
    state, _limiter, clock = limit_states.groq_at_limit()
    state.observe_snapshot(limit_states.groq_reported(clock))
    panel = make_panel(qtbot, state)
    card = panel.card("groq", GROQ_MODEL)
    assert card is not None
    rows = {row.name.text(): row for row in card.gauge_rows if row.window is not None}
    assert set(rows) == {"Requests / minute", "Requests / day", "Tokens / minute"}
    daily = rows["Requests / day"]
    assert daily.value.text() == "988 / 1,000 left"
    assert daily.detail.text() == "resets in 2 m 57 s · reported by Groq 3 s ago"
    assert daily.bar.maximum() == 1000 and daily.bar.value() == 988
    assert rows["Tokens / minute"].value.text() == "11,200 / 12,000 left"
    local = rows["Requests / minute"]
    assert local.value.text() == "0 / 2 left"
    assert "estimated locally" in local.detail.text()
    assert daily.bar.accessibleDescription().startswith("988 / 1,000 left; resets in")
    clock.advance(10)
    panel.refresh()
    assert daily.detail.text() == "resets in 2 m 47 s · reported by Groq 13 s ago"


def test_a_429_countdown_shows_cancel_which_cancels_the_wait(qtbot: QtBot) -> None:
    state, _limiter, clock = limit_states.groq_at_limit()
    handle = limit_states.start_wait(state, clock, seconds=37)
    panel = make_panel(qtbot, state)
    card = panel.card("groq", GROQ_MODEL)
    assert card is not None
    qtbot.waitUntil(lambda: card.wait_box.isVisible())
    assert card.chip.text() == Status.WAITING
    assert card.wait_label.text() == "Retrying in 37 seconds — after Groq rate limit hit; attempt 2 of 4"
    assert card.cancel_button.isVisible() and card.switch_button.isVisible()
    clock.advance(7)
    panel._tick_timer.timeout.emit()
    assert card.wait_label.text().startswith("Retrying in 30 seconds")

    with qtbot.waitSignal(panel.cancel_wait_requested) as signal:
        card.cancel_button.click()
    assert signal.args == ["groq", GROQ_MODEL]
    assert handle.cancelled
    qtbot.waitUntil(lambda: not card.wait_box.isVisible())


def test_cancel_ends_a_real_sleeping_wait(qtbot: QtBot) -> None:
    """The button reaches the limiter's handle: a task in `cancellable_sleep` ends with WaitCancelled."""
    state, _limiter, clock = limit_states.groq_at_limit()
    handle = limit_states.start_wait(state, clock, seconds=60)
    panel = make_panel(qtbot, state)
    card = panel.card("groq", GROQ_MODEL)
    assert card is not None

    async def sleeper() -> str:
        try:
            await cancellable_sleep(clock, handle, 60)
        except WaitCancelled as stop:
            return stop.message
        return "slept"

    loop = asyncio.new_event_loop()
    try:
        task = loop.create_task(sleeper())
        loop.run_until_complete(asyncio.sleep(0))
        card.cancel_button.click()
        assert loop.run_until_complete(task).startswith("Cancelled while waiting for Groq")
    finally:
        loop.close()


def test_switch_provider_offers_the_other_providers(qtbot: QtBot) -> None:
    state, _limiter, clock = limit_states.groq_at_limit()
    limit_states.start_wait(state, clock)
    panel = make_panel(qtbot, state)
    card = panel.card("groq", GROQ_MODEL)
    assert card is not None
    actions = card.switch_menu.actions()
    assert [a.data() for a in actions] == [name for name in CATALOGUE if name != "groq"]
    assert actions[0].text() == "Use Ollama (Local) instead"
    with qtbot.waitSignal(panel.switch_provider_requested) as signal:
        actions[1].trigger()
    assert signal.args == ["gemini"]


def test_a_used_up_daily_quota_says_when_it_resets(qtbot: QtBot) -> None:
    clock = FakeClock(limit_states.START)
    state = RateLimitState(clock)
    limit_states.gemini_daily_used(state, clock)
    panel = make_panel(qtbot, state)
    card = panel.card("gemini", GEMINI_MODEL)
    assert card is not None
    assert card.chip.text() == Status.DAILY_USED
    assert card.summary.text() == "Daily quota used — resets at 09:00"
    daily = next(row for row in card.gauge_rows if row.window is Window.REQUESTS_PER_DAY)
    assert daily.value.text() == "0 / 20 left"
    assert daily.detail.text() == "used up, resets at 09:00 · reported by Gemini 2 m ago"
    assert "Last error" in card.error_label.text()
    assert "daily request limit" in card.error_label.text()


def test_an_open_circuit_says_when_the_next_try_is(qtbot: QtBot) -> None:
    clock = FakeClock(limit_states.START)
    state = RateLimitState(clock)
    limit_states.ollama_circuit_open(state, clock, in_seconds=600)
    panel = make_panel(qtbot, state)
    card = panel.card("ollama")
    assert card is not None
    assert card.chip.text() == Status.UNAVAILABLE
    assert card.circuit_box.isVisible()
    assert card.circuit_label.text() == "Unavailable — next try at 08:30"
    assert card.circuit_reason.text().startswith("3 failures in a row: Cannot reach Ollama")


def test_state_changes_render_through_a_queued_coalesced_signal(qtbot: QtBot) -> None:
    state, _limiter, clock = limit_states.groq_at_limit()
    panel = make_panel(qtbot, state)
    card = panel.card("groq", GROQ_MODEL)
    assert card is not None
    before = panel.render_count
    for left in range(990, 940, -1):  # a burst of 50 header observations
        state.observe_snapshot(limit_states.groq_reported(clock, age=0, rpd_left=left))
    assert panel.render_count == before  # nothing renders inside the core's callback
    qtbot.waitUntil(lambda: "941 / 1,000 left" in visible_text(card), timeout=2000)
    qtbot.wait(150)
    assert panel.render_count - before <= 3


def test_rows_appear_in_the_state_order_and_the_panel_detaches(qtbot: QtBot) -> None:
    state, _clock, _handle = limit_states.showcase()
    panel = make_panel(qtbot, state)
    assert [c.key for c in panel.cards()] == [
        ("ollama", None),
        ("gemini", GEMINI_MODEL),
        ("groq", GROQ_MODEL),
    ]
    panel.detach()
    state.record_error("groq", GROQ_MODEL, RuntimeError("after detach"))
    qtbot.wait(150)
    card = panel.card("groq", GROQ_MODEL)
    assert card is not None and "after detach" not in card.error_label.text()


def test_empty_state_explains_itself(qtbot: QtBot) -> None:
    panel = make_panel(qtbot, RateLimitState(FakeClock()))
    assert panel.empty_label.isVisible()
    assert "appear here" in panel.empty_label.text()
    assert not panel.ticking


def test_compact_mode_is_one_line_per_row_with_cancel(qtbot: QtBot) -> None:
    state, _clock, handle = limit_states.showcase()
    panel = make_panel(qtbot, state)
    panel.set_compact(True)
    groq = panel.card("groq", GROQ_MODEL)
    gemini = panel.card("gemini", GEMINI_MODEL)
    ollama = panel.card("ollama")
    assert groq is not None and gemini is not None and ollama is not None
    assert not groq.body.isVisible()
    assert groq.summary.text() == "Retrying — 37 s left"
    assert groq.title.text() == "Groq"  # one row per provider: the model is in the tooltip
    assert gemini.summary.text() == "Daily quota used — resets at 09:00"
    assert ollama.summary.text() == "Unavailable — next try at 08:22"
    assert groq.compact_cancel.isVisible() and not gemini.compact_cancel.isVisible()
    assert "Retrying in 37 seconds" in groq.accessibleDescription()
    groq.compact_cancel.click()
    assert handle.cancelled
    panel.set_compact(False)
    assert groq.body.isVisible()


def test_every_control_is_named_for_assistive_technology(qtbot: QtBot) -> None:
    state, _clock, _handle = limit_states.showcase()
    panel = make_panel(qtbot, state)
    controls = interactive_controls(panel)
    assert len(controls) >= 8
    for control in controls:
        assert control.accessibleName().strip(), (
            f"{control.objectName() or type(control).__name__} has no name"
        )
        assert control.accessibleDescription().strip(), f"{control.objectName()} has no description"
    for card in panel.cards():
        assert card.accessibleName().endswith("rate limits")
        assert card.accessibleDescription()


def test_status_is_spelt_out_in_words_not_only_colour(qtbot: QtBot) -> None:
    state, _clock, _handle = limit_states.showcase()
    panel = make_panel(qtbot, state)
    assert {c.chip.text() for c in panel.cards()} == {Status.UNAVAILABLE, Status.DAILY_USED, Status.WAITING}


def test_partial_rows_from_a_stand_in_state_render_without_errors(qtbot: QtBot) -> None:
    """The window's tests feed simpler rows; the panel reads whatever is there and defaults the rest."""
    rows = (SimpleNamespace(provider="groq", model=None, next_free_at=None, reported=(), active_waits=()),)
    state = SimpleNamespace(subscribe=lambda callback: lambda: None, snapshot=lambda now=None: rows)
    panel = make_panel(qtbot, state, clock=lambda: 0.0)
    card = panel.card("groq")
    assert card is not None
    assert card.headline.text() == "Groq: 0 requests used in last 60s (no local limit)"
    assert card.next_available.text() == "Next request available: now"


def test_read_row_prefers_what_the_provider_reported() -> None:
    clock = FakeClock(limit_states.START)
    state = RateLimitState(clock)
    state.track(limit_states.groq_limiter(clock))
    seen = clock.now()
    state.observe_snapshot(
        RateLimitSnapshot(
            "groq",
            GROQ_MODEL,
            (WindowLimit(Window.REQUESTS_PER_MINUTE, 30, 29, seen + 2, LimitSource.PROVIDER, seen),),
        )
    )
    view = read_row(state.view("groq", GROQ_MODEL), clock.now())
    rpm = view.gauges[0]
    assert (rpm.limit, rpm.remaining, rpm.source) == (30, 29, LimitSource.PROVIDER)
    assert row_status(view, clock.now()) == (Status.READY, "Ready — 2 of 2 requests left this minute")


def test_screen_readers_hear_when_a_wait_starts_and_ends(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    import app.ui.rate_limit_panel as module

    said: list[str] = []
    monkeypatch.setattr(module, "_screen_reader_active", lambda: True)
    monkeypatch.setattr(module, "_announce", lambda _widget, message: said.append(message))
    state, _limiter, clock = limit_states.groq_at_limit()
    panel = make_panel(qtbot, state)
    handle = limit_states.start_wait(state, clock, seconds=37)
    qtbot.waitUntil(lambda: len(said) == 1)
    assert said[0].startswith("Groq · llama-3.3-70b-versatile: Retrying in 37 seconds")
    for _ in range(3):  # ticks do not repeat it
        clock.advance(1)
        panel._tick_timer.timeout.emit()
    assert len(said) == 1
    state.wait_ended(handle)
    qtbot.waitUntil(lambda: len(said) == 2)
    assert said[1] == "Groq · llama-3.3-70b-versatile: the wait is over."

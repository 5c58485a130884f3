"""RateLimitState: what the panel and the CLI render, and how they learn about changes (no Qt)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC

import pytest

from app.core.errors import ErrorCode, LLMProviderError
from app.core.ratelimit.clock import FakeClock
from app.core.ratelimit.limiter import (
    LimitKey,
    RateLimiterRegistry,
    SlidingWindowLimiter,
    WaitCancelled,
    WaitHandle,
)
from app.core.ratelimit.settings import RateLimitConfig
from app.core.ratelimit.snapshot import LimitSource, RateLimitSnapshot, Window, WindowLimit
from app.core.ratelimit.state import (
    CircuitState,
    CircuitView,
    RateLimitState,
    headline,
    next_available_text,
)

START = 1_700_000_000.0  # 22:13:20 UTC
GROQ_MODEL = "llama-3.3-70b-versatile"


def setup(config: RateLimitConfig | None = None) -> tuple[FakeClock, RateLimitState, SlidingWindowLimiter]:
    clock = FakeClock(START)
    state = RateLimitState(clock, local_tz=UTC)
    registry = RateLimiterRegistry(clock, {"groq": config or RateLimitConfig(requests_per_minute=2)})
    registry.add_listener(state.on_limiter_event)
    return clock, state, registry.limiter("groq", GROQ_MODEL)


async def test_subscribers_are_told_which_row_changed_and_can_unsubscribe() -> None:
    _clock, state, limiter = setup()
    changes: list[LimitKey] = []
    unsubscribe = state.subscribe(changes.append)
    limiter.try_acquire()
    assert changes == [("groq", GROQ_MODEL)]
    state.set_circuit("groq", CircuitView(CircuitState.OPEN, START + 30, 3, "3 failures in a row"))
    assert changes[-1] == ("groq", None)  # provider-wide
    unsubscribe()
    unsubscribe()
    limiter.try_acquire()
    assert len(changes) == 2


async def test_a_failing_subscriber_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    _, state, limiter = setup()
    seen: list[LimitKey] = []

    def broken(key: LimitKey) -> None:
        raise RuntimeError("widget gone")

    state.subscribe(broken)
    state.subscribe(seen.append)
    limiter.try_acquire()
    assert seen and "a subscriber failed" in caplog.text


async def test_headline_and_next_available_text_like_the_panel_sketch() -> None:
    clock, state, limiter = setup()
    limiter.try_acquire()
    clock.advance(45)
    limiter.try_acquire()
    row = state.view("groq", GROQ_MODEL)
    assert row.headline == "Groq: 2 requests used in last 60s (limit: 2 RPM)"
    assert row.next_available_text == "Next request available in: 15 seconds"
    assert (row.rpm_used, row.rpm_limit, row.next_free_at) == (2, 2, START + 60)
    assert row.label == "Groq" and row.enabled and row.key == ("groq", GROQ_MODEL)
    clock.advance(15)
    row = state.view("groq", GROQ_MODEL)
    assert row.headline == "Groq: 1 request used in last 60s (limit: 2 RPM)"
    assert row.next_available_text == "Next request available: now"
    assert row.next_free_at is None
    assert row.dimension(Window.REQUESTS_PER_MINUTE).used == 1  # type: ignore[union-attr]


def test_words() -> None:
    assert headline("Ollama", 3, None) == "Ollama: 3 requests in last 60s (no local limit)"
    assert headline("Gemini", 0, 1) == "Gemini: 0 requests used in last 60s (limit: 1 RPM)"
    assert next_available_text(START + 125, START) == "Next request available in: 2 minutes 5 seconds"
    assert next_available_text(START + 5 * 3600, START, UTC) == "Next request available tomorrow at 03:13"
    assert next_available_text(float("inf"), START) == "Next request available: not until the limit is raised"
    assert next_available_text(None, START) == "Next request available: now"


async def test_an_active_wait_is_visible_with_its_until_time_and_cancellable() -> None:
    clock, state, limiter = setup(RateLimitConfig(requests_per_minute=1))
    limiter.try_acquire()
    waiter = asyncio.ensure_future(limiter.acquire())
    await clock.run_for(10)
    row = state.view("groq", GROQ_MODEL)
    wait = row.active_wait
    assert wait is not None
    assert (wait.kind, wait.until, wait.started_at, wait.remaining_seconds) == (
        "rate_limit",
        START + 60,
        START,
        50,
    )
    assert wait.reason == "limit: 1 request per minute"
    assert wait.text == "Waiting for a free slot in 50 seconds (limit: 1 request per minute)"
    assert row.next_available_text == "Next request available in: 50 seconds"
    wait.cancel()
    await clock.run_until_idle()
    with pytest.raises(WaitCancelled, match="Cancelled while waiting for Groq"):
        waiter.result()
    assert state.view("groq", GROQ_MODEL).active_waits == ()


async def test_waits_outside_the_limiter_are_shown_too() -> None:
    _clock, state, _ = setup()
    handle = WaitHandle("groq", GROQ_MODEL, "retry", "after Groq rate limit hit", START, START + 2)
    state.wait_started(handle)
    row = state.view("groq", GROQ_MODEL)
    assert row.active_wait is not None and row.active_wait.text.startswith("Retrying in 2 seconds")
    state.wait_ended(handle)
    state.wait_ended(handle)
    assert state.view("groq", GROQ_MODEL).active_wait is None


async def test_reported_windows_merge_and_the_newer_observation_wins() -> None:
    _clock, state, _ = setup()
    rpd_old = WindowLimit(Window.REQUESTS_PER_DAY, 1000, 999, START + 100, LimitSource.PROVIDER, START)
    tpm = WindowLimit(Window.TOKENS_PER_MINUTE, 12000, 9000, START + 7, LimitSource.PROVIDER, START)
    state.observe_snapshot(RateLimitSnapshot("groq", GROQ_MODEL, (rpd_old, tpm), observed_at=START))
    rpm_429 = WindowLimit(Window.REQUESTS_PER_MINUTE, 30, 0, START + 12, LimitSource.PROVIDER, START + 10)
    rpd_new = WindowLimit(Window.REQUESTS_PER_DAY, 1000, 998, START + 110, LimitSource.PROVIDER, START + 10)
    state.observe_snapshot(RateLimitSnapshot("groq", GROQ_MODEL, (rpm_429, rpd_new), retry_after=2))
    stale = WindowLimit(Window.REQUESTS_PER_DAY, 1000, 5, START + 100, LimitSource.PROVIDER, START - 50)
    state.observe_snapshot(RateLimitSnapshot("groq", GROQ_MODEL, (stale,)))
    state.observe_snapshot(None)
    row = state.view("groq", GROQ_MODEL)
    assert [w.window for w in row.reported] == [
        Window.REQUESTS_PER_MINUTE,
        Window.REQUESTS_PER_DAY,
        Window.TOKENS_PER_MINUTE,
    ]
    assert row.reported_window(Window.REQUESTS_PER_DAY) == rpd_new
    assert row.reported_window(Window.TOKENS_PER_MINUTE) == tpm


async def test_violations_are_kept_when_a_snapshot_carries_them() -> None:
    class WithViolations:
        provider, model, windows = "gemini", "gemini-2.5-flash", ()
        violations = ("RPD 20 used up",)

    _, state, _ = setup()
    state.observe_snapshot(WithViolations())  # type: ignore[arg-type]
    assert state.view("gemini", "gemini-2.5-flash").violations == ("RPD 20 used up",)


async def test_circuit_and_last_error_rows() -> None:
    clock, state, _limiter = setup()
    state.set_circuit("groq", CircuitView(CircuitState.OPEN, START + 30, 3, "3 failures in a row"))
    row = state.view("groq", GROQ_MODEL)
    assert row.circuit.is_open and row.circuit.next_probe_at == START + 30
    assert not state.circuit("gemini").is_open
    state.record_error(
        "groq", GROQ_MODEL, LLMProviderError(ErrorCode.NETWORK_ERROR, "Groq could not be reached.")
    )
    clock.advance(1)
    state.record_error("ollama", "llama3.2", TimeoutError("slow"))
    assert state.view("groq", GROQ_MODEL).last_error.code == "NETWORK_ERROR"  # type: ignore[union-attr]
    ollama = state.view("ollama")
    assert ollama.last_error is not None and (ollama.last_error.code, ollama.last_error.at) == (
        "TimeoutError",
        START + 1,
    )
    state.clear_error("ollama", "anything")  # per provider: the model does not matter
    state.clear_error("gemini", "none-yet")
    assert state.view("ollama").last_error is None


async def test_snapshot_rows_follow_the_catalogue_order() -> None:
    _clock, state, limiter = setup()
    state.record_error("ollama", "llama3.2", TimeoutError())
    state.observe_snapshot(RateLimitSnapshot("gemini", "gemini-2.5-flash"))
    limiter.try_acquire()
    rows = state.snapshot()
    assert [(r.provider, r.model) for r in rows] == [
        ("ollama", None),
        ("gemini", "gemini-2.5-flash"),
        ("groq", GROQ_MODEL),
    ]
    assert rows[1].headline == "Gemini: 0 requests in last 60s (no local limit)"  # no limiter yet
    assert all(r.observed_at == START for r in rows)


async def test_track_attaches_a_limiter_once() -> None:
    clock = FakeClock(START)
    state = RateLimitState(clock)
    limiter = SlidingWindowLimiter(
        "gemini", "gemini-2.5-flash", RateLimitConfig(requests_per_minute=15), clock=clock
    )
    changes: list[LimitKey] = []
    state.subscribe(changes.append)
    state.track(limiter)
    state.track(limiter)
    limiter.try_acquire()
    assert changes.count(("gemini", "gemini-2.5-flash")) == 3  # two tracks + one admission, not four


async def test_snapshot_updates_are_logged_like_the_seed(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "app.core.ratelimit.state")
    _, state, _ = setup()
    rpd = WindowLimit(Window.REQUESTS_PER_DAY, 1000, 998, None, LimitSource.PROVIDER, START)
    unknown = WindowLimit(Window.TOKENS_PER_DAY, None, 5, None, LimitSource.PROVIDER, START)
    state.observe_snapshot(RateLimitSnapshot("groq", GROQ_MODEL, (rpd, unknown)))
    assert caplog.messages == ["[GroqProvider] Rate limit: 998/1000 requests remaining"]

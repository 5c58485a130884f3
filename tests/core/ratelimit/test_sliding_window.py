"""SlidingWindowLimiter on the fake clock: the seed's cases, every dimension, holds, waits, cancellation."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from app.core.errors import ErrorCode, LLMProviderError, describe_wait
from app.core.ratelimit.clock import FakeClock
from app.core.ratelimit.limiter import (
    LimiterEvent,
    LimiterEventKind,
    LimitWaitTooLong,
    RateLimiterRegistry,
    Reservation,
    SlidingWindowLimiter,
    WaitCancelled,
    WaitHandle,
    format_clock_time,
    limit_key,
    quota_sentence,
)
from app.core.ratelimit.settings import RateLimitConfig
from app.core.ratelimit.snapshot import LimitSource, RateLimitSnapshot, Window, WindowLimit

START = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC


def make(clock: FakeClock, **config: object) -> SlidingWindowLimiter:
    return SlidingWindowLimiter("groq", "llama", RateLimitConfig(**config), clock=clock, local_tz=UTC)  # type: ignore[arg-type]


async def admitted_at(clock: FakeClock, limiter: SlidingWindowLimiter, tokens: int = 0) -> float:
    reservation = await limiter.acquire(tokens)
    reservation.commit()
    return clock.now()


# --- the seed's case --------------------------------------------------------------------------------------


async def test_third_call_at_two_rpm_waits_until_the_first_expires() -> None:
    clock = FakeClock(START)
    limiter = make(clock, requests_per_minute=2)
    first = await admitted_at(clock, limiter)
    clock.advance(5)
    second = await admitted_at(clock, limiter)
    third = asyncio.create_task(admitted_at(clock, limiter))
    await clock.run_until(first + 59.999)
    assert not third.done()
    await clock.run_until(first + 60)
    assert third.done()
    assert third.result() == first + 60  # wait = oldest + 60 - now
    assert second == START + 5


async def test_third_call_with_thirty_seconds_spacing_waits_at_least_thirty_seconds() -> None:
    clock = FakeClock(START)
    limiter = make(clock, requests_per_minute=2, seconds_per_request=30)
    times = [asyncio.create_task(admitted_at(clock, limiter)) for _ in range(3)]
    await clock.run_for(200)
    first, second, third = (t.result() for t in times)
    assert (first, second, third) == (START, START + 30, START + 60)
    assert third - second >= 30


async def test_spacing_alone_paces_requests() -> None:
    clock = FakeClock(START)
    limiter = make(clock, requests_per_minute=100, seconds_per_request=7.5)
    tasks = [asyncio.create_task(admitted_at(clock, limiter)) for _ in range(4)]
    await clock.run_for(60)
    assert [t.result() - START for t in tasks] == [0, 7.5, 15, 22.5]


async def test_log_lines(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "app.core.ratelimit.limiter")
    clock = FakeClock(START)
    limiter = SlidingWindowLimiter("gemini", None, RateLimitConfig(requests_per_minute=15), clock=clock)
    (await limiter.acquire()).commit()
    assert "check passed" not in caplog.text  # logged on the loop's next turn, off the request's path
    await asyncio.sleep(0)
    assert "[RateLimiter] gemini rate limit check passed (1/15 used)" in caplog.text
    groq = make(clock, requests_per_minute=2, seconds_per_request=30)
    (await groq.acquire()).commit()
    waiting = asyncio.create_task(groq.acquire())
    await clock.run_until_idle()
    assert "[RateLimiter] groq rate limit hit, waiting 30.0s" in caplog.text
    waiting.cancel()


# --- FIFO, cancellation, no polling ------------------------------------------------------------------------


async def test_waiters_are_released_in_fifo_order_one_per_free_slot() -> None:
    clock = FakeClock(START)
    limiter = make(clock, requests_per_minute=1)
    order: list[int] = []

    async def call(n: int) -> None:
        (await limiter.acquire()).commit()
        order.append(n)

    tasks = [asyncio.create_task(call(n)) for n in range(5)]
    await clock.run_until_idle()
    assert order == [0]
    assert limiter.waiting == 4
    assert clock.pending_sleepers == 1  # only the head sleeps; the others await a future
    await clock.run_for(60)
    assert order == [0, 1]
    await clock.run_for(180)
    assert order == [0, 1, 2, 3, 4]
    await asyncio.gather(*tasks)


async def test_a_cancelled_waiter_takes_no_slot() -> None:
    clock = FakeClock(START)
    limiter = make(clock, requests_per_minute=1)
    (await limiter.acquire()).commit()
    head = asyncio.create_task(limiter.acquire())
    second = asyncio.create_task(limiter.acquire())
    await clock.run_until_idle()
    head.cancel()
    await clock.run_until_idle()
    assert head.cancelled()
    await clock.run_until(START + 60)
    assert second.done()  # the cancelled head left the queue and took nothing
    assert limiter.usage().get(Window.REQUESTS_PER_MINUTE).used == 1  # type: ignore[union-attr]
    assert limiter.waiting == 0


async def test_a_cancelled_waiter_in_the_middle_is_skipped() -> None:
    clock = FakeClock(START)
    limiter = make(clock, requests_per_minute=1)
    (await limiter.acquire()).commit()
    first, middle, last = (asyncio.create_task(limiter.acquire()) for _ in range(3))
    await clock.run_until_idle()
    middle.cancel()
    await clock.run_until(START + 60)
    assert first.done() and not last.done()
    await clock.run_until(START + 120)
    assert last.done()
    assert last.result().admitted_at == START + 120


async def test_wait_handle_cancel_ends_the_wait_with_wait_cancelled() -> None:
    clock = FakeClock(START)
    limiter = make(clock, requests_per_minute=1)
    handles: list[WaitHandle] = []

    def on_event(event: LimiterEvent) -> None:
        if event.kind is LimiterEventKind.WAIT_STARTED and event.handle is not None:
            handles.append(event.handle)

    limiter.add_listener(on_event)
    (await limiter.acquire()).commit()
    waiter = asyncio.create_task(limiter.acquire())
    follower = asyncio.create_task(limiter.acquire())
    await clock.run_until_idle()
    assert handles[0].until == START + 60
    assert handles[0].reason == "limit: 1 request per minute"
    handles[0].cancel()
    handles[0].cancel()  # twice is harmless
    await clock.run_until_idle()
    with pytest.raises(WaitCancelled) as caught:
        waiter.result()
    assert caught.value.outcome == "cancelled"
    assert "nothing was sent" in str(caught.value)
    await clock.run_until(START + 60)
    assert follower.done()
    # a non-head waiter can be cancelled through its handle too
    third = asyncio.create_task(limiter.acquire())
    fourth = asyncio.create_task(limiter.acquire())
    await clock.run_until_idle()
    handles[-1].cancel()
    await clock.run_until_idle()
    assert fourth.done() and isinstance(fourth.exception(), WaitCancelled)
    await clock.run_for(60)
    assert third.done()


async def test_a_small_request_does_not_overtake_a_queued_big_one() -> None:
    clock = FakeClock(START)
    limiter = make(clock, requests_per_minute=10, tokens_per_minute=1000)
    (await limiter.acquire(800)).commit()
    big = asyncio.create_task(limiter.acquire(900))
    await clock.run_until_idle()
    small = asyncio.create_task(limiter.acquire(100))  # would fit now, but the big one asked first
    await clock.run_until_idle()
    assert not small.done()
    await clock.run_until(START + 60)
    assert big.result().admitted_at == START + 60
    assert small.result().admitted_at == START + 60


async def test_try_acquire_never_waits_and_respects_the_queue() -> None:
    clock = FakeClock(START)
    limiter = make(clock, requests_per_minute=1)
    first = limiter.try_acquire()
    assert isinstance(first, Reservation)
    assert limiter.try_acquire() is None
    queued = asyncio.create_task(limiter.acquire())
    await clock.run_until_idle()
    clock.advance(60)  # a slot is free, but a waiter queued first
    assert limiter.try_acquire() is None
    await clock.run_until_idle()
    assert queued.done()


# --- tokens per minute -----------------------------------------------------------------------------------


async def test_tokens_are_reserved_then_corrected_from_actual_usage() -> None:
    clock = FakeClock(START)
    limiter = make(clock, requests_per_minute=100, tokens_per_minute=1000)
    first = await limiter.acquire(600)
    assert limiter.try_acquire(500) is None  # 600 reserved + 500 > 1000
    first.commit(300)  # the call used less
    second = limiter.try_acquire(500)
    assert second is not None
    usage = limiter.usage().get(Window.TOKENS_PER_MINUTE)
    assert usage is not None and usage.used == 800 and usage.limit == 1000


async def test_a_call_in_flight_when_the_ledger_reseeds_the_windows_leaves_their_tokens_alone() -> None:
    clock = FakeClock(START)
    limiter = make(clock, requests_per_minute=100, tokens_per_minute=1000)
    in_flight = await limiter.acquire(600)
    limiter.seed([START], [(START, 200)])  # the ledger's word replaces the windows the call was counted in
    in_flight.commit(300)  # its correction no longer has an entry to correct
    usage = limiter.usage().get(Window.TOKENS_PER_MINUTE)
    assert usage is not None and usage.used == 200


async def test_a_token_waiter_is_released_when_enough_tokens_expire() -> None:
    clock = FakeClock(START)
    limiter = make(clock, requests_per_minute=100, tokens_per_minute=1000)
    (await limiter.acquire(400)).commit()
    clock.advance(10)
    (await limiter.acquire(400)).commit()
    waiter = asyncio.create_task(limiter.acquire(500))  # needs the first 400 to expire
    await clock.run_until(START + 59)
    assert not waiter.done()
    await clock.run_until(START + 60)
    assert waiter.result().admitted_at == START + 60


async def test_lower_actual_usage_wakes_a_token_waiter_early() -> None:
    clock = FakeClock(START)
    limiter = make(clock, requests_per_minute=100, tokens_per_minute=1000)
    running = await limiter.acquire(900)
    waiter = asyncio.create_task(limiter.acquire(500))
    await clock.run_until_idle()
    clock.advance(3)
    running.commit(100)
    await clock.run_until_idle()
    assert waiter.result().admitted_at == START + 3


async def test_release_gives_the_slot_and_tokens_back() -> None:
    clock = FakeClock(START)
    limiter = make(clock, requests_per_minute=1, tokens_per_minute=1000, seconds_per_request=10)
    reservation = await limiter.acquire(700)
    waiter = asyncio.create_task(limiter.acquire(700))
    await clock.run_until_idle()
    reservation.release()
    reservation.release()
    reservation.commit(5)  # settled already: ignored
    await clock.run_until_idle()
    assert waiter.result().admitted_at == START
    assert limiter.usage().get(Window.REQUESTS_PER_MINUTE).used == 1  # type: ignore[union-attr]


async def test_a_request_bigger_than_the_token_limit_never_fits() -> None:
    clock = FakeClock(START)
    limiter = make(clock, requests_per_minute=10, tokens_per_minute=1000)
    with pytest.raises(LLMProviderError) as caught:
        await limiter.acquire(1500)
    assert caught.value.code is ErrorCode.INVALID_REQUEST
    assert "waiting cannot help" in caught.value.message
    assert limiter.next_free_at(1500) == float("inf")
    (await limiter.acquire(1000)).commit()
    queued = asyncio.create_task(limiter.acquire(10))
    await clock.run_until_idle()
    with pytest.raises(LLMProviderError):  # also when others are queued
        limiter.try_acquire(2000)
    queued.cancel()


# --- requests per day ------------------------------------------------------------------------------------


async def test_requests_per_day_rolling_24_hours() -> None:
    clock = FakeClock(START)
    limiter = make(clock, requests_per_minute=10, requests_per_day=2)
    (await limiter.acquire()).commit()
    clock.advance(3600)
    (await limiter.acquire()).commit()
    assert limiter.next_free_at() == START + 86_400
    usage = limiter.usage().get(Window.REQUESTS_PER_DAY)
    assert usage is not None and usage.used == 2 and usage.full and usage.frees_at == START + 86_400
    waiter = asyncio.create_task(limiter.acquire())
    await clock.run_until(START + 86_399)
    assert not waiter.done()
    await clock.run_until(START + 86_400)
    assert waiter.result().admitted_at == START + 86_400


async def test_requests_per_day_reset_at_local_midnight_in_the_catalogue_timezone() -> None:
    la = ZoneInfo("America/Los_Angeles")
    start = datetime(2024, 3, 9, 22, 0, tzinfo=la).timestamp()  # the night before DST starts
    clock = FakeClock(start)
    limiter = SlidingWindowLimiter(
        "gemini",
        "gemini-2.5-flash",
        RateLimitConfig(
            requests_per_minute=10, requests_per_day=1, daily_reset_timezone="America/Los_Angeles"
        ),
        clock=clock,
    )
    (await limiter.acquire()).commit()
    midnight = datetime(2024, 3, 10, 0, 0, tzinfo=la).timestamp()
    assert limiter.next_free_at() == midnight
    assert limiter.usage().get(Window.REQUESTS_PER_DAY).frees_at == midnight  # type: ignore[union-attr]
    waiter = asyncio.create_task(limiter.acquire())
    await clock.run_until(midnight - 1)
    assert not waiter.done()
    await clock.run_until(midnight)
    assert waiter.result().admitted_at == midnight
    # 2024-03-10 is 23 h long in Los Angeles: the next reset is 23 h later, not 24
    assert limiter.next_free_at() == datetime(2024, 3, 11, 0, 0, tzinfo=la).timestamp()
    assert limiter.next_free_at() - midnight == 23 * 3600


# --- holds the provider imposes ----------------------------------------------------------------------------


async def test_hold_until_keeps_every_caller_back_even_when_local_limits_are_off() -> None:
    clock = FakeClock(START)
    limiter = make(clock, enabled=False)
    limiter.hold_until(START + 30, "Groq answered 429", Window.REQUESTS_PER_MINUTE)
    limiter.hold_until(START + 10, "shorter: ignored")
    limiter.hold_until(START - 10, "past: ignored")
    assert limiter.next_free_at() == START + 30
    usage = limiter.usage()
    assert usage.hold_until == START + 30 and usage.hold_reason == "Groq answered 429"
    assert usage.get(Window.REQUESTS_PER_MINUTE).limit is None  # type: ignore[union-attr]
    waiter = asyncio.create_task(limiter.acquire())
    await clock.run_until(START + 30)
    assert waiter.result().admitted_at == START + 30
    limiter.hold_until(START + 100, "again")
    limiter.clear_hold()
    limiter.clear_hold()
    assert limiter.next_free_at() == clock.now()


async def test_a_longer_hold_extends_a_wait_in_progress() -> None:
    clock = FakeClock(START)
    limiter = make(clock, requests_per_minute=1)
    (await limiter.acquire()).commit()
    waiter = asyncio.create_task(limiter.acquire())
    await clock.run_until(START + 20)
    limiter.hold_until(START + 90, "daily limit")
    await clock.run_until(START + 89)
    assert not waiter.done()
    await clock.run_until(START + 90)
    assert waiter.result().admitted_at == START + 90


async def test_observe_holds_on_a_used_up_window_and_on_retry_after() -> None:
    clock = FakeClock(START)
    limiter = make(clock, enabled=False)
    snapshot = RateLimitSnapshot(
        "groq",
        "llama",
        windows=(
            WindowLimit(Window.REQUESTS_PER_DAY, 1000, 0, START + 3600, LimitSource.PROVIDER, START),
            WindowLimit(Window.TOKENS_PER_MINUTE, 6000, 500, START + 5, LimitSource.PROVIDER, START),
        ),
    )
    limiter.observe(snapshot)
    limiter.observe(None)
    assert limiter.next_free_at() == START + 3600
    assert "daily request limit" in (limiter.usage().hold_reason or "")
    other = make(clock, enabled=False)
    other.observe(RateLimitSnapshot("groq", "llama", retry_after=2.0, observed_at=START))
    assert other.next_free_at() == START + 2


async def test_max_wait_fails_fast_with_quota_exhausted_and_the_reset_time() -> None:
    clock = FakeClock(START)  # 22:13:20 UTC
    limiter = make(clock, requests_per_minute=10)
    limiter.hold_until(START + 3 * 3600, "Groq's daily request limit is used up", Window.REQUESTS_PER_DAY)
    with pytest.raises(LimitWaitTooLong) as caught:
        await limiter.acquire(max_wait=120)
    error = caught.value
    assert error.code is ErrorCode.QUOTA_EXHAUSTED
    assert str(error) == "Groq's daily request limit is used up; it resets tomorrow at 01:13."
    assert error.retry_after == 3 * 3600 and error.window is Window.REQUESTS_PER_DAY
    assert limiter.waiting == 0
    assert limiter.check(max_wait=120) is not None
    assert limiter.check(max_wait=4 * 3600) is None


async def test_max_wait_messages_for_a_local_limit_and_an_unexplained_hold() -> None:
    clock = FakeClock(START)
    limiter = make(clock, requests_per_minute=10, requests_per_day=1)
    (await limiter.acquire()).commit()
    with pytest.raises(LimitWaitTooLong) as caught:
        await limiter.acquire(max_wait=60)
    assert "The limit set for Groq (1 request per day) is reached" in str(caught.value)
    assert "tomorrow at 22:13" in str(caught.value)
    held = make(clock, enabled=False)
    held.hold_until(START + 600, "asked to wait")
    with pytest.raises(LimitWaitTooLong) as caught:
        await held.acquire(max_wait=60)
    assert str(caught.value).startswith("Groq asked the app to pause until 22:23:20")


async def test_max_wait_allows_a_wait_that_fits() -> None:
    clock = FakeClock(START)
    limiter = make(clock, requests_per_minute=1)
    (await limiter.acquire()).commit()
    waiter = asyncio.create_task(limiter.acquire(max_wait=60))
    await clock.run_for(60)
    assert waiter.result().admitted_at == START + 60


# --- configuration, seeding, usage -----------------------------------------------------------------------


async def test_configure_live_releases_waiters_when_the_limit_rises() -> None:
    clock = FakeClock(START)
    limiter = make(clock, requests_per_minute=1)
    (await limiter.acquire()).commit()
    waiter = asyncio.create_task(limiter.acquire())
    await clock.run_until(START + 5)
    limiter.configure(RateLimitConfig(requests_per_minute=5))
    await clock.run_until_idle()
    assert waiter.result().admitted_at == START + 5
    limiter.configure(RateLimitConfig(enabled=False, requests_per_minute=1))
    for _ in range(10):
        assert limiter.try_acquire() is not None
    assert limiter.config.enabled is False


async def test_seed_from_ledger_times_and_tokens() -> None:
    clock = FakeClock(START)
    limiter = make(clock, requests_per_minute=2, tokens_per_minute=1000, seconds_per_request=40)
    limiter.seed([START - 100, START - 50, START - 20, START + 5], [(START - 20, 900), (START - 50, None)])
    assert limiter.usage().get(Window.REQUESTS_PER_MINUTE).used == 2  # type: ignore[union-attr]
    assert limiter.usage().get(Window.TOKENS_PER_MINUTE).used == 900  # type: ignore[union-attr]
    assert limiter.next_free_at() == START + 20  # spacing after the last request (START - 20) + 40
    assert limiter.next_free_at(200) == START + 40  # the 900 tokens leave at START - 20 + 60


async def test_usage_reports_every_configured_dimension() -> None:
    clock = FakeClock(START)
    limiter = make(
        clock, requests_per_minute=3, tokens_per_minute=500, requests_per_day=100, seconds_per_request=2
    )
    (await limiter.acquire(120)).commit()
    usage = limiter.usage()
    assert [d.window for d in usage.dimensions] == [
        Window.REQUESTS_PER_MINUTE,
        Window.TOKENS_PER_MINUTE,
        Window.REQUESTS_PER_DAY,
    ]
    assert usage.get(Window.REQUESTS_PER_MINUTE).frees_at == START + 60  # type: ignore[union-attr]
    assert usage.get(Window.TOKENS_PER_DAY) is None
    assert usage.next_free_at == START + 2 and usage.seconds_per_request == 2
    assert usage.waiting == 0 and usage.enabled
    assert "groq/llama" in repr(limiter) and limiter.key == ("groq", "llama") and limiter.name == "groq/llama"


async def test_listeners_see_events_and_a_failing_listener_is_contained() -> None:
    clock = FakeClock(START)
    limiter = make(clock, requests_per_minute=1)
    kinds: list[LimiterEventKind] = []

    def broken(_event: object) -> None:
        raise RuntimeError("boom")

    remove = limiter.add_listener(lambda e: kinds.append(e.kind))
    limiter.add_listener(broken)
    (await limiter.acquire()).commit()
    waiter = asyncio.create_task(limiter.acquire())
    await clock.run_for(60)
    assert waiter.done()
    assert kinds[:4] == [
        LimiterEventKind.ADMITTED,
        LimiterEventKind.WAIT_STARTED,
        LimiterEventKind.ADMITTED,
        LimiterEventKind.WAIT_ENDED,
    ]
    remove()
    remove()
    limiter.configure(RateLimitConfig(requests_per_minute=2))
    assert LimiterEventKind.CONFIGURED not in kinds


# --- registry --------------------------------------------------------------------------------------------


class FakeLedger:
    def __init__(self, times: list[float], tokens: list[tuple[float, int | None]]) -> None:
        self.times, self.tokens = times, tokens
        self.calls: list[tuple[str, str | None, float]] = []

    def request_times(self, provider: str, model: str | None, since: float) -> list[float]:
        self.calls.append((provider, model, since))
        return [t for t in self.times if t >= since]

    def request_tokens_since(
        self, provider: str, model: str | None, since: float
    ) -> list[tuple[float, int | None]]:
        return [(t, n) for t, n in self.tokens if t >= since]


async def test_registry_keys_limiters_per_model_where_the_catalogue_says_so() -> None:
    clock = FakeClock(START)
    registry = RateLimiterRegistry(clock)
    groq_a = registry.limiter("groq", "a")
    assert registry.limiter("groq", "a") is groq_a
    assert registry.limiter("groq", "b") is not groq_a
    assert registry.limiter("ollama", "x") is registry.limiter("ollama", "y")
    assert limit_key("ollama", "x") == ("ollama", None)
    assert limit_key("custom", "m") == ("custom", "m")
    assert groq_a.config.requests_per_minute == 2 and groq_a.config.enabled
    assert registry.limiter("gemini", "g").config.daily_reset_timezone == "America/Los_Angeles"
    assert not registry.limiter("ollama").config.enabled
    registry.configure("groq", RateLimitConfig(requests_per_minute=7))
    assert groq_a.config.requests_per_minute == 7
    assert registry.limiter("groq", "c").config.requests_per_minute == 7
    assert len(registry.limiters()) == 5


async def test_registry_seeds_from_the_ledger_now_and_later() -> None:
    clock = FakeClock(START)
    ledger = FakeLedger([START - 30, START - 10], [(START - 10, 50)])
    registry = RateLimiterRegistry(clock)
    existing = registry.limiter("groq", "llama-3.3-70b-versatile")
    registry.seed_from(ledger)
    assert existing.usage().get(Window.REQUESTS_PER_MINUTE).used == 2  # type: ignore[union-attr]
    assert existing.try_acquire() is None  # 2 RPM: full after a restart too
    later = registry.limiter("ollama", "llama3.2")
    assert ledger.calls[-1][:2] == ("ollama", None)  # per-provider limits read every model
    assert ledger.calls[-1][2] <= START - 86_400
    assert later.usage().get(Window.REQUESTS_PER_MINUTE).used == 2  # type: ignore[union-attr]


async def test_registry_survives_a_broken_ledger(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        def request_times(self, provider: str, model: str | None, since: float) -> list[float]:
            raise OSError("disk gone")

        def request_tokens_since(
            self, provider: str, model: str | None, since: float
        ) -> list[tuple[float, int]]:
            return []

    registry = RateLimiterRegistry(FakeClock(START), ledger=Broken())
    limiter = registry.limiter("groq", "m")
    assert limiter.try_acquire() is not None
    assert "could not read the request ledger" in caplog.text


async def test_registry_listener_reaches_present_and_future_limiters() -> None:
    registry = RateLimiterRegistry(FakeClock(START))
    early = registry.limiter("groq", "a")
    seen: list[tuple[LimiterEventKind, str | None]] = []
    registry.add_listener(lambda e: seen.append((e.kind, e.limiter.model)))
    registry.limiter("groq", "b")
    early.try_acquire()
    assert (LimiterEventKind.CREATED, "b") in seen and (LimiterEventKind.ADMITTED, "a") in seen


# --- words -----------------------------------------------------------------------------------------------


def test_a_wait_in_words() -> None:
    assert describe_wait(0, "words") == "0 seconds"
    assert describe_wait(1, "words") == "1 second"
    assert describe_wait(14.2, "words") == "15 seconds"
    assert describe_wait(65, "words") == "1 minute 5 seconds"
    assert describe_wait(120, "words") == "2 minutes"
    assert describe_wait(3600, "words") == "1 hour"
    assert describe_wait(2 * 3600 + 180, "words") == "2 hours 3 minutes"


def test_format_clock_time_and_quota_sentence() -> None:
    now = datetime(2025, 3, 4, 8, 0, tzinfo=UTC).timestamp()
    assert format_clock_time(now + 3600, now, UTC) == "at 09:00"
    assert format_clock_time(now + 30, now, UTC, seconds=True) == "at 08:00:30"
    assert format_clock_time(now + 86_400, now, UTC) == "tomorrow at 08:00"
    assert format_clock_time(now + 3 * 86_400, now, UTC) == "on Fri 7 Mar at 08:00"
    assert (
        quota_sentence("groq", Window.REQUESTS_PER_DAY, now + 3600, now, UTC)
        == "Groq's daily request limit is used up; it resets at 09:00."
    )
    assert (
        quota_sentence("gemini", None, now + 45, now, UTC)
        == "Gemini's quota is used up; it resets at 08:00:45."
    )
    assert "Custom's" in quota_sentence("custom", Window.TOKENS_PER_MINUTE, now + 5, now, UTC)
    assert format_clock_time(now, now)  # the system's local time zone works too

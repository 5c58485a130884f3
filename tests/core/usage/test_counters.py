"""Daily counters on each provider's own day, loaded from the ledger and kept up to date; the limiter's
requests-per-day dimension reads them."""

from __future__ import annotations

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

from app.core.ratelimit.clock import FakeClock
from app.core.ratelimit.limiter import SlidingWindowLimiter
from app.core.ratelimit.settings import RateLimitConfig
from app.core.ratelimit.snapshot import Window
from app.core.usage.counters import UsageCounters
from app.store import Store
from app.store.usage import UsageTotals
from tests.core.usage.usage_records import call

LA = ZoneInfo("America/Los_Angeles")


def la(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=LA).timestamp()


def write(store: Store, counters: UsageCounters, *records: object) -> None:
    for record in records:
        store.record_request(record)  # type: ignore[arg-type]
        counters.record(record)  # type: ignore[arg-type]


def test_gemini_counts_reset_at_midnight_pacific_across_the_dst_change(store: Store) -> None:
    clock = FakeClock(la("2025-11-01T23:58:00"))
    counters = UsageCounters(store, clock=clock)
    write(store, counters, call("gemini", "gemini-2.5-flash", clock.now()))
    assert counters.day("gemini").totals.requests == 1
    clock.advance(3 * 60)  # 00:01 on 2 Nov, Pacific: a new Gemini day
    assert counters.day("gemini").totals.requests == 0
    write(
        store,
        counters,
        call("gemini", "gemini-2.5-flash", clock.now()),
        call("gemini", "gemini-2.5-pro", clock.now()),
    )
    today = counters.day("gemini")
    assert today.totals.requests == 2
    assert today.end - today.start == 25 * 3600  # 2 Nov 2025 is the day clocks go back
    assert counters.day("gemini", "gemini-2.5-pro").totals.requests == 1
    assert counters.month("gemini").totals.requests == 3
    # A second process reads the same figures from the ledger.
    assert UsageCounters(store, clock=clock).day("gemini").totals.requests == 2
    clock.advance_to(today.end - 1)  # 23:59:59 PST: still the same day
    assert counters.day("gemini").totals.requests == 2
    clock.advance(2)
    assert counters.day("gemini").totals.requests == 0


def test_groq_counts_utc_days_and_sums_tokens_cost_errors_and_hits(store: Store) -> None:
    clock = FakeClock(datetime.fromisoformat("2025-11-21T23:59:00+00:00").timestamp())
    counters = UsageCounters(store, clock=clock)
    seen: list[tuple[str, str]] = []
    counters.subscribe(lambda p, m: seen.append((p, m)))
    write(
        store,
        counters,
        call("groq", "a", clock.now()),
        call(
            "groq",
            "a",
            clock.now(),
            outcome="error",
            error_code="RATE_LIMIT_EXCEEDED",
            prompt_tokens=None,
            completion_tokens=None,
            cost_usd=0.0,
        ),
        call("groq", "a", clock.now(), outcome="cancelled", cost_usd=None),
        call("groq", "a", clock.now(), cached=True, prompt_tokens=None, completion_tokens=None, cost_usd=0.0),
    )
    totals = counters.day("groq", "a").totals
    assert totals == UsageTotals(
        requests=3,
        errors=1,
        cancelled=1,
        cached=1,
        prompt_tokens=20,
        completion_tokens=40,
        cost_usd=0.001,
        cost_unknown=1,
    )
    assert totals.cost is None  # part of it is unknown: no number
    assert len(seen) == 4
    clock.advance(60)
    assert counters.day("groq").totals.requests == 0


def test_without_a_ledger_counting_starts_from_zero() -> None:
    clock = FakeClock(1_700_000_000.0)
    counters = UsageCounters(None, clock=clock)
    counters.record(call("groq", "a", clock.now()))  # not loaded yet: read from the (absent) ledger later
    counters.day("groq")
    counters.record(call("groq", "a", clock.now()))
    assert counters.requests_in_day("groq", "a", clock.now())[0] == 1
    counters.reload()
    assert counters.day("groq").totals.requests == 0


def test_a_broken_ledger_is_logged_and_counted_from_zero() -> None:
    class Broken:
        def usage_by_model(self, provider: str, since: float, until: float) -> dict[str, UsageTotals]:
            raise OSError("disk gone")

    counters = UsageCounters(Broken(), clock=FakeClock())
    assert counters.day("groq").totals == UsageTotals()


async def test_the_limiters_requests_per_day_read_the_counters_and_free_at_midnight_pacific(
    store: Store,
) -> None:
    clock = FakeClock(la("2025-11-02T22:00:00"))  # the 25-hour day
    counters = UsageCounters(store, clock=clock)
    config = RateLimitConfig(enabled=True, requests_per_minute=100, requests_per_day=2)
    limiter = SlidingWindowLimiter("gemini", "gemini-2.5-flash", config, clock=clock)
    limiter.use_daily_count(counters)
    write(store, counters, call("gemini", "gemini-2.5-flash", clock.now()))  # sent earlier today
    reservation = limiter.try_acquire()
    assert reservation is not None
    usage = limiter.usage().get(Window.REQUESTS_PER_DAY)
    assert usage is not None and usage.used == 2  # one in the ledger, one in flight
    reservation.commit(30)
    write(store, counters, call("gemini", "gemini-2.5-flash", clock.now()))
    assert limiter.try_acquire() is None
    midnight = la("2025-11-03T00:00:00")
    assert limiter.next_free_at() == midnight
    waiter = asyncio.ensure_future(limiter.acquire())
    await clock.run_until(midnight - 1)
    assert not waiter.done()
    await clock.run_until(midnight)
    assert waiter.done()
    waiter.result().release()
    usage = limiter.usage().get(Window.REQUESTS_PER_DAY)
    assert usage is not None and usage.used == 0

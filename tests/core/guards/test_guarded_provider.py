"""GuardedProvider: the ledger, the call report, what it feeds the state, and the factory."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from guard_fakes import MESSAGES, START, FakeGroq, FakeOllama, Reply, error, make_guards

from app.core.errors import ErrorCode, LLMProviderError
from app.core.guards import CallReport, GuardedProvider, ProviderGuards, guard
from app.core.guards.guarded import estimate_tokens
from app.core.ratelimit.clock import FakeClock
from app.core.ratelimit.settings import GuardSettings, RateLimitConfig, RetryConfig
from app.core.ratelimit.snapshot import LimitSource, RateLimitSnapshot, Window, WindowLimit
from app.core.types import ChatMessage, GenerateOptions, GenerateResult, TokenUsage
from app.store.records import RequestRecord


def groq_snapshot(remaining: int, at: float) -> RateLimitSnapshot:
    return RateLimitSnapshot(
        "groq",
        "llama-3.3-70b-versatile",
        windows=(
            WindowLimit(Window.REQUESTS_PER_DAY, 1000, remaining, at + 170, LimitSource.PROVIDER, at),
            WindowLimit(Window.TOKENS_PER_MINUTE, 12000, 11000, at + 7, LimitSource.PROVIDER, at),
        ),
        observed_at=at,
    )


async def test_every_attempt_is_reported_to_the_ledger_priced() -> None:
    clock = FakeClock(START)
    ledger: list[RequestRecord] = []
    priced: list[tuple[str, str, int | None, int | None]] = []

    def list_price(provider: str, model: str, prompt: int | None, completion: int | None) -> float | None:
        priced.append((provider, model, prompt, completion))
        return None if prompt is None else (prompt + 2 * (completion or 0)) / 1000

    guards = make_guards(clock, on_attempt=ledger.append, list_price=list_price)
    provider = guards.wrap(
        FakeGroq([error(ErrorCode.PROVIDER_UNAVAILABLE, status=503), Reply("ok")], clock=clock)
    )
    task = asyncio.ensure_future(provider.chat(MESSAGES))
    await clock.run_for(10)
    assert task.result().text == "ok"
    first, second = ledger
    assert first == RequestRecord(
        provider="groq",
        model="llama-3.3-70b-versatile",
        started_at=START,
        outcome="error",
        finished_at=START,
        latency_ms=0.0,
        error_code="PROVIDER_UNAVAILABLE",
        attempt=1,
        cost_usd=None,  # nothing was used, and the list price says so
    )
    assert (second.outcome, second.attempt, second.started_at, second.total_tokens) == (
        "ok",
        2,
        START + 1,
        30,
    )
    assert (second.prompt_tokens, second.completion_tokens) == (10, 20)
    assert second.latency_ms is not None and second.latency_ms >= 0
    assert second.cost_usd == 0.05  # (10 + 2 * 20) / 1000: priced as the row is made
    assert priced == [
        ("groq", "llama-3.3-70b-versatile", None, None),
        ("groq", "llama-3.3-70b-versatile", 10, 20),
    ]


async def test_without_a_price_list_an_attempts_cost_is_unknown() -> None:
    clock = FakeClock(START)
    ledger: list[RequestRecord] = []
    provider = make_guards(clock, on_attempt=ledger.append).wrap(FakeGroq([Reply("ok")], clock=clock))
    await provider.chat(MESSAGES)
    assert [record.cost_usd for record in ledger] == [None]


async def test_an_async_ledger_callback_is_scheduled_and_failures_are_only_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock(START)
    written: list[str] = []

    async def write(record: RequestRecord) -> None:
        written.append(record.outcome)

    provider = make_guards(clock, on_attempt=write).wrap(FakeGroq([Reply("a")], clock=clock))
    await provider.chat(MESSAGES)
    await clock.run_until_idle()
    assert written == ["ok"]

    async def broken_async(record: RequestRecord) -> None:
        raise OSError("database is locked")

    def broken_sync(record: RequestRecord) -> None:
        raise OSError("disk full")

    for callback in (broken_async, broken_sync):
        provider = make_guards(clock, on_attempt=callback).wrap(FakeGroq([Reply("a")], clock=clock))
        assert (await provider.chat(MESSAGES)).text == "a"  # the call itself never fails for the ledger
        await clock.run_until_idle()
    assert caplog.text.count("could not report an attempt to the ledger") == 2


async def test_seeding_from_the_ledger_carries_the_window_over_a_restart() -> None:
    clock = FakeClock(START)
    ledger: list[RequestRecord] = []
    limits = {"groq": RateLimitConfig(requests_per_minute=2)}
    before = make_guards(clock, limits=limits, on_attempt=ledger.append).wrap(FakeGroq([], clock=clock))
    await before.chat(MESSAGES)
    clock.advance(10)
    await before.chat(MESSAGES)

    class Store:
        def request_times(self, provider: str, model: str | None, since: float) -> list[float]:
            return [r.started_at for r in ledger if r.provider == provider and r.started_at >= since]

        def request_tokens_since(
            self, provider: str, model: str | None, since: float
        ) -> list[tuple[float, int]]:
            return [(r.started_at, r.total_tokens or 0) for r in ledger if r.started_at >= since]

    restarted = make_guards(clock, limits=limits)
    restarted.seed_from(Store())
    inner = FakeGroq([], clock=clock)
    provider = restarted.wrap(inner)
    task = asyncio.ensure_future(provider.chat(MESSAGES))
    await clock.run_until(START + 59.9)
    assert inner.calls == 0  # still 2 requests in the last 60 s, as before the restart
    await clock.run_until(START + 60)
    assert task.done() and inner.calls == 1


async def test_token_reservation_is_corrected_from_the_actual_usage() -> None:
    clock = FakeClock(START)
    guards = make_guards(
        clock, limits={"groq": RateLimitConfig(requests_per_minute=10, tokens_per_minute=5000)}
    )
    inner = FakeGroq([Reply(usage=TokenUsage(100, 300, 400))], clock=clock)
    provider = guards.wrap(inner)
    options = GenerateOptions(max_output_tokens=2000)
    await provider.chat(MESSAGES, options=options)
    usage = provider.limiter.usage().get(Window.TOKENS_PER_MINUTE)
    assert usage is not None and usage.used == 400
    assert estimate_tokens([ChatMessage("user", "x" * 400)], "y" * 40, options) == 110 + 2000
    assert estimate_tokens(MESSAGES, None, None) == 7


async def test_a_reply_reporting_a_window_used_up_holds_the_very_next_call() -> None:
    clock = FakeClock(START)
    used_up = RateLimitSnapshot(
        "groq",
        "llama-3.3-70b-versatile",
        windows=(WindowLimit(Window.REQUESTS_PER_DAY, 1000, 0, START + 170, LimitSource.PROVIDER, START),),
        observed_at=START,
    )
    provider = make_guards(clock).wrap(FakeGroq([Reply(snapshot=used_up)], clock=clock))
    items = [item async for item in provider.stream(MESSAGES)]
    # What the reply reported is taken in after it, on the loop's next turn, so the caller had its reply
    # first; but the next call, asked for before that turn, already waits for the reset.
    assert items[-1].rate_limits is used_up and provider.limiter.after_reply
    assert provider.limiter.next_free_at() == START + 170
    assert not provider.limiter.after_reply


async def test_a_replys_headers_are_parsed_after_the_caller_has_it(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock(START)
    inner = FakeGroq([Reply(snapshot=groq_snapshot(remaining=5, at=START))], clock=clock)
    parsed: list[object] = []
    parse = inner.rate_limit_snapshot
    monkeypatch.setattr(inner, "rate_limit_snapshot", lambda *args: parsed.append(args) or parse(*args))
    provider = make_guards(clock).wrap(inner)
    items = [item async for item in provider.stream(MESSAGES)]
    assert isinstance(items[-1], GenerateResult) and not parsed  # the reply came back unparsed
    await asyncio.sleep(0)  # the loop's next turn: the guards take in what the headers say
    assert len(parsed) == 1 and not provider.limiter.after_reply
    assert items[-1].rate_limits is not None and len(parsed) == 1  # read once, kept


async def test_snapshots_from_results_and_errors_feed_the_state_and_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    clock = FakeClock(START)
    refusal = error(ErrorCode.RATE_LIMIT_EXCEEDED, retry_after=2, window=Window.REQUESTS_PER_MINUTE)
    headers = groq_snapshot(999, START)
    refused = WindowLimit(Window.REQUESTS_PER_MINUTE, 30, 0, START + 2, LimitSource.PROVIDER, START)
    refusal.snapshot = RateLimitSnapshot("groq", headers.model, (*headers.windows, refused), 2.0, START)
    guards = make_guards(clock)
    inner = FakeGroq([refusal, Reply(snapshot=groq_snapshot(998, START + 2))], clock=clock)
    provider = guards.wrap(inner)
    task = asyncio.ensure_future(provider.chat(MESSAGES))
    await clock.run_until_idle()
    view = guards.state.view("groq", inner.model)
    assert view.reported_window(Window.REQUESTS_PER_MINUTE).remaining == 0  # type: ignore[union-attr]
    assert view.hold_until == START + 2
    assert view.last_error is not None and view.last_error.code == "RATE_LIMIT_EXCEEDED"
    await clock.run_for(180)
    task.result()
    view = guards.state.view("groq", inner.model)
    rpd = view.reported_window(Window.REQUESTS_PER_DAY)
    assert rpd is not None and (rpd.remaining, rpd.limit, rpd.observed_at) == (998, 1000, START + 2)
    assert rpd.source is LimitSource.PROVIDER
    assert view.reported_window(Window.REQUESTS_PER_MINUTE).observed_at == START  # type: ignore[union-attr]
    assert "[GroqProvider] Rate limit: 998/1000 requests remaining" in caplog.text
    assert "[GroqProvider] Rate limit: 11000/12000 tokens remaining" in caplog.text


async def test_a_cancelled_call_counts_its_slot_and_reports_cancelled() -> None:
    clock = FakeClock(START)
    gate = asyncio.Event()
    ledger: list[RequestRecord] = []
    guards = make_guards(
        clock, limits={"groq": RateLimitConfig(requests_per_minute=5)}, on_attempt=ledger.append
    )
    inner = FakeGroq([], clock=clock)

    async def hang(request: Any) -> Any:
        await gate.wait()

    inner._complete = hang  # type: ignore[method-assign]
    provider = guards.wrap(inner)
    report = CallReport()
    task = asyncio.ensure_future(provider.chat(MESSAGES, report=report))
    await clock.run_until_idle()
    task.cancel()
    await clock.run_until_idle()
    assert task.cancelled()
    assert report.outcome == "cancelled" and ledger[0].outcome == "cancelled"
    assert provider.limiter.usage().get(Window.REQUESTS_PER_MINUTE).used == 1  # type: ignore[union-attr]


async def test_a_call_cancelled_while_waiting_for_a_slot_sends_and_records_nothing() -> None:
    clock = FakeClock(START)
    ledger: list[RequestRecord] = []
    guards = make_guards(
        clock, limits={"groq": RateLimitConfig(requests_per_minute=1)}, on_attempt=ledger.append
    )
    inner = FakeGroq([], clock=clock)
    provider = guards.wrap(inner)
    await provider.chat(MESSAGES)
    report = CallReport()
    task = asyncio.ensure_future(provider.chat(MESSAGES, report=report))
    await clock.run_for(20)
    view = guards.state.view("groq", inner.model)
    assert view.active_wait is not None and view.active_wait.kind == "rate_limit"
    assert view.active_wait.until == START + 60
    view.active_wait.cancel()
    await clock.run_until_idle()
    assert task.exception() is not None and report.outcome == "cancelled"
    assert report.waited_ms == 20_000
    assert inner.calls == 1 and len(ledger) == 1
    assert provider.limiter.usage().get(Window.REQUESTS_PER_MINUTE).used == 1  # type: ignore[union-attr]


async def test_health_list_models_and_close_pass_through() -> None:
    clock = FakeClock(START)
    guards = make_guards(clock)
    inner = FakeGroq([Reply(snapshot=groq_snapshot(5, START))], clock=clock)
    provider = guards.wrap(inner)
    provider.breaker.record_failure(error(ErrorCode.NETWORK_ERROR, message="Connection refused"))
    assert (await provider.list_models())[0].id == inner.model
    report = await provider.health()  # the default probe lists models: no snapshot
    assert report.reachable
    assert provider.breaker.state.value == "closed"  # the provider answered

    async def probe_with_snapshot() -> RateLimitSnapshot:
        return groq_snapshot(5, START)

    inner._probe = probe_with_snapshot  # type: ignore[method-assign]
    await provider.health()
    await asyncio.sleep(0)  # the panel's state takes in what was reported on the loop's next turn
    assert guards.state.view("groq", inner.model).reported_window(Window.REQUESTS_PER_DAY).remaining == 5  # type: ignore[union-attr]
    await provider.aclose()
    assert inner.closed
    assert (provider.name, provider.label, provider.settings.name) == ("groq", "Groq", "groq")
    assert repr(provider) == "GuardedProvider(groq/llama-3.3-70b-versatile)"


async def test_the_factory_wraps_once_and_applies_settings_live() -> None:
    clock = FakeClock(START)
    guards = ProviderGuards(GuardSettings(), clock=clock)
    inner = FakeGroq([], clock=clock)
    provider = guards.wrap(inner)
    assert guards.wrap(provider) is provider
    assert guards.breaker("groq") is provider.breaker
    assert provider.limiter.config.requests_per_minute == 2  # the catalogue default
    guards.apply(
        GuardSettings(
            limits={"groq": RateLimitConfig(requests_per_minute=9)}, retry=RetryConfig(max_attempts=2)
        )
    )
    assert provider.limiter.config.requests_per_minute == 9
    assert provider.policy.config.max_attempts == 2
    single = guard(FakeOllama([], clock=clock), clock=clock)
    assert isinstance(single, GuardedProvider) and not single.limiter.config.enabled
    assert (await single.chat(MESSAGES)).text == "ok"


async def test_blocked_says_why_a_call_would_fail_at_once() -> None:
    clock = FakeClock(START)
    provider = make_guards(clock).wrap(FakeGroq([], clock=clock))
    assert provider.blocked() is None
    provider.limiter.hold_until(START + 600, "used up", Window.REQUESTS_PER_DAY)
    blocked = provider.blocked()
    assert blocked is not None and blocked.code is ErrorCode.QUOTA_EXHAUSTED


async def test_a_missing_key_fails_before_taking_a_slot() -> None:
    from app.core.config import ProviderSettings

    clock = FakeClock(START)
    ledger: list[RequestRecord] = []
    guards = make_guards(
        clock, limits={"groq": RateLimitConfig(requests_per_minute=1)}, on_attempt=ledger.append
    )
    inner = FakeGroq([], clock=clock)
    inner.settings = ProviderSettings("groq", inner.model, api_key="your_key_here")
    provider = guards.wrap(inner)
    report = CallReport()
    with pytest.raises(LLMProviderError) as caught:
        await provider.chat(MESSAGES, report=report)
    assert caught.value.code is ErrorCode.AUTHENTICATION_FAILED and "GROQ_API_KEY" in caught.value.message
    assert ledger == [] and report.outcome == "error" and inner.calls == 0
    assert provider.limiter.usage().get(Window.REQUESTS_PER_MINUTE).used == 0  # type: ignore[union-attr]


def test_the_constructor_takes_the_parts_in_order() -> None:
    from app.core.guards import CircuitBreaker, RetryPolicy
    from app.core.ratelimit.limiter import SlidingWindowLimiter
    from app.core.ratelimit.state import RateLimitState

    clock = FakeClock(START)
    inner = FakeGroq([], clock=clock)
    limiter = SlidingWindowLimiter("groq", inner.model, RateLimitConfig(), clock=clock)
    state = RateLimitState(clock)
    provider = GuardedProvider(
        inner, limiter, CircuitBreaker("groq", clock=clock), RetryPolicy(), state, clock
    )
    assert provider.state is state and provider.clock is clock
    assert state.view("groq", inner.model).rpm_limit == 60


class SlowClock(FakeClock):
    """Every reading is 5 ms after the last: a machine so busy that even an admission takes time."""

    def now(self) -> float:
        self.advance(0.005)
        return super().now()


async def test_an_admission_that_did_not_queue_reports_no_wait_however_long_it_took() -> None:
    clock = SlowClock(START)
    guards = make_guards(clock, limits={"groq": RateLimitConfig(requests_per_minute=2)})
    provider = guards.wrap(FakeGroq([Reply("one"), Reply("two"), Reply("three")], clock=clock))
    report = CallReport()
    assert (await provider.chat(MESSAGES, report=report)).text == "one"
    assert report.waited_ms == 0.0
    await provider.chat(MESSAGES)
    waited = CallReport()
    task = asyncio.ensure_future(provider.chat(MESSAGES, report=waited))  # the third in a minute queues
    await clock.run_for(70)
    assert task.result().text == "three"
    assert 55_000 <= waited.waited_ms <= 61_000

"""The 429 policy and transient retries, through GuardedProvider with scripted fake providers (fake clock)."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from guard_fakes import MESSAGES, START, FakeGroq, Reply, error, make_guards

from app.core.errors import ErrorCode, LLMProviderError
from app.core.guards import CallReport, GuardedProvider, RetryPolicy
from app.core.guards.breaker import CircuitOpenError
from app.core.ratelimit.clock import FakeClock
from app.core.ratelimit.limiter import WaitCancelled
from app.core.ratelimit.settings import RetryConfig
from app.core.ratelimit.snapshot import Window
from app.core.types import GenerateResult, StreamItem


async def run(clock: FakeClock, coro: Any, seconds: float = 1000.0) -> asyncio.Task[Any]:
    task = asyncio.ensure_future(coro)
    await clock.run_for(seconds)
    assert task.done(), "the call is still waiting"
    return task


def guarded(clock: FakeClock, script: list[Any], **kwargs: Any) -> tuple[GuardedProvider, FakeGroq]:
    inner = FakeGroq(script, clock=clock)
    return make_guards(clock, **kwargs).wrap(inner), inner


# --- 429 per minute ----------------------------------------------------------------------------------------


async def test_per_minute_429_waits_retry_after_then_succeeds() -> None:
    clock = FakeClock(START)
    provider, inner = guarded(clock, [error(ErrorCode.RATE_LIMIT_EXCEEDED, retry_after=2), Reply("done")])
    report = CallReport()
    task = await run(clock, provider.chat(MESSAGES, report=report))
    assert task.result().text == "done"
    assert inner.calls == 2
    assert [a.started_at - START for a in report.attempts] == [0, 2]  # retried exactly after retry-after
    assert [a.outcome for a in report.attempts] == ["error", "ok"]
    assert report.attempts[0].error_code == "RATE_LIMIT_EXCEEDED"
    assert report.waited_ms == 2000
    assert (report.outcome, report.provider, report.attempt_count) == ("ok", "groq", 2)


async def test_a_429_holds_other_callers_of_the_same_provider_too() -> None:
    clock = FakeClock(START)
    provider, inner = guarded(
        clock, [error(ErrorCode.RATE_LIMIT_EXCEEDED, retry_after=5), Reply("a"), Reply("b")]
    )
    first = asyncio.ensure_future(provider.chat(MESSAGES))
    await clock.run_until_idle()
    other = asyncio.ensure_future(provider.chat(MESSAGES))  # arrives during the pause: must not hit the 429
    await clock.run_until(START + 4.9)
    assert inner.calls == 1
    await clock.run_until(START + 5)
    assert first.done() and other.done() and inner.calls == 3


async def test_a_429_without_retry_after_backs_off() -> None:
    clock = FakeClock(START)
    provider, _ = guarded(clock, [error(ErrorCode.RATE_LIMIT_EXCEEDED), Reply("done")])
    report = CallReport()
    await run(clock, provider.chat(MESSAGES, report=report))
    assert report.attempts[1].started_at == START + 1  # base delay 1 s, no jitter in these tests


async def test_repeated_429s_stop_after_max_attempts_as_rate_limit_exceeded() -> None:
    clock = FakeClock(START)
    script = [error(ErrorCode.RATE_LIMIT_EXCEEDED, retry_after=1) for _ in range(10)]
    provider, inner = guarded(clock, script, retry=RetryConfig(max_attempts=3, jitter=0))
    task = await run(clock, provider.chat(MESSAGES))
    with pytest.raises(LLMProviderError) as caught:
        task.result()
    assert caught.value.code is ErrorCode.RATE_LIMIT_EXCEEDED
    assert inner.calls == 3


async def test_a_wait_beyond_the_budget_is_not_waited_quota_exhausted_with_the_reset_time() -> None:
    clock = FakeClock(START)  # 22:13:20 UTC
    provider, inner = guarded(
        clock, [error(ErrorCode.RATE_LIMIT_EXCEEDED, retry_after=300, window=Window.TOKENS_PER_MINUTE)]
    )
    report = CallReport()
    task = await run(clock, provider.chat(MESSAGES, report=report), seconds=1)
    with pytest.raises(LLMProviderError) as caught:
        task.result()
    assert caught.value.code is ErrorCode.QUOTA_EXHAUSTED
    assert str(caught.value).startswith("Groq's per-minute token limit is used up; it resets at 22:18:20.")
    assert "longer than the app waits on its own (2 minutes)" in str(caught.value)
    assert isinstance(caught.value.__cause__, LLMProviderError)
    assert inner.calls == 1 and report.waited_ms == 0
    # the next call knows: it fails at once, sends nothing
    again = await run(clock, provider.chat(MESSAGES), seconds=1)
    with pytest.raises(LLMProviderError) as caught_again:
        again.result()
    assert caught_again.value.code is ErrorCode.QUOTA_EXHAUSTED
    assert inner.calls == 1


async def test_the_budget_counts_every_pause_of_the_call() -> None:
    clock = FakeClock(START)
    script = [
        error(ErrorCode.RATE_LIMIT_EXCEEDED, retry_after=70),
        error(ErrorCode.RATE_LIMIT_EXCEEDED, retry_after=70),
    ]
    provider, inner = guarded(clock, script)
    task = await run(clock, provider.chat(MESSAGES))
    with pytest.raises(LLMProviderError) as caught:
        task.result()
    assert caught.value.code is ErrorCode.QUOTA_EXHAUSTED  # 70 + 70 > 120
    assert inner.calls == 2


# --- per day / never fits ---------------------------------------------------------------------------------


async def test_per_day_quota_is_not_retried_and_names_the_local_reset_time() -> None:
    clock = FakeClock(START)
    reset = START + 10 * 3600 + 46 * 60 + 40  # 09:00 UTC the next day
    provider, inner = guarded(
        clock,
        [
            error(
                ErrorCode.QUOTA_EXHAUSTED,
                retry_after=reset - START,
                reset_at=reset,
                window=Window.REQUESTS_PER_DAY,
            ),
            Reply("never"),
        ],
    )
    report = CallReport()
    task = await run(clock, provider.chat(MESSAGES, report=report), seconds=1)
    with pytest.raises(LLMProviderError) as caught:
        task.result()
    assert caught.value.code is ErrorCode.QUOTA_EXHAUSTED
    assert str(caught.value) == "Groq's daily request limit is used up; it resets tomorrow at 09:00."
    assert caught.value.window is Window.REQUESTS_PER_DAY
    assert inner.calls == 1 and report.attempt_count == 1 and report.outcome == "error"
    # the quota is known to be used up: later calls fail at once, without a request
    clock.advance(2 * 3600)  # past midnight: the reset is today now
    later = await run(clock, provider.chat(MESSAGES), seconds=1)
    with pytest.raises(
        LLMProviderError, match="daily request limit is used up; it resets at 09:00"
    ) as caught_later:
        later.result()
    assert caught_later.value.code is ErrorCode.QUOTA_EXHAUSTED
    assert inner.calls == 1


async def test_quota_exhausted_without_a_reset_keeps_the_adapters_message() -> None:
    clock = FakeClock(START)
    never_fits = error(ErrorCode.QUOTA_EXHAUSTED, message="gemini-2.5-pro has no free-tier quota")
    provider, inner = guarded(clock, [never_fits])
    task = await run(clock, provider.chat(MESSAGES), seconds=1)
    assert task.exception() is never_fits
    assert inner.calls == 1


@pytest.mark.parametrize(
    "code",
    [
        ErrorCode.AUTHENTICATION_FAILED,
        ErrorCode.INVALID_REQUEST,
        ErrorCode.MODEL_NOT_FOUND,
        ErrorCode.INVALID_RESPONSE,
    ],
)
async def test_errors_the_user_must_fix_are_tried_once(code: ErrorCode) -> None:
    clock = FakeClock(START)
    provider, inner = guarded(clock, [error(code), Reply("never")])
    task = await run(clock, provider.chat(MESSAGES), seconds=1)
    assert isinstance(task.exception(), LLMProviderError)
    assert inner.calls == 1


# --- transient failures ----------------------------------------------------------------------------------


async def test_transient_503_503_ok_takes_three_attempts_with_exponential_backoff() -> None:
    clock = FakeClock(START)
    script = [
        error(ErrorCode.PROVIDER_UNAVAILABLE, status=503),
        error(ErrorCode.PROVIDER_UNAVAILABLE, status=503),
    ]
    provider, inner = guarded(clock, [*script, Reply("done")])
    report = CallReport()
    task = await run(clock, provider.chat(MESSAGES, report=report))
    assert task.result().text == "done"
    assert inner.calls == 3 and report.attempt_count == 3
    assert [a.started_at - START for a in report.attempts] == [0, 1, 3]  # 1 s, then 2 s
    assert report.waited_ms == 3000


async def test_network_errors_are_retried_and_a_retry_after_on_a_503_is_honoured() -> None:
    clock = FakeClock(START)
    script = [
        error(ErrorCode.NETWORK_ERROR),
        error(ErrorCode.PROVIDER_UNAVAILABLE, status=503, retry_after=7),
    ]
    provider, _ = guarded(clock, [*script, Reply("done")])
    report = CallReport()
    await run(clock, provider.chat(MESSAGES, report=report))
    assert [a.started_at - START for a in report.attempts] == [0, 1, 8]


async def test_a_503_wait_beyond_the_budget_reraises_the_503() -> None:
    clock = FakeClock(START)
    provider, inner = guarded(clock, [error(ErrorCode.PROVIDER_UNAVAILABLE, status=503, retry_after=500)])
    task = await run(clock, provider.chat(MESSAGES), seconds=1)
    with pytest.raises(LLMProviderError) as caught:
        task.result()
    assert caught.value.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert inner.calls == 1


# --- streams ---------------------------------------------------------------------------------------------


async def collect(provider: GuardedProvider, report: CallReport | None = None) -> list[StreamItem]:
    return [item async for item in provider.stream(MESSAGES, report=report)]


async def test_a_stream_is_retried_while_no_text_was_yielded() -> None:
    clock = FakeClock(START)
    provider, inner = guarded(
        clock,
        [Reply(chunks=[error(ErrorCode.PROVIDER_UNAVAILABLE, status=503)]), Reply(chunks=["Hel", "lo"])],
    )
    report = CallReport()
    items = (await run(clock, collect(provider, report))).result()
    assert items[:2] == ["Hel", "lo"] and isinstance(items[2], GenerateResult)
    assert inner.calls == 2
    assert [a.outcome for a in report.attempts] == ["error", "ok"]
    assert all(a.streamed for a in report.attempts) and report.streamed


async def test_a_stream_is_not_retried_once_text_reached_the_caller() -> None:
    clock = FakeClock(START)
    provider, inner = guarded(
        clock,
        [Reply(chunks=["Hel", error(ErrorCode.NETWORK_ERROR, message="dropped")]), Reply(chunks=["again"])],
    )
    received: list[StreamItem] = []
    report = CallReport()

    async def consume() -> None:
        async for item in provider.stream(MESSAGES, report=report):
            received.append(item)

    task = await run(clock, consume())
    with pytest.raises(LLMProviderError, match="dropped"):
        task.result()
    assert received == ["Hel"]  # no duplicated text
    assert inner.calls == 1
    assert report.outcome == "error" and report.attempts[-1].outcome == "error"


async def test_a_quota_error_mid_stream_gets_the_reset_sentence() -> None:
    clock = FakeClock(START)
    quota = error(ErrorCode.QUOTA_EXHAUSTED, retry_after=60, window=Window.TOKENS_PER_DAY)
    provider, _ = guarded(clock, [Reply(chunks=["Hel", quota])])
    task = await run(clock, collect(provider))
    with pytest.raises(LLMProviderError, match=r"Groq's daily token limit is used up; it resets at 22:14\."):
        task.result()


async def test_the_consumer_stopping_early_records_a_cancelled_attempt() -> None:
    clock = FakeClock(START)
    provider, _ = guarded(clock, [Reply(chunks=["a", "b", "c"])])
    report = CallReport()

    async def first_only() -> str:
        stream = provider.stream(MESSAGES, report=report)
        item = await stream.__anext__()
        await stream.aclose()  # type: ignore[attr-defined]
        return str(item)

    assert (await run(clock, first_only())).result() == "a"
    assert report.outcome == "cancelled" and report.attempts[0].outcome == "cancelled"
    assert report.attempts[0].error_code == "CANCELLED"


async def test_stopping_after_the_result_changes_nothing() -> None:
    clock = FakeClock(START)
    provider, _ = guarded(clock, [Reply(chunks=["a"])])
    report = CallReport()

    async def until_result() -> None:
        stream = provider.stream(MESSAGES, report=report)
        async for item in stream:
            if isinstance(item, GenerateResult):
                break
        await stream.aclose()  # type: ignore[attr-defined]

    await run(clock, until_result())
    assert report.outcome == "ok" and [a.outcome for a in report.attempts] == ["ok"]


async def test_a_stream_that_ends_without_its_result_is_an_invalid_response() -> None:
    clock = FakeClock(START)
    provider, inner = guarded(clock, [])

    async def no_result(*args: Any, **kwargs: Any) -> Any:
        yield "partial"

    inner.stream = no_result  # type: ignore[method-assign]
    report = CallReport()
    received: list[StreamItem] = []

    async def consume() -> None:
        async for item in provider.stream(MESSAGES, report=report):
            received.append(item)

    task = await run(clock, consume())
    with pytest.raises(LLMProviderError, match="reply ended early") as caught:
        task.result()
    assert caught.value.code is ErrorCode.INVALID_RESPONSE
    assert received == ["partial"] and report.outcome == "error"


# --- the pause is visible and cancellable ---------------------------------------------------------------


async def test_the_pause_before_a_retry_is_visible_and_cancellable() -> None:
    clock = FakeClock(START)
    inner = FakeGroq([error(ErrorCode.RATE_LIMIT_EXCEEDED, retry_after=30), Reply("never")], clock=clock)
    guards = make_guards(clock)
    provider = guards.wrap(inner)
    report = CallReport()
    task = asyncio.ensure_future(provider.chat(MESSAGES, report=report))
    await clock.run_for(10)
    view = guards.state.view("groq", inner.model)
    wait = view.active_wait
    assert wait is not None and wait.kind == "retry" and wait.until == START + 30
    assert wait.remaining_seconds == 20
    assert "rate limit hit" in wait.reason and "attempt 2 of 4" in wait.reason
    wait.cancel()
    await clock.run_until_idle()
    with pytest.raises(WaitCancelled):
        task.result()
    assert report.outcome == "cancelled" and inner.calls == 1
    assert guards.state.view("groq", inner.model).active_wait is None


# --- the policy on its own --------------------------------------------------------------------------------


def test_policy_classification_and_backoff() -> None:
    policy = RetryPolicy(RetryConfig(base_delay=1, max_delay=10, jitter=0.5), rng=random.Random(1))
    assert policy.is_retryable(TimeoutError())
    assert not policy.is_retryable(ValueError())
    assert not policy.is_retryable(CircuitOpenError("open", provider="groq", next_probe_at=None, now=0))
    assert not policy.is_retryable(error(ErrorCode.QUOTA_EXHAUSTED))
    delays = [policy.backoff(n) for n in range(1, 7)]
    for n, delay in enumerate(delays, start=1):
        base = min(10, 2 ** (n - 1))
        assert base <= delay <= base + 0.5
    assert policy.delay_for(error(ErrorCode.RATE_LIMIT_EXCEEDED, retry_after=4), 1) == 4
    assert RetryPolicy(RetryConfig(jitter=0)).backoff(3) == 4
    policy.configure(RetryConfig(max_attempts=9))
    assert policy.config.max_attempts == 9

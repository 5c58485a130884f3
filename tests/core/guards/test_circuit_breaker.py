"""The circuit breaker, alone and inside GuardedProvider (fake clock, scripted providers)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from guard_fakes import MESSAGES, START, FakeGroq, FakeOllama, Reply, error, make_guards

from app.core.errors import ErrorCode, LLMProviderError
from app.core.guards import CircuitBreaker, CircuitOpenError, is_connection_refused, is_outage
from app.core.ratelimit.clock import FakeClock
from app.core.ratelimit.settings import BreakerConfig, RateLimitConfig, RetryConfig
from app.core.ratelimit.snapshot import Window
from app.core.ratelimit.state import CircuitState

ONE_ATTEMPT = RetryConfig(max_attempts=1, jitter=0)


def unavailable() -> LLMProviderError:
    return error(ErrorCode.PROVIDER_UNAVAILABLE, status=503)


def refused(provider: str = "ollama") -> LLMProviderError:
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except ConnectionRefusedError as exc:
            raise LLMProviderError(
                ErrorCode.NETWORK_ERROR, "Ollama is not running.", provider=provider
            ) from exc
    except LLMProviderError as wrapped:
        return wrapped


async def call(clock: FakeClock, provider: Any) -> asyncio.Task[Any]:
    task = asyncio.ensure_future(provider.chat(MESSAGES))
    await clock.run_for(1)
    assert task.done()
    return task


async def test_opens_after_k_failures_then_fails_fast_without_the_network() -> None:
    clock = FakeClock(START)
    inner = FakeGroq([unavailable(), unavailable(), unavailable(), Reply("never")], clock=clock)
    guards = make_guards(clock, retry=ONE_ATTEMPT)
    provider = guards.wrap(inner)
    for _ in range(3):
        assert (await call(clock, provider)).exception().code is ErrorCode.PROVIDER_UNAVAILABLE  # type: ignore[union-attr]
    assert provider.breaker.state is CircuitState.OPEN
    open_at = START + 2  # the third failure, at 22:13:22
    failed = await call(clock, provider)
    error_ = failed.exception()
    assert isinstance(error_, CircuitOpenError)
    assert error_.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert error_.next_probe_at == open_at + 30
    assert "3 failures in a row" in error_.message
    assert "it will try again at 22:13:52 (in 29 seconds)" in error_.message  # asked at 22:13:23
    assert inner.calls == 3  # the fourth call never reached the provider
    assert guards.state.circuit("groq").state is CircuitState.OPEN
    assert guards.state.circuit("groq").next_probe_at == open_at + 30


async def test_half_open_probe_after_the_cooldown_closes_on_success() -> None:
    clock = FakeClock(START)
    inner = FakeGroq([unavailable(), unavailable(), unavailable(), Reply("back")], clock=clock)
    provider = make_guards(clock, retry=ONE_ATTEMPT).wrap(inner)
    for _ in range(3):
        await call(clock, provider)
    probe_at = provider.breaker.next_probe_at
    assert probe_at is not None
    clock.advance_to(probe_at - 0.001)
    assert isinstance((await call(clock, provider)).exception(), CircuitOpenError)
    clock.advance_to(probe_at + 1)
    assert (await call(clock, provider)).result().text == "back"
    assert provider.breaker.state is CircuitState.CLOSED
    assert provider.breaker.consecutive_failures == 0
    assert inner.calls == 4


async def test_a_failed_probe_opens_the_circuit_again() -> None:
    clock = FakeClock(START)
    inner = FakeGroq([unavailable()] * 4, clock=clock)
    provider = make_guards(clock, retry=ONE_ATTEMPT).wrap(inner)
    for _ in range(3):
        await call(clock, provider)
    clock.advance(30)
    await call(clock, provider)  # the probe fails
    assert provider.breaker.state is CircuitState.OPEN
    assert provider.breaker.next_probe_at == clock.now() - 1 + 30
    assert "the test request failed too" in (await call(clock, provider)).exception().message  # type: ignore[union-attr]
    assert inner.calls == 4


async def test_only_one_probe_at_a_time_in_half_open() -> None:
    clock = FakeClock(START)
    gate = asyncio.Event()

    async def slow_reply() -> Reply:
        await gate.wait()
        return Reply("probe ok")

    inner = FakeGroq([unavailable()] * 3, clock=clock)
    provider = make_guards(clock, retry=ONE_ATTEMPT).wrap(inner)
    for _ in range(3):
        await call(clock, provider)
    clock.advance(30)
    original = inner._complete

    async def gated(request: Any) -> Any:
        await gate.wait()
        return await original(request)

    inner._complete = gated  # type: ignore[method-assign]
    probe = asyncio.ensure_future(provider.chat(MESSAGES))
    await clock.run_until_idle()
    assert provider.breaker.state is CircuitState.HALF_OPEN
    other = await call(clock, provider)
    assert "A test request to Groq is in progress" in other.exception().message  # type: ignore[union-attr]
    gate.set()
    await clock.run_until_idle()
    assert probe.result().text == "ok"
    assert provider.breaker.state is CircuitState.CLOSED


async def test_connection_refused_opens_the_circuit_at_once() -> None:
    clock = FakeClock(START)
    inner = FakeOllama([refused(), Reply("never")], clock=clock)
    guards = make_guards(clock)  # retries on: the open circuit stops them
    provider = guards.wrap(inner)
    task = await call(clock, provider)
    with pytest.raises(CircuitOpenError) as caught:
        task.result()
    assert "the connection was refused" in caught.value.message
    assert inner.calls == 1
    assert guards.state.circuit("ollama").reason == "the connection was refused"


async def test_the_retry_loop_stops_when_the_circuit_opens() -> None:
    clock = FakeClock(START)
    inner = FakeGroq([unavailable()] * 5, clock=clock)
    provider = make_guards(clock, retry=RetryConfig(max_attempts=6, jitter=0)).wrap(inner)
    task = asyncio.ensure_future(provider.chat(MESSAGES))
    await clock.run_for(100)
    assert isinstance(task.exception(), CircuitOpenError)
    assert inner.calls == 3


async def test_answers_that_are_not_outages_reset_the_count() -> None:
    clock = FakeClock(START)
    script = [
        unavailable(),
        unavailable(),
        error(ErrorCode.AUTHENTICATION_FAILED),
        unavailable(),
        unavailable(),
    ]
    provider = make_guards(clock, retry=ONE_ATTEMPT).wrap(FakeGroq(script, clock=clock))
    for _ in range(5):
        await call(clock, provider)
    assert provider.breaker.state is CircuitState.CLOSED
    assert provider.breaker.consecutive_failures == 2


async def test_a_probe_that_never_reaches_the_provider_is_released() -> None:
    clock = FakeClock(START)
    guards = make_guards(clock, retry=ONE_ATTEMPT, limits={"groq": RateLimitConfig(requests_per_minute=1)})
    inner = FakeGroq([unavailable()] * 3, clock=clock)
    provider = guards.wrap(inner)
    for _ in range(3):
        clock.advance(60)
        await call(clock, provider)
    clock.advance(30)
    guards.registry.limiter("groq", inner.model).hold_until(clock.now() + 10, "busy")
    probe = asyncio.ensure_future(provider.chat(MESSAGES))  # takes the probe, then waits for a slot
    await clock.run_until_idle()
    assert provider.breaker.state is CircuitState.HALF_OPEN
    probe.cancel()
    await clock.run_until_idle()
    assert provider.breaker.blocked() is None  # another call may probe now


def test_breaker_alone() -> None:
    clock = FakeClock(START)
    changes: list[CircuitState] = []

    def listener(breaker: CircuitBreaker) -> None:
        changes.append(breaker.state)
        raise RuntimeError("a broken listener changes nothing")

    breaker = CircuitBreaker(
        "groq", BreakerConfig(failure_threshold=2, cooldown_seconds=10), clock=clock, listener=listener
    )
    assert breaker.before_call() is False
    breaker.record_failure(ValueError("not an outage"))  # counts as an answer
    breaker.record_failure(TimeoutError())
    breaker.record_failure(TimeoutError())
    assert breaker.state is CircuitState.OPEN and changes == [CircuitState.OPEN]
    breaker.record_failure(TimeoutError())  # a late failure while open: nothing changes
    assert breaker.view().consecutive_failures == 3
    clock.advance(10)
    assert breaker.before_call() is True
    breaker.release_probe()
    assert breaker.before_call() is True  # released: may probe again
    breaker.reset()
    assert breaker.state is CircuitState.CLOSED and breaker.next_probe_at is None
    breaker.reset()
    breaker.configure(BreakerConfig(failure_threshold=1))
    breaker.record_failure(TimeoutError())
    assert breaker.state is CircuitState.OPEN
    breaker.record_success()
    assert breaker.state is CircuitState.CLOSED


def test_outages_and_refused_connections() -> None:
    assert is_outage(error(ErrorCode.NETWORK_ERROR)) and is_outage(error(ErrorCode.PROVIDER_UNAVAILABLE))
    assert is_outage(TimeoutError())
    assert not is_outage(error(ErrorCode.RATE_LIMIT_EXCEEDED))
    assert not is_outage(CircuitOpenError("open", provider="groq", next_probe_at=None, now=0))
    assert is_connection_refused(refused())
    assert is_connection_refused(httpx.ConnectError("[Errno 111] Connection refused"))
    assert is_connection_refused(ConnectionError("Failed to connect to Ollama."))
    assert is_connection_refused(error(ErrorCode.NETWORK_ERROR, message="Failed to connect to Ollama."))
    assert not is_connection_refused(error(ErrorCode.NETWORK_ERROR, message="Groq took too long to answer."))
    assert not is_connection_refused(httpx.ReadTimeout("timed out"))
    assert not is_connection_refused(ConnectionResetError("reset mid-stream"))
    loop: Exception = ValueError("loop")
    loop.__context__ = loop
    assert not is_connection_refused(loop)


@pytest.mark.parametrize(("cooldown", "outcome"), [(120.0, "fails fast"), (30.0, "probes")])
async def test_a_call_that_waited_for_its_slot_rechecks_the_circuit(cooldown: float, outcome: str) -> None:
    clock = FakeClock(START)
    guards = make_guards(
        clock,
        retry=ONE_ATTEMPT,
        limits={"groq": RateLimitConfig(requests_per_minute=1)},
        breaker=BreakerConfig(cooldown_seconds=cooldown),
    )
    inner = FakeGroq([Reply("first"), Reply("probe")], clock=clock)
    provider = guards.wrap(inner)
    await provider.chat(MESSAGES)
    waiting = asyncio.ensure_future(provider.chat(MESSAGES))  # waits 60 s for its slot
    await clock.run_for(10)
    provider.breaker.record_failure(refused("groq"))  # meanwhile another call found Groq unreachable
    await clock.run_for(60)
    if outcome == "fails fast":  # still open when the slot frees: nothing is sent, the slot is given back
        assert isinstance(waiting.exception(), CircuitOpenError)
        assert inner.calls == 1
        assert provider.limiter.usage().get(Window.REQUESTS_PER_MINUTE).used == 0  # type: ignore[union-attr]
    else:  # the cooldown passed during the wait: this call is the probe
        assert waiting.result().text == "probe"
        assert provider.breaker.state is CircuitState.CLOSED

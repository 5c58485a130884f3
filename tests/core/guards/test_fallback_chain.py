"""FallbackChain: move on when another provider may succeed, with the user's consent; say who wrote it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from guard_fakes import MESSAGES, START, FakeGemini, FakeGroq, FakeOllama, Reply, error, make_guards

from app.core.errors import ErrorCode, LLMProviderError
from app.core.guards import CallReport, FallbackChain, FallbackProposal, should_fall_back
from app.core.guards.breaker import CircuitOpenError
from app.core.ratelimit.clock import FakeClock
from app.core.ratelimit.settings import RetryConfig
from app.core.ratelimit.snapshot import Window
from app.core.types import GenerateResult

DAILY = Window.REQUESTS_PER_DAY


def quota() -> LLMProviderError:
    return error(ErrorCode.QUOTA_EXHAUSTED, retry_after=3600, reset_at=START + 3600, window=DAILY)


class Consent:
    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.proposals: list[FallbackProposal] = []

    async def __call__(self, proposal: FallbackProposal) -> Any:
        self.proposals.append(proposal)
        return self.answers.pop(0)


def chain_of(
    clock: FakeClock, groq: list[Any], gemini: list[Any], ollama: list[Any] | None = None, **kw: Any
) -> Any:
    guards = make_guards(clock, retry=RetryConfig(max_attempts=2, jitter=0))
    providers = [FakeGroq(groq, clock=clock), FakeGemini(gemini, clock=clock)]
    if ollama is not None:
        providers.append(FakeOllama(ollama, clock=clock))
    return guards.chain(providers, **kw), providers


async def finish(clock: FakeClock, coro: Any) -> asyncio.Task[Any]:
    task = asyncio.ensure_future(coro)
    await clock.run_for(100)
    assert task.done()
    return task


async def test_groq_quota_exhausted_then_gemini_writes_it() -> None:
    clock = FakeClock(START)
    chain, (groq, gemini) = chain_of(clock, [quota()], [Reply("from gemini")])
    report = CallReport()
    result = (await finish(clock, chain.chat(MESSAGES, report=report))).result()
    assert isinstance(result, GenerateResult)
    assert (result.text, result.provider, result.model) == ("from gemini", "gemini", "gemini-2.5-flash")
    assert (report.provider, report.model, report.outcome) == ("gemini", "gemini-2.5-flash", "ok")
    assert [(a.provider, a.outcome) for a in report.attempts] == [("groq", "error"), ("gemini", "ok")]
    step = report.fallbacks[0]
    assert (step.from_provider, step.to_provider, step.error_code, step.decision) == (
        "groq",
        "gemini",
        "QUOTA_EXHAUSTED",
        "allowed",
    )
    assert groq.calls == 1 and gemini.calls == 1
    assert chain.last_report is report


async def test_consent_cancel_stops_and_raises_the_first_error() -> None:
    clock = FakeClock(START)
    consent = Consent("cancel")
    chain, (_groq, gemini) = chain_of(clock, [quota()], [Reply("never")], consent=consent)
    report = CallReport()
    task = await finish(clock, chain.chat(MESSAGES, report=report))
    with pytest.raises(LLMProviderError) as caught:
        task.result()
    assert caught.value.code is ErrorCode.QUOTA_EXHAUSTED and caught.value.provider == "groq"
    assert gemini.calls == 0
    proposal = consent.proposals[0]
    assert (proposal.from_provider, proposal.to_provider, proposal.to_model) == (
        "groq",
        "gemini",
        "gemini-2.5-flash",
    )
    assert proposal.question.endswith("Use Gemini (gemini-2.5-flash) instead?")
    assert report.fallbacks[0].decision == "cancel"


async def test_consent_always_is_remembered_once_is_not() -> None:
    clock = FakeClock(START)
    consent = Consent("once", "always")
    chain, (groq, gemini) = chain_of(clock, [quota()], [Reply("1"), Reply("2"), Reply("3")], consent=consent)
    for _ in range(3):
        (await finish(clock, chain.chat(MESSAGES))).result()
    assert groq.calls == 1  # afterwards Groq's used-up quota is known: no request is wasted on it
    assert len(consent.proposals) == 2  # "once" asked again; "always" is not asked a third time
    assert chain.always_allowed == {("groq", "gemini")}
    assert gemini.calls == 3


async def test_a_sync_consent_callback_works_too() -> None:
    clock = FakeClock(START)
    chain, _ = chain_of(clock, [quota()], [Reply("ok")], consent=lambda proposal: "once")
    assert (await finish(clock, chain.chat(MESSAGES))).result().provider == "gemini"


async def test_errors_another_provider_would_not_fix_do_not_fall_back() -> None:
    clock = FakeClock(START)
    chain, (_, gemini) = chain_of(clock, [error(ErrorCode.AUTHENTICATION_FAILED)], [Reply("never")])
    task = await finish(clock, chain.chat(MESSAGES))
    assert task.exception().code is ErrorCode.AUTHENTICATION_FAILED  # type: ignore[union-attr]
    assert gemini.calls == 0


async def test_network_errors_after_retries_move_on_down_the_chain() -> None:
    clock = FakeClock(START)
    network = [error(ErrorCode.NETWORK_ERROR), error(ErrorCode.NETWORK_ERROR)]
    unavailable = [
        error(ErrorCode.PROVIDER_UNAVAILABLE, "gemini"),
        error(ErrorCode.PROVIDER_UNAVAILABLE, "gemini"),
    ]
    chain, (groq, gemini, ollama) = chain_of(clock, network, unavailable, [Reply("local")])
    report = CallReport()
    result = (await finish(clock, chain.chat(MESSAGES, report=report))).result()
    assert result.provider == "ollama"
    assert (groq.calls, gemini.calls, ollama.calls) == (2, 2, 1)  # each retried, then the next
    assert [s.to_provider for s in report.fallbacks] == ["gemini", "ollama"]


async def test_the_last_providers_error_is_raised_when_all_fail() -> None:
    clock = FakeClock(START)
    chain, _ = chain_of(
        clock, [quota()], [error(ErrorCode.QUOTA_EXHAUSTED, "gemini", message="gemini is out")]
    )
    task = await finish(clock, chain.chat(MESSAGES))
    assert task.exception().message == "gemini is out"  # type: ignore[union-attr]


async def test_a_provider_known_to_be_down_is_skipped_without_asking() -> None:
    clock = FakeClock(START)
    consent = Consent("once")
    chain, (_groq, gemini, _ollama) = chain_of(clock, [quota()], [], [Reply("local")], consent=consent)
    gemini_guard = chain.providers[1]
    gemini_guard.breaker.record_failure(
        error(ErrorCode.NETWORK_ERROR, "gemini", message="connection refused")
    )
    report = CallReport()
    result = (await finish(clock, chain.chat(MESSAGES, report=report))).result()
    assert result.provider == "ollama" and gemini.calls == 0
    assert [s.decision for s in report.fallbacks] == ["skipped", "once"]
    assert consent.proposals[0].to_provider == "ollama" and consent.proposals[0].from_provider == "groq"


async def test_an_open_circuit_on_the_first_provider_falls_back() -> None:
    clock = FakeClock(START)
    chain, (groq, _gemini) = chain_of(clock, [], [Reply("g")])
    chain.providers[0].breaker.record_failure(error(ErrorCode.NETWORK_ERROR, message="Connection refused"))
    report = CallReport()
    result = (await finish(clock, chain.chat(MESSAGES, report=report))).result()
    assert result.provider == "gemini" and groq.calls == 0
    assert report.fallbacks[0].error_code == "PROVIDER_UNAVAILABLE"
    assert should_fall_back(CircuitOpenError("open", provider="groq", next_probe_at=None, now=0))


async def test_a_stream_falls_back_before_any_text_but_never_after() -> None:
    clock = FakeClock(START)
    chain, _ = chain_of(clock, [quota()], [Reply(chunks=["Hi", " there"])])
    items = (await finish(clock, _collect(chain))).result()
    assert items[:2] == ["Hi", " there"] and items[2].provider == "gemini"

    clock = FakeClock(START)
    broken = Reply(chunks=["Half", error(ErrorCode.PROVIDER_UNAVAILABLE, message="gone")])
    chain, (_, gemini) = chain_of(clock, [broken], [Reply("never")])
    received: list[Any] = []

    async def consume() -> None:
        async for item in chain.stream(MESSAGES):
            received.append(item)

    task = await finish(clock, consume())
    assert task.exception().message == "gone"  # type: ignore[union-attr]
    assert received == ["Half"] and gemini.calls == 0


async def test_stopping_a_chain_stream_early_closes_the_providers_stream_at_once() -> None:
    clock = FakeClock(START)
    chain, _ = chain_of(clock, [Reply(chunks=["a", "b", "c"])], [])
    report = CallReport()
    stream = chain.stream(MESSAGES, report=report)
    assert await stream.__anext__() == "a"
    await stream.aclose()
    assert report.outcome == "cancelled" and report.attempts[0].outcome == "cancelled"


async def test_stream_consent_cancel_and_non_fallback_errors() -> None:
    clock = FakeClock(START)
    chain, (_, gemini) = chain_of(clock, [quota()], [Reply("never")], consent=Consent("cancel"))
    task = await finish(clock, _collect(chain))
    assert task.exception().code is ErrorCode.QUOTA_EXHAUSTED  # type: ignore[union-attr]
    clock = FakeClock(START)
    chain, (_, gemini) = chain_of(clock, [error(ErrorCode.MODEL_NOT_FOUND)], [Reply("never")])
    task = await finish(clock, _collect(chain))
    assert task.exception().code is ErrorCode.MODEL_NOT_FOUND  # type: ignore[union-attr]
    assert gemini.calls == 0


async def test_the_chain_reads_like_its_first_provider() -> None:
    clock = FakeClock(START)
    chain, (groq, gemini) = chain_of(clock, [], [])
    assert (chain.name, chain.model, chain.label) == ("groq", "llama-3.3-70b-versatile", "Groq")
    assert "groq/llama-3.3-70b-versatile -> gemini/gemini-2.5-flash" in repr(chain)
    assert (await chain.list_models())[0].id == "llama-3.3-70b-versatile"
    assert (await chain.health()).provider == "groq"
    await chain.aclose()
    assert groq.closed and gemini.closed
    with pytest.raises(ValueError, match="at least one"):
        FallbackChain([])


async def _collect(chain: Any) -> list[Any]:
    return [item async for item in chain.stream(MESSAGES)]

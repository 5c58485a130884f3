"""Acceptance, through the service and the real SDKs against the emulator: the ledger and the counters agree
exactly with the emulator's own count; a budget refuses before sending and the chain falls back; the cache
answers the same request once paid for."""

from __future__ import annotations

import asyncio
import time

import pytest

from app.core.errors import ErrorCode
from app.core.service import ScriptRequest, ScriptService
from app.core.usage.budgets import BUDGETS_KEY
from app.store import RequestRecord
from tests.emulator import Emulator, Fault
from tests.support.services import ServiceFactory

MARKERS = {"groq": "/chat/completions", "gemini": "Content", "ollama": "/api/chat"}


def generations(emulator: Emulator, provider: str) -> int:
    return len(emulator.requests_for(provider, MARKERS[provider]))


def rows(service: ScriptService, provider: str) -> list[RequestRecord]:
    return [r for r in service.store.list_requests(10_000) if r.provider == provider and not r.cached]


def assert_exact(
    service: ScriptService, emulator: Emulator, provider: str, *, prompt_exact: bool = True
) -> None:
    """Every HTTP generation request is a ledger row; the rows the provider served carry its token counts."""
    ledger = rows(service, provider)
    served = [r for r in ledger if r.prompt_tokens is not None]  # refusals used nothing
    totals = emulator.usage_totals(provider)
    assert len(ledger) == generations(emulator, provider)
    assert len(served) == totals["requests"]
    assert sum(r.completion_tokens or 0 for r in served) == totals["completion_tokens"]
    if prompt_exact:
        assert sum(r.prompt_tokens or 0 for r in served) == totals["prompt_tokens"]
    today = service.counters.day(provider).totals
    assert today.requests == len(ledger)
    assert today.prompt_tokens == sum(r.prompt_tokens or 0 for r in ledger)
    assert today.completion_tokens == sum(r.completion_tokens or 0 for r in ledger)


async def settled(emulator: Emulator, provider: str, requests: int) -> None:
    deadline = time.monotonic() + 5
    while emulator.usage_totals(provider)["requests"] < requests and time.monotonic() < deadline:
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("provider", ["groq", "gemini", "ollama"])
async def test_streamed_calls_are_counted_exactly(
    provider: str, make_service: ServiceFactory, emulator: Emulator
) -> None:
    service = make_service()
    for topic in ("Tides", "Owls", "Volcanoes"):
        outcome = await service.generate(ScriptRequest(topic, provider=provider))
        assert outcome.status == "complete", outcome.error
    assert_exact(service, emulator, provider)
    ledger = rows(service, provider)
    assert all(
        r.streamed and r.latency_ms is not None and r.time_to_first_token_ms is not None for r in ledger
    )
    # The default models have list prices; Ollama is local and free.
    assert all(r.cost_usd is not None and (r.cost_usd > 0) == (provider != "ollama") for r in ledger)
    # A restart reads the same counters back from the ledger.
    assert make_service().counters.day(provider).totals == service.counters.day(provider).totals


async def test_failures_retries_and_a_broken_stream_are_counted_exactly(
    make_service: ServiceFactory, emulator: Emulator
) -> None:
    emulator.queue("gemini", Fault.overloaded(), Fault.error_in_stream(after_tokens=4))
    emulator.queue("groq", Fault.rate_limit(window="rpm", retry_after=1))
    service = make_service()
    broken = await service.generate(ScriptRequest("Tides", provider="gemini"))
    assert broken.status == "failed" and broken.text  # the 503 was retried; the stream then broke
    ok = await service.generate(ScriptRequest("Owls", provider="groq"))
    assert ok.status == "complete" and ok.attempts == 2
    assert_exact(service, emulator, "gemini")
    assert_exact(service, emulator, "groq")
    cut = [r for r in rows(service, "gemini") if r.outcome == "error" and r.completion_tokens]
    assert len(cut) == 1 and cut[0].completion_tokens == 4 and not cut[0].usage_estimated


async def test_a_cancelled_stream_keeps_its_partial_usage(
    make_service: ServiceFactory, emulator: Emulator
) -> None:
    emulator.token_rate = 20
    service = make_service()
    for provider in ("gemini", "groq"):
        seen: list[str] = []
        running: list[asyncio.Task[object]] = []

        def on_delta(
            text: str, seen: list[str] = seen, running: list[asyncio.Task[object]] = running
        ) -> None:
            seen.append(text)
            if len(seen) == 3:
                running[0].cancel()

        task: asyncio.Task[object] = asyncio.create_task(
            service.generate(ScriptRequest("Tides", provider=provider), on_delta=on_delta)
        )
        running.append(task)
        with pytest.raises(asyncio.CancelledError):
            await task
        await settled(emulator, provider, 1)
        [row] = rows(service, provider)
        assert row.outcome == "cancelled" and row.completion_tokens == 3
        assert emulator.usage_totals(provider)["completion_tokens"] == 3
    # Gemini reports its usage in every chunk: exact. Groq says it only at the end: the prompt is estimated.
    assert_exact(service, emulator, "gemini")
    assert_exact(service, emulator, "groq", prompt_exact=False)
    assert rows(service, "groq")[0].usage_estimated and not rows(service, "gemini")[0].usage_estimated


async def test_a_fallback_is_counted_for_both_providers(
    make_service: ServiceFactory, emulator: Emulator
) -> None:
    emulator.queue("groq", Fault.rate_limit(window="rpd", retry_after=3600))
    service = make_service(SCRIPTWRIGHT_FALLBACK_CHAIN="groq,gemini")
    outcome = await service.generate(ScriptRequest("Tides", provider="groq"))
    assert outcome.status == "complete" and outcome.provider == "gemini"
    assert_exact(service, emulator, "groq")
    assert_exact(service, emulator, "gemini")
    [refused] = rows(service, "groq")
    assert refused.error_code == "QUOTA_EXHAUSTED" and refused.prompt_tokens is None


async def test_a_budget_reached_mid_session_refuses_before_sending(
    make_service: ServiceFactory, emulator: Emulator
) -> None:
    service = make_service()
    service.store.set_setting(
        BUDGETS_KEY, [{"provider": "groq", "period": "day", "unit": "requests", "cap": 2}]
    )
    service.apply_settings()
    alerts: list[str] = []
    service.budgets.subscribe(lambda alert: alerts.append(alert.message))
    for topic in ("Tides", "Owls"):
        assert (await service.generate(ScriptRequest(topic, provider="groq"))).status == "complete"
    assert alerts[-1].startswith("Groq's daily budget of 2 requests is reached; it resets on ")
    refused = await service.generate(ScriptRequest("Volcanoes", provider="groq"))
    assert refused.status == "failed" and refused.attempts == 0
    assert refused.error is not None and refused.error.code is ErrorCode.QUOTA_EXHAUSTED
    assert "daily budget of 2 requests is reached" in refused.error.message
    assert generations(emulator, "groq") == 2  # nothing reached the provider
    assert service.state.view("groq", "llama-3.3-70b-versatile").last_error is not None


async def test_a_usd_budget_falls_back_to_the_next_provider(
    make_service: ServiceFactory, emulator: Emulator
) -> None:
    service = make_service(SCRIPTWRIGHT_FALLBACK_CHAIN="groq,gemini")
    first = await service.generate(ScriptRequest("Tides", provider="groq"))
    assert first.cost_usd is not None and first.cost_usd > 0  # Groq's list price for the model is known
    service.store.set_setting(
        BUDGETS_KEY, [{"provider": "groq", "period": "day", "unit": "usd", "cap": first.cost_usd}]
    )
    service.apply_settings()
    outcome = await service.generate(ScriptRequest("Owls", provider="groq"))
    assert outcome.status == "complete" and outcome.provider == "gemini" and outcome.fallback_from == "groq"
    assert generations(emulator, "groq") == 1 and generations(emulator, "gemini") == 1


async def test_the_same_prompt_twice_is_served_from_the_cache(
    make_service: ServiceFactory, emulator: Emulator
) -> None:
    service = make_service(GROQ_RATE_LIMIT_ENABLED="true", GROQ_RATE_LIMIT_REQUESTS_PER_MINUTE="2")
    service.store.set_setting(
        BUDGETS_KEY, [{"provider": "groq", "period": "day", "unit": "requests", "cap": 1}]
    )
    service.apply_settings()
    first = await service.generate(ScriptRequest("Tides", provider="groq", target_words=150))
    deltas: list[str] = []
    second = await service.generate(
        ScriptRequest("Tides", provider="groq", target_words=150), on_delta=deltas.append
    )
    assert generations(emulator, "groq") == 1  # the emulator saw one request
    assert second.status == "complete" and second.cached and second.text == first.text
    assert len(deltas) > 1 and "".join(deltas) == first.text  # replayed as a stream
    assert second.cost_usd == 0.0 and second.waited_ms == 0  # no budget (the cap of 1 is reached) ...
    assert service.state.view("groq", "llama-3.3-70b-versatile").rpm_used == 1  # ... and no limiter slot
    hit = [r for r in service.store.list_requests() if r.cached]
    assert len(hit) == 1 and hit[0].cost_usd == 0.0 and hit[0].prompt_tokens is None
    day = service.counters.day("groq").totals
    assert (day.requests, day.cached) == (1, 1)
    assert service.cache.stats().hits == 1
    # A changed parameter misses; Regenerate bypasses the cache (the budget of 1 request now refuses both).
    changed = await service.generate(ScriptRequest("Tides", provider="groq", target_words=300))
    regenerated = await service.generate(
        ScriptRequest("Tides", provider="groq", target_words=150, use_cache=False)
    )
    for outcome in (changed, regenerated):
        assert outcome.error is not None and outcome.error.code is ErrorCode.QUOTA_EXHAUSTED
    service.store.set_setting(BUDGETS_KEY, [])
    service.apply_settings()
    await asyncio.sleep(0)
    regenerated = await service.generate(
        ScriptRequest("Tides", provider="groq", target_words=150, use_cache=False)
    )
    assert regenerated.status == "complete" and not regenerated.cached
    assert generations(emulator, "groq") == 2
    assert_exact(service, emulator, "groq")


async def test_a_zero_ttl_turns_the_cache_off(make_service: ServiceFactory, emulator: Emulator) -> None:
    service = make_service(SCRIPTWRIGHT_CACHE_TTL_HOURS="0")
    for _ in range(2):
        assert not (await service.generate(ScriptRequest("Tides", provider="ollama"))).cached
    assert generations(emulator, "ollama") == 2

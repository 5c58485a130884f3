"""The rate-limit and resilience acceptance cases, through the service and the real SDKs against the emulator.

Real time passes here (a provider that says "retry after 2 s" is waited for), so the figures asserted are the
ones the service reports (waited_ms, attempts) and what the emulator saw, never the wall clock.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import pytest

from app.core.errors import ErrorCode
from app.core.service import ScriptRequest
from tests.emulator import Emulator, Fault
from tests.support.services import ServiceFactory


def generations(emulator: Emulator, provider: str) -> int:
    marker = {"groq": "/chat/completions", "gemini": "Content", "ollama": "/api/chat"}[provider]
    return len(emulator.requests_for(provider, marker))


async def test_groq_429_with_retry_after_waits_then_succeeds(
    make_service: ServiceFactory, emulator: Emulator
) -> None:
    emulator.queue("groq", Fault.rate_limit(window="rpm", retry_after=2))
    outcome = await make_service().generate(ScriptRequest("Tides", provider="groq"))
    assert outcome.status == "complete", outcome.error
    assert outcome.waited_ms >= 2000
    assert outcome.attempts == 2
    assert generations(emulator, "groq") == 2


async def test_groq_daily_token_limit_fails_fast_with_one_request(
    make_service: ServiceFactory, emulator: Emulator
) -> None:
    emulator.queue(
        "groq",
        Fault.rate_limit(window="tpd", limit=100000, used=97050, requested=3619, try_again="9m38.016s"),
    )
    service = make_service()
    outcome = await service.generate(ScriptRequest("Tides", provider="groq"))
    assert outcome.status == "failed"
    assert outcome.error is not None and outcome.error.code is ErrorCode.QUOTA_EXHAUSTED
    assert "reset" in outcome.error.message
    assert outcome.waited_ms < 1000 and outcome.attempts == 1  # no wait for a quota that waiting cannot fix
    assert generations(emulator, "groq") == 1
    # The refusal is remembered: the next call fails before sending anything.
    again = await service.generate(ScriptRequest("Tides", provider="groq"))
    assert again.error is not None and again.error.code is ErrorCode.QUOTA_EXHAUSTED
    assert generations(emulator, "groq") == 1


async def test_gemini_429_retry_info_is_honoured(make_service: ServiceFactory, emulator: Emulator) -> None:
    emulator.queue("gemini", Fault.rate_limit(window="rpm", retry_delay="3s"))
    outcome = await make_service().generate(ScriptRequest("Tides", provider="gemini"))
    assert outcome.status == "complete", outcome.error
    assert outcome.waited_ms >= 3000
    assert generations(emulator, "gemini") == 2


async def test_two_503_then_success_takes_three_requests(
    make_service: ServiceFactory, emulator: Emulator
) -> None:
    emulator.queue("groq", Fault.overloaded(), Fault.overloaded())
    outcome = await make_service().generate(ScriptRequest("Tides", provider="groq"))
    assert outcome.status == "complete", outcome.error
    assert outcome.attempts == 3
    assert generations(emulator, "groq") == 3


async def test_circuit_opens_and_then_fails_fast_without_a_request(
    make_service: ServiceFactory, emulator: Emulator
) -> None:
    service = make_service(SCRIPTWRIGHT_RETRY_MAX_ATTEMPTS="1")
    for _ in range(3):
        emulator.queue("ollama", Fault.overloaded())
        outcome = await service.generate(ScriptRequest("Tides", provider="ollama"))
        assert outcome.error is not None and outcome.error.code is ErrorCode.PROVIDER_UNAVAILABLE
    sent = generations(emulator, "ollama")
    assert sent == 3
    assert service.state.circuit("ollama").is_open
    blocked = await service.generate(ScriptRequest("Tides", provider="ollama"))
    assert blocked.error is not None and blocked.error.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert "next try" in blocked.error.message.lower() or "try again" in blocked.error.message.lower()
    assert blocked.attempts == 0
    assert generations(emulator, "ollama") == sent


async def test_fallback_from_groq_quota_to_gemini_saves_a_gemini_script(
    make_service: ServiceFactory, emulator: Emulator
) -> None:
    emulator.queue("groq", Fault.rate_limit(window="rpd", retry_after=3600))
    service = make_service(SCRIPTWRIGHT_FALLBACK_CHAIN="groq,gemini")
    outcome = await service.generate(ScriptRequest("Tides", provider="groq"))
    assert outcome.status == "complete", outcome.error
    assert (outcome.provider, outcome.fallback_from) == ("gemini", "groq")
    record = service.store.get_script(outcome.script_id)
    assert record is not None and record.provider == "gemini" and record.model == outcome.model
    ledger = service.store.list_requests()
    assert {(r.provider, r.outcome) for r in ledger} == {("groq", "error"), ("gemini", "ok")}


async def test_consent_cancel_keeps_the_failure_and_always_is_remembered(
    make_service: ServiceFactory, emulator: Emulator
) -> None:
    service = make_service(SCRIPTWRIGHT_FALLBACK_CHAIN="groq,gemini")
    answers: list[str] = []

    async def consent(proposal: object) -> str:
        return answers.pop(0)

    answers.append("cancel")
    emulator.queue("groq", Fault.rate_limit(window="rpd", retry_after=3600))
    refused = await service.generate(ScriptRequest("Tides", provider="groq"), consent=consent)
    assert refused.status == "failed" and refused.provider == "groq"
    assert generations(emulator, "gemini") == 0
    answers.append("always")
    allowed = await service.generate(ScriptRequest("Tides", provider="groq"), consent=consent)
    assert allowed.provider == "gemini"
    # A new service (a restart) does not ask again.
    asked: list[object] = []

    async def must_not_ask(proposal: object) -> str:
        asked.append(proposal)
        return "cancel"

    restarted = make_service(SCRIPTWRIGHT_FALLBACK_CHAIN="groq,gemini")
    emulator.queue("groq", Fault.rate_limit(window="rpd", retry_after=3600))
    after_restart = await restarted.generate(ScriptRequest("Tides", provider="groq"), consent=must_not_ask)
    assert after_restart.provider == "gemini" and not asked


async def test_every_attempt_is_in_the_ledger_with_its_script(
    make_service: ServiceFactory, emulator: Emulator
) -> None:
    emulator.queue("groq", Fault.overloaded())
    service = make_service()
    outcome = await service.generate(ScriptRequest("Tides", provider="groq"))
    rows = sorted(service.store.list_requests(), key=lambda r: r.started_at)
    assert [(r.outcome, r.error_code) for r in rows] == [("error", "PROVIDER_UNAVAILABLE"), ("ok", None)]
    assert {r.script_id for r in rows} == {outcome.script_id}
    assert rows[-1].total_tokens == outcome.result.usage.total_tokens  # type: ignore[union-attr]
    assert emulator.usage_totals("groq")["completion_tokens"] == rows[-1].completion_tokens


async def test_cancel_mid_stream_saves_partial_text_and_closes_upstream(
    make_service: ServiceFactory, emulator: Emulator
) -> None:
    emulator.token_rate = 20
    service = make_service()
    seen: list[str] = []
    task = asyncio.create_task(
        service.generate(ScriptRequest("Tides", provider="groq"), on_delta=seen.append)
    )
    while len(seen) < 3:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(emulator.wait_for_disconnect, 2.0) is not None
    record = service.store.list_scripts(limit=1)[0]
    assert record.status == "cancelled"
    assert record.text == "".join(seen)
    assert service.store.list_requests()[0].outcome == "cancelled"


def test_a_third_process_waits_for_the_window_seeded_from_the_ledger(app_env: dict[str, str]) -> None:
    env = {
        **os.environ,
        **app_env,
        "GROQ_RATE_LIMIT_ENABLED": "true",
        "GROQ_RATE_LIMIT_REQUESTS_PER_MINUTE": "2",
    }
    command = [
        sys.executable,
        "-m",
        "app.cli",
        "generate",
        "--topic",
        "Tides",
        "--provider",
        "groq",
        "--json",
        "--no-cache",  # three real requests: the same topic would otherwise be answered from the cache
    ]
    for _ in range(2):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert '"waited_ms": 0' in done.stdout
    third = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert third.stderr is not None
        line = third.stderr.readline()  # the wait is announced as it starts
        assert line.startswith("waiting "), line
        seconds = int(line.split()[1])
        assert 40 <= seconds <= 60
        assert "Groq" in line and "2" in line
    finally:
        third.send_signal(signal.SIGINT)
        third.communicate(timeout=20)

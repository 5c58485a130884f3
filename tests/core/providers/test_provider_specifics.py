"""Behaviour one provider has and the others do not (the shared suite covers everything common)."""

# ruff: noqa: E501

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.core.errors import ErrorCode, LLMProviderError
from app.core.providers import create_provider
from app.core.providers.base import LLMProvider
from app.core.providers.gemini import next_daily_reset
from app.core.providers.groq import bare_host
from app.core.types import ChatMessage
from tests.core.providers.adapter_targets import TARGETS
from tests.emulator import Emulator, Fault, ScriptedResponse

MESSAGES = [ChatMessage("user", "Write a script about limits.")]
PACIFIC = ZoneInfo("America/Los_Angeles")
Make = Callable[..., LLMProvider]


@pytest.fixture
async def make(emulator: Emulator) -> AsyncIterator[Make]:
    made: list[LLMProvider] = []

    def build(name: str, **overrides: Any) -> LLMProvider:
        target = next(t for t in TARGETS if t.name == name)
        target.arm(emulator)
        provider = create_provider(name, target.settings(emulator, **overrides))
        made.append(provider)
        return provider

    yield build
    for provider in made:
        await provider.aclose()


async def fail(provider: LLMProvider, streamed: bool = False) -> LLMProviderError:
    with pytest.raises(LLMProviderError) as info:
        if streamed:
            async for _ in provider.stream(MESSAGES):
                pass
        else:
            await provider.chat(MESSAGES)
    return info.value


def sse(*events: dict[str, Any]) -> bytes:
    import json

    return b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)


# --- Groq ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://127.0.0.1:8081", "http://127.0.0.1:8081"),
        ("http://127.0.0.1:8081/", "http://127.0.0.1:8081"),
        ("https://api.groq.com/openai/v1", "https://api.groq.com"),
        ("https://api.groq.com/openai/v1/", "https://api.groq.com"),
        (None, None),
        ("", None),
    ],
)
def test_groq_bare_host(given: str | None, expected: str | None) -> None:
    assert bare_host(given) == expected


async def test_groq_openai_style_base_url_still_works(make: Make, emulator: Emulator) -> None:
    provider = make("groq", base_url=emulator.url + "/openai/v1")
    assert (await provider.chat(MESSAGES)).text
    assert emulator.requests_for("groq")[-1].path == "/openai/v1/chat/completions"


async def test_groq_unknown_url(make: Make, emulator: Emulator) -> None:
    body = {"error": {"message": "Unknown request URL: POST /openai/v1/openai/v1/chat/completions.",
                      "type": "invalid_request_error", "code": "unknown_url"}}  # fmt: skip
    emulator.queue("groq", ScriptedResponse(404, {}, body))
    error = await fail(make("groq"))
    assert error.code is ErrorCode.INVALID_REQUEST and "base URL" in error.message


async def test_groq_json_generation_failure(make: Make, emulator: Emulator) -> None:
    body = {"error": {"message": "Failed to generate JSON. Please adjust your prompt. See 'failed_generation' "
                      "for more details.", "type": "invalid_request_error", "code": "json_validate_failed",
                      "failed_generation": "{"}}  # fmt: skip
    emulator.queue("groq", ScriptedResponse(400, {}, body))
    error = await fail(make("groq"))
    assert error.code is ErrorCode.INVALID_RESPONSE and error.status_code == 400


async def test_groq_other_bad_request(make: Make, emulator: Emulator) -> None:
    body = {
        "error": {"message": "'messages' : minimum number of items is 1", "type": "invalid_request_error"}
    }
    emulator.queue("groq", ScriptedResponse(400, {}, body))
    error = await fail(make("groq"))
    assert error.code is ErrorCode.INVALID_REQUEST and "minimum number of items" in error.message


async def test_groq_permission_denied(make: Make, emulator: Emulator) -> None:
    body = {"error": {"message": "Organization has been restricted.", "type": "permission_denied"}}
    emulator.queue("groq", ScriptedResponse(403, {}, body))
    error = await fail(make("groq"))
    assert error.code is ErrorCode.AUTHENTICATION_FAILED and "restricted" in error.message


async def test_groq_rate_limit_inside_a_stream(make: Make, emulator: Emulator) -> None:
    message = (
        "Rate limit reached for model `llama-3.3-70b-versatile` in organization `org_x` service tier "
        "`on_demand` on tokens per day (TPD): Limit 100000, Used 97050, Requested 3619. "
        "Please try again in 9m38.016s."
    )
    error_event = {"error": {"message": message, "type": "tokens", "code": "rate_limit_exceeded"}}
    emulator.queue("groq", ScriptedResponse(200, {"Content-Type": "text/event-stream"}, sse(error_event)))
    error = await fail(make("groq"), streamed=True)
    assert error.code is ErrorCode.QUOTA_EXHAUSTED and error.retry_after == pytest.approx(578.016)
    assert "9 min 39 s" in error.message


async def test_groq_x_groq_error_in_a_chunk(make: Make, emulator: Emulator) -> None:
    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
             "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}],
             "x_groq": {"id": "req_1", "error": "model crashed"}}  # fmt: skip
    emulator.queue("groq", ScriptedResponse(200, {"Content-Type": "text/event-stream"}, sse(chunk)))
    error = await fail(make("groq"), streamed=True)
    assert error.code is ErrorCode.PROVIDER_UNAVAILABLE and "model crashed" in error.message


async def test_groq_usage_falls_back_to_top_level(make: Make, emulator: Emulator) -> None:
    base = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    usage = {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}
    events = (
        {**base, "choices": [{"index": 0, "delta": {"content": "Hi there"}, "finish_reason": None}]},
        {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": usage},
    )
    emulator.queue(
        "groq",
        ScriptedResponse(200, {"Content-Type": "text/event-stream"}, sse(*events) + b"data: [DONE]\n\n"),
    )
    items = [item async for item in make("groq").stream(MESSAGES)]
    result = items[-1]
    assert not isinstance(result, str)
    assert (result.usage.prompt_tokens, result.usage.completion_tokens, result.usage.total_tokens) == (
        4,
        2,
        6,
    )


# --- Gemini ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        (datetime(2026, 3, 7, 23, 30, tzinfo=PACIFIC), datetime(2026, 3, 8, 0, 0, tzinfo=PACIFIC)),
        (datetime(2026, 3, 8, 1, 0, tzinfo=PACIFIC), datetime(2026, 3, 9, 0, 0, tzinfo=PACIFIC)),  # 23 h day
        (
            datetime(2026, 11, 1, 12, 0, tzinfo=PACIFIC),
            datetime(2026, 11, 2, 0, 0, tzinfo=PACIFIC),
        ),  # 25 h day
        (datetime(2026, 6, 1, 0, 0, tzinfo=PACIFIC), datetime(2026, 6, 2, 0, 0, tzinfo=PACIFIC)),
    ],
)
def test_gemini_daily_reset_is_pacific_midnight(local: datetime, expected: datetime) -> None:
    assert next_daily_reset(local.timestamp(), "America/Los_Angeles") == expected.timestamp()


def test_gemini_daily_reset_without_a_time_zone_database() -> None:
    now = datetime(2026, 6, 1, 12, 0, tzinfo=PACIFIC).timestamp()
    # an unknown zone falls back to Pacific standard time (UTC-8): an hour off in summer, never a day
    assert (
        abs(next_daily_reset(now, "Nowhere/Unknown") - next_daily_reset(now, "America/Los_Angeles")) <= 3600
    )
    assert next_daily_reset(now, None) > now


async def test_gemini_permission_denied_and_leaked_key(make: Make, emulator: Emulator) -> None:
    denied = {
        "error": {
            "code": 403,
            "message": "Method doesn't allow unregistered callers.",
            "status": "PERMISSION_DENIED",
        }
    }
    leaked = {"error": {"code": 403, "message": "Your API key was reported as leaked. Please use another API key.",
                        "status": "PERMISSION_DENIED"}}  # fmt: skip
    emulator.queue("gemini", ScriptedResponse(403, {}, denied), ScriptedResponse(403, {}, leaked))
    error = await fail(make("gemini"))
    assert error.code is ErrorCode.AUTHENTICATION_FAILED and "GEMINI_API_KEY" in error.message
    error = await fail(make("gemini"))
    assert error.code is ErrorCode.AUTHENTICATION_FAILED and "leaked" in error.message


async def test_gemini_other_bad_request(make: Make, emulator: Emulator) -> None:
    body = {"error": {"code": 400, "message": "* GenerateContentRequest.contents: contents is not specified",
                      "status": "INVALID_ARGUMENT"}}  # fmt: skip
    emulator.queue("gemini", ScriptedResponse(400, {}, body))
    error = await fail(make("gemini"))
    assert error.code is ErrorCode.INVALID_REQUEST and "contents is not specified" in error.message


async def test_gemini_quota_without_details(make: Make, emulator: Emulator) -> None:
    body = {"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).",
                      "status": "RESOURCE_EXHAUSTED"}}  # fmt: skip
    emulator.queue("gemini", ScriptedResponse(429, {}, body))
    error = await fail(make("gemini"))
    assert error.code is ErrorCode.RATE_LIMIT_EXCEEDED and error.retry_after is None and error.window is None
    assert "in a minute" in error.message


async def test_gemini_error_inside_stream_with_a_client_code(make: Make, emulator: Emulator) -> None:
    emulator.queue(
        "gemini",
        Fault.error_in_stream(after_tokens=2, code=429, message="Quota exceeded. Please retry in 5s."),
    )
    error = await fail(make("gemini"), streamed=True)
    assert error.code is ErrorCode.RATE_LIMIT_EXCEEDED and error.retry_after == 5.0


async def test_gemini_system_messages_join_the_system_instruction(make: Make, emulator: Emulator) -> None:
    provider = make("gemini")
    await provider.chat(
        [ChatMessage("system", "Be brief."), ChatMessage("user", "Hi"), ChatMessage("assistant", "Hello"),
         ChatMessage("user", "More")],
        system_prompt="You write scripts.",
    )  # fmt: skip
    body = emulator.requests_for("gemini", ":generateContent")[-1].body
    assert body["systemInstruction"]["parts"][0]["text"] == "You write scripts.\n\nBe brief."
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]


# --- Ollama ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "code", "words"),
    [
        (400, {"error": "invalid options"}, ErrorCode.INVALID_REQUEST, "invalid options"),
        (503, {"error": "server busy, please try again.  maximum pending requests exceeded"},
         ErrorCode.PROVIDER_UNAVAILABLE, "busy"),
        (401, {"error": "unauthorized"}, ErrorCode.AUTHENTICATION_FAILED, "OLLAMA_API_KEY"),
        (500, "Internal Server Error", ErrorCode.PROVIDER_UNAVAILABLE, "HTTP 500"),
    ],
)  # fmt: skip
async def test_ollama_status_errors(
    make: Make, emulator: Emulator, status: int, body: Any, code: ErrorCode, words: str
) -> None:
    emulator.queue("ollama", ScriptedResponse(status, {}, body))
    error = await fail(make("ollama"))
    assert error.code is code and error.status_code == status and words in error.message


async def test_ollama_keyless(make: Make, emulator: Emulator) -> None:
    report = await make("ollama", api_key=None).health()
    assert report.reachable and report.key_accepted is None
    assert emulator.requests_for("ollama", "/api/tags")

"""The shared adapter suite: the same tests for every provider, through the real SDKs over real HTTP.

Each test takes `target` (one run per provider, see adapter_targets.py) and talks to the local emulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest

from app.core.errors import ErrorCode, LLMProviderError
from app.core.providers.base import EMPTY_REPLY, LLMProvider
from app.core.ratelimit.clock import FakeClock
from app.core.ratelimit.snapshot import Window
from app.core.types import ChatMessage, GenerateOptions, GenerateResult
from tests.core.providers.adapter_targets import FAKE_KEYS, WRONG_KEY, Target
from tests.emulator import Emulator, Fault, ScriptedResponse, closed_port

MakeProvider = Callable[..., LLMProvider]

SYSTEM = "You write scripts."  # 3 words
MESSAGES = [ChatMessage("user", "Write a short script about rate limits.")]  # 7 words
PROMPT_TOKENS = 10  # the emulator counts whitespace-split words of every message, system included
REPLY = "Hello from the emulator, one word at a time."
OPTIONS = GenerateOptions(temperature=0.3, max_output_tokens=64)
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"title": {"type": "string"}, "scenes": {"type": "array", "items": {"type": "object"}}},
    "required": ["title", "scenes"],
}
STREAMED = pytest.mark.parametrize("streamed", [False, True], ids=["chat", "stream"])


async def call(
    provider: LLMProvider, streamed: bool, options: GenerateOptions = OPTIONS, system: str | None = SYSTEM
) -> GenerateResult:
    if not streamed:
        return await provider.chat(MESSAGES, system_prompt=system, options=options)
    deltas: list[str] = []
    results: list[GenerateResult] = []
    async for item in provider.stream(MESSAGES, system_prompt=system, options=options):
        (results if isinstance(item, GenerateResult) else deltas).append(item)  # type: ignore[arg-type]
    assert len(results) == 1, "a stream ends with exactly one GenerateResult"
    assert "".join(deltas) == results[0].text
    return results[0]


def assert_clean(error: LLMProviderError) -> None:
    """An error the window can show: a sentence, the provider named, and no key anywhere."""
    assert str(error) == error.message
    assert error.message.strip() and "Traceback" not in error.message
    for secret in (*FAKE_KEYS.values(), WRONG_KEY):
        for text in (str(error), error.detail or "", repr(error)):
            assert secret not in text


async def fails(provider: LLMProvider, streamed: bool, **kwargs: Any) -> LLMProviderError:
    with pytest.raises(LLMProviderError) as info:
        await call(provider, streamed, **kwargs)
    error = info.value
    assert error.provider == provider.name
    assert_clean(error)
    return error


# --- generation ------------------------------------------------------------------------------------------


@STREAMED
async def test_generation(target: Target, provider: LLMProvider, emulator: Emulator, streamed: bool) -> None:
    emulator.reply_text = REPLY
    result = await call(provider, streamed)
    assert result.text.split() == REPLY.split()
    assert result.provider == target.name and result.model == target.model
    assert result.finish_reason == "stop"
    assert result.usage.prompt_tokens == PROMPT_TOKENS
    assert result.usage.completion_tokens == len(REPLY.split())
    assert result.usage.total_tokens == PROMPT_TOKENS + len(REPLY.split())
    assert result.latency_ms > 0
    assert (result.time_to_first_token_ms is not None) is streamed
    assert result.parsed is None
    assert len(target.generation_requests(emulator)) == 1


async def test_request_carries_options(target: Target, provider: LLMProvider, emulator: Emulator) -> None:
    await call(provider, False, options=GenerateOptions(temperature=0.3, max_output_tokens=64))
    body = target.sent_body(emulator)
    if target.name == "groq":
        assert body["model"] == target.model
        assert body["messages"][0] == {"role": "system", "content": SYSTEM}
        assert (body["temperature"], body["max_completion_tokens"]) == (0.3, 64)
    elif target.name == "openai":  # a server other than api.openai.com: the widely known `max_tokens`
        assert body["model"] == target.model and "stream" not in body
        assert body["messages"][0] == {"role": "system", "content": SYSTEM}
        assert (body["temperature"], body["max_tokens"]) == (0.3, 64)
    elif target.name == "anthropic":
        assert body["model"] == target.model and body["system"] == SYSTEM
        assert body["messages"] == [{"role": "user", "content": MESSAGES[0].content}]
        assert (body["temperature"], body["max_tokens"]) == (0.3, 64)
        headers = target.generation_requests(emulator)[-1].headers
        assert headers["anthropic-version"] == "2023-06-01" and "authorization" not in headers
    elif target.name == "gemini":
        assert body["systemInstruction"]["parts"][0]["text"] == SYSTEM
        assert body["contents"][0]["role"] == "user"
        assert (body["generationConfig"]["temperature"], body["generationConfig"]["maxOutputTokens"]) == (
            0.3,
            64,
        )
    else:
        assert body["model"] == target.model and body["stream"] is False
        assert body["messages"][0] == {"role": "system", "content": SYSTEM}
        assert body["options"] == {"temperature": 0.3, "num_predict": 64}


async def test_stream_request_asks_for_usage(
    target: Target, provider: LLMProvider, emulator: Emulator
) -> None:
    await call(provider, True)
    body = target.sent_body(emulator)
    if target.name in ("groq", "openai"):
        assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    elif target.name in ("ollama", "anthropic"):
        assert body["stream"] is True
    else:
        assert emulator.requests_for("gemini", "streamGenerateContent")[-1].query.get("alt") == "sse"


@STREAMED
async def test_length_finish(
    target: Target, provider: LLMProvider, emulator: Emulator, streamed: bool
) -> None:
    emulator.queue(target.name, Fault.length(after_tokens=3))
    result = await call(provider, streamed)
    assert result.finish_reason == "length"
    assert len(result.text.split()) == 3


@STREAMED
async def test_empty_reply_is_flagged(
    target: Target, provider: LLMProvider, emulator: Emulator, streamed: bool
) -> None:
    emulator.reply_text = ""
    result = await call(provider, streamed)
    assert result.text == ""
    assert result.finish_reason == EMPTY_REPLY


# --- rate-limit headers and snapshots --------------------------------------------------------------------


@STREAMED
async def test_headers_and_snapshot(
    target: Target, provider: LLMProvider, emulator: Emulator, streamed: bool
) -> None:
    result = await call(provider, streamed)
    if target.name in ("openai", "anthropic"):  # per-minute windows, in two header dialects
        check_per_minute_headers(target, result)
        return
    if target.name != "groq":  # Gemini and Ollama send no rate-limit headers
        assert result.rate_limits is None
        return
    assert result.raw_headers["x-ratelimit-limit-requests"] == "1000"  # llama-3.3-70b-versatile's RPD
    assert "x-request-id" in result.raw_headers
    assert not any(name.lower() == "authorization" for name in result.raw_headers)
    snapshot = result.rate_limits
    assert snapshot is not None and snapshot.provider == "groq" and snapshot.model == target.model
    rpd, tpm = snapshot.get(Window.REQUESTS_PER_DAY), snapshot.get(Window.TOKENS_PER_MINUTE)
    assert rpd is not None and tpm is not None
    assert (rpd.limit, rpd.remaining) == (1000, 999)
    assert tpm.limit == 12000 and tpm.remaining is not None and tpm.remaining < 12000
    assert rpd.reset_at is not None and rpd.reset_at > time.time()


@STREAMED
@pytest.mark.feature("rate_limit_headers")
async def test_snapshot_is_read_as_of_the_replys_end_however_late(
    target: Target, make_provider: MakeProvider, streamed: bool
) -> None:
    """The headers are parsed on the first read of `rate_limits` (off the reply's path), with the clock as it
    was when the reply ended: a read an hour later sees the same windows."""
    clock = FakeClock(time.time())
    ended_at = clock.now()
    result = await call(make_provider(clock=clock), streamed)
    clock.advance(3600)
    snapshot = result.rate_limits
    assert snapshot is not None and snapshot.observed_at == ended_at
    resets = [w.reset_at for w in snapshot.windows if w.reset_at is not None]
    assert resets and all(reset < ended_at + 3600 for reset in resets)
    assert result.rate_limits is snapshot  # parsed once


def check_per_minute_headers(target: Target, result: GenerateResult) -> None:
    prefix = "x-ratelimit-" if target.name == "openai" else "anthropic-ratelimit-"
    assert any(name.startswith(prefix) for name in result.raw_headers)
    assert ("x-request-id" if target.name == "openai" else "request-id") in result.raw_headers
    assert not any(name.lower() in ("authorization", "x-api-key") for name in result.raw_headers)
    snapshot = result.rate_limits
    assert snapshot is not None and snapshot.provider == target.name and snapshot.model == target.model
    rpm, tpm = snapshot.get(Window.REQUESTS_PER_MINUTE), snapshot.get(Window.TOKENS_PER_MINUTE)
    assert rpm is not None and tpm is not None
    assert rpm.limit is not None and rpm.remaining == rpm.limit - 1
    assert tpm.limit is not None and tpm.remaining is not None and tpm.remaining < tpm.limit
    assert rpm.reset_at is not None and time.time() - 1 < rpm.reset_at <= time.time() + 61


# --- structured output -----------------------------------------------------------------------------------


@STREAMED
async def test_structured_output(
    target: Target, provider: LLMProvider, emulator: Emulator, streamed: bool
) -> None:
    result = await call(provider, streamed, options=GenerateOptions(json_schema=SCHEMA))
    assert result.parsed == emulator.json_reply
    body = target.sent_body(emulator)
    if target.name == "anthropic":
        assert body["output_format"] == {"type": "json_schema", "schema": SCHEMA}
    elif target.name in ("groq", "openai"):
        assert body["response_format"] == {
            "type": "json_schema",
            "json_schema": {"name": "script", "schema": SCHEMA},
        }
    elif target.name == "gemini":
        config = body["generationConfig"]
        assert config["responseMimeType"] == "application/json"
        assert config["responseJsonSchema"] == SCHEMA
    else:
        assert body["format"] == SCHEMA


@STREAMED
async def test_structured_output_not_json(
    target: Target, provider: LLMProvider, emulator: Emulator, streamed: bool
) -> None:
    emulator.queue(target.name, Fault.length(after_tokens=4))  # JSON cut short by the token limit
    error = await fails(provider, streamed, options=GenerateOptions(json_schema=SCHEMA))
    assert error.code is ErrorCode.INVALID_RESPONSE
    assert "not JSON" in error.message


@STREAMED
async def test_structured_output_wrong_shape(
    target: Target, provider: LLMProvider, emulator: Emulator, streamed: bool
) -> None:
    emulator.json_reply = {"title": 5}
    error = await fails(provider, streamed, options=GenerateOptions(json_schema=SCHEMA))
    assert error.code is ErrorCode.INVALID_RESPONSE
    assert "does not match" in error.message


# --- models and health -----------------------------------------------------------------------------------


async def test_list_models(target: Target, provider: LLMProvider, emulator: Emulator) -> None:
    models = await provider.list_models()
    expected = getattr(emulator, f"{target.name}_models")
    assert [m.id for m in models] == list(expected)
    if target.name == "gemini":
        assert all(m.label and m.context_window for m in models)
    if target.name == "anthropic":
        assert [m.label for m in models] == ["Claude Sonnet 4.5", "Claude Haiku 4.5"]


async def test_health_ok(target: Target, provider: LLMProvider, emulator: Emulator) -> None:
    report = await provider.health()
    assert report.reachable and report.latency_ms is not None
    assert report.key_accepted is (True if target.needs_key else None)
    assert report.provider == target.name and report.model == target.model


@pytest.mark.feature("bad_key")
async def test_health_bad_key(target: Target, make_provider: MakeProvider, emulator: Emulator) -> None:
    report = await make_provider(api_key=WRONG_KEY).health()
    assert report.reachable and report.key_accepted is False
    assert target.key_env and target.key_env in report.message
    assert WRONG_KEY not in report.message


async def test_health_closed_port(target: Target, make_provider: MakeProvider) -> None:
    report = await make_provider(base_url=f"http://127.0.0.1:{closed_port()}").health()
    assert not report.reachable and report.latency_ms is None and report.key_accepted is None
    if target.name == "ollama":
        assert "ollama serve" in report.message


# --- keys ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("placeholder", ["", "your_key_here", "YOUR_API_KEY_HERE", None])
async def test_placeholder_key_refused_before_any_request(
    target: Target, make_provider: MakeProvider, emulator: Emulator, placeholder: str | None
) -> None:
    provider = make_provider(api_key=placeholder)
    if not target.needs_key:  # Ollama takes no key: nothing to refuse
        assert (await call(provider, False)).text
        return
    for attempt in (lambda: call(provider, False), lambda: call(provider, True), provider.list_models):
        with pytest.raises(LLMProviderError) as info:
            await attempt()
        assert info.value.code is ErrorCode.AUTHENTICATION_FAILED
        assert target.key_env and target.key_env in info.value.message
    report = await provider.health()
    assert report.key_accepted is False and target.key_env and target.key_env in report.message
    assert emulator.requests == []


@STREAMED
@pytest.mark.feature("bad_key")
async def test_bad_key(target: Target, make_provider: MakeProvider, streamed: bool) -> None:
    error = await fails(make_provider(api_key=WRONG_KEY), streamed)
    assert error.code is ErrorCode.AUTHENTICATION_FAILED
    assert error.status_code == target.bad_key_status
    assert target.key_env and target.key_env in error.message


# --- errors, streamed and not ----------------------------------------------------------------------------


@STREAMED
async def test_unknown_model(target: Target, make_provider: MakeProvider, streamed: bool) -> None:
    error = await fails(make_provider(model="no-such-model"), streamed)
    assert error.code is ErrorCode.MODEL_NOT_FOUND and error.status_code == 404
    assert "no-such-model" in error.message
    if target.name == "ollama":
        assert "ollama pull no-such-model" in error.message


@pytest.mark.parametrize(
    "text", ["model '{model}' not found", 'model "{model}" not found, try pulling it first']
)
@pytest.mark.only("ollama")
async def test_ollama_missing_model_both_texts(
    target: Target, make_provider: MakeProvider, emulator: Emulator, text: str
) -> None:
    emulator.ollama_missing_model_text = text
    for streamed in (False, True):
        error = await fails(make_provider(model="phi9"), streamed)
        assert error.code is ErrorCode.MODEL_NOT_FOUND and "ollama pull phi9" in error.message


PER_MINUTE = {
    "groq": Fault.rate_limit(window="rpm", limit=30, retry_after=7),
    "gemini": Fault.rate_limit(window="rpm", limit=10, retry_delay="7s"),
    "ollama": Fault.rate_limit(),
    "openai": Fault.rate_limit(window="rpm", limit=10, retry_after=7),
    "anthropic": Fault.rate_limit(window="rpm", limit=10, retry_after=7),
}


@STREAMED
async def test_rate_limited_per_minute(
    target: Target, provider: LLMProvider, emulator: Emulator, streamed: bool
) -> None:
    emulator.queue(target.name, PER_MINUTE[target.name])
    error = await fails(provider, streamed)
    assert error.code is ErrorCode.RATE_LIMIT_EXCEEDED and error.is_transient
    assert error.status_code == 429
    if target.name == "ollama":  # a cloud host's plain 429: no wait given
        return
    assert error.retry_after == pytest.approx(7.0)
    assert error.reset_at is not None
    assert error.window is Window.REQUESTS_PER_MINUTE
    assert "7 s" in error.message
    assert error.snapshot is not None
    refused = error.snapshot.get(Window.REQUESTS_PER_MINUTE)
    assert (
        refused is not None
        and refused.remaining == 0
        and refused.limit == (30 if target.name == "groq" else 10)
    )
    if target.name == "groq":  # the 429's headers are in the snapshot too
        assert error.snapshot.get(Window.REQUESTS_PER_DAY) is not None
        assert "x-ratelimit-limit-requests" in error.snapshot.raw_headers
    if target.name in ("openai", "anthropic"):
        assert error.snapshot.get(Window.TOKENS_PER_MINUTE) is not None  # from the 429's headers


@STREAMED
@pytest.mark.only("groq")
async def test_groq_tokens_per_minute_wait_from_body(
    target: Target, provider: LLMProvider, emulator: Emulator, streamed: bool
) -> None:
    emulator.queue(
        "groq",
        Fault.rate_limit(window="tpm", limit=12000, used=2542, requested=9855, try_again="1.984999999s"),
    )
    error = await fails(provider, streamed)
    assert error.code is ErrorCode.RATE_LIMIT_EXCEEDED and error.window is Window.TOKENS_PER_MINUTE
    assert error.retry_after == pytest.approx(2.0)  # retry-after header (2), longer than the body's 1.98 s


@STREAMED
@pytest.mark.feature("daily_quota")
async def test_daily_quota(
    target: Target, make_provider: MakeProvider, emulator: Emulator, streamed: bool
) -> None:
    from app.core.ratelimit.clock import FakeClock

    clock = FakeClock(1_773_000_000.0)  # 2026-03-08 19:00 UTC: a DST-change day in Los Angeles
    emulator.clock = clock.now
    provider = make_provider(clock=clock)
    if target.name == "groq":
        emulator.queue(
            "groq", Fault.rate_limit(window="rpd", limit=1000, used=1000, requested=1, try_again="6h12m")
        )
    else:
        emulator.queue("gemini", Fault.rate_limit(window="rpd", limit=20))
    error = await fails(provider, streamed)
    assert error.code is ErrorCode.QUOTA_EXHAUSTED and not error.is_transient
    assert error.window is Window.REQUESTS_PER_DAY and error.status_code == 429
    assert error.reset_at is not None and error.retry_after is not None
    assert error.reset_at.timestamp() == pytest.approx(clock.now() + error.retry_after)
    if target.name == "groq":
        assert error.retry_after == pytest.approx(22320.0)
        assert "6 h 12 min" in error.message
    else:
        from datetime import datetime
        from zoneinfo import ZoneInfo

        reset = error.reset_at.astimezone(ZoneInfo("America/Los_Angeles"))
        assert (reset.hour, reset.minute) == (0, 0)
        assert reset.date() == datetime(2026, 3, 9).date()
        assert "midnight Pacific" in error.message
    assert error.snapshot is not None
    refused = error.snapshot.get(Window.REQUESTS_PER_DAY)
    assert refused is not None and refused.remaining == 0 and refused.reset_at is not None


@STREAMED
@pytest.mark.feature("limit_zero")
async def test_gemini_limit_zero(
    target: Target, provider: LLMProvider, emulator: Emulator, streamed: bool
) -> None:
    emulator.queue("gemini", Fault.rate_limit(window="rpd", limit_zero=True))
    error = await fails(provider, streamed)
    assert error.code is ErrorCode.QUOTA_EXHAUSTED
    assert error.message == (
        "gemini-2.5-flash has no free-tier quota for this key's project; "
        "choose another model or enable billing."
    )


@STREAMED
@pytest.mark.feature("too_large")
async def test_groq_request_too_large(
    target: Target, provider: LLMProvider, emulator: Emulator, streamed: bool
) -> None:
    emulator.queue("groq", Fault.too_large(limit=12000, requested=12328))
    error = await fails(provider, streamed)
    assert error.code is ErrorCode.INVALID_REQUEST and error.status_code == 413
    assert error.message == (
        "This request needs more tokens than Groq allows per minute for llama-3.3-70b-versatile "
        "(limit 12000). Ask for a shorter script or pick a model with a higher limit."
    )
    assert error.window is Window.TOKENS_PER_MINUTE


@STREAMED
@pytest.mark.feature("too_large")
async def test_groq_413_from_real_budget(
    target: Target, make_provider: MakeProvider, emulator: Emulator, streamed: bool
) -> None:
    emulator.set_groq_limits(target.model, tpm=50)
    error = await fails(make_provider(), streamed, options=GenerateOptions(max_output_tokens=100))
    assert error.code is ErrorCode.INVALID_REQUEST and "(limit 50)" in error.message


@STREAMED
@pytest.mark.parametrize(
    ("fault", "status"),
    [
        ("server_error", 500),
        ("overloaded", 503),
        ("bad_gateway", 502),
        ("gateway_timeout", 504),
        ("flex", 498),
    ],
)
@pytest.mark.feature("fault")
async def test_server_side_failures(
    target: Target, provider: LLMProvider, emulator: Emulator, streamed: bool, fault: str, status: int
) -> None:
    emulator.queue(target.name, Fault(fault))
    error = await fails(provider, streamed)
    assert error.code is ErrorCode.PROVIDER_UNAVAILABLE and error.is_transient
    assert error.status_code == target.status_for(fault, status)
    if fault == "overloaded" and target.name != "ollama":
        assert "overloaded" in error.message or "over capacity" in error.message


async def test_error_inside_stream(target: Target, provider: LLMProvider, emulator: Emulator) -> None:
    emulator.queue(target.name, Fault.error_in_stream(after_tokens=3))
    deltas: list[str] = []
    with pytest.raises(LLMProviderError) as info:
        async for item in provider.stream(MESSAGES, system_prompt=SYSTEM):
            if isinstance(item, str):
                deltas.append(item)
    assert info.value.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert_clean(info.value)
    assert len("".join(deltas).split()) == 3  # the partial text reached the caller before the error


async def test_error_instead_of_a_plain_reply(
    target: Target, provider: LLMProvider, emulator: Emulator
) -> None:
    emulator.queue(target.name, Fault.error_in_stream(after_tokens=3))  # non-streamed: an error status
    error = await fails(provider, False)
    assert error.code is ErrorCode.PROVIDER_UNAVAILABLE


@STREAMED
async def test_dropped_connection(
    target: Target, provider: LLMProvider, emulator: Emulator, streamed: bool
) -> None:
    emulator.queue(target.name, Fault.drop_connection(after_tokens=3))
    error = await fails(provider, streamed)
    assert error.code is ErrorCode.NETWORK_ERROR
    assert "broke before the reply was complete" in error.message


@STREAMED
async def test_closed_port(target: Target, make_provider: MakeProvider, streamed: bool) -> None:
    port = closed_port()
    error = await fails(make_provider(base_url=f"http://127.0.0.1:{port}"), streamed)
    assert error.code is ErrorCode.NETWORK_ERROR
    if target.name == "ollama":
        assert error.message == (
            f"Ollama is not running at http://127.0.0.1:{port}. Start it with `ollama serve` "
            "(or open the Ollama app), then try again."
        )
    else:
        assert f"127.0.0.1:{port}" in error.message


@STREAMED
async def test_read_timeout(
    target: Target, make_provider: MakeProvider, emulator: Emulator, streamed: bool
) -> None:
    emulator.queue(target.name, Fault.slow(3.0))
    started = time.monotonic()
    error = await fails(make_provider(timeout_s=0.5), streamed)
    assert time.monotonic() - started < 2.5
    assert error.code is ErrorCode.NETWORK_ERROR
    assert f"{target.label} did not answer within 0.5 s" in error.message


@STREAMED
@pytest.mark.feature("blocked_prompt")
async def test_gemini_blocked_prompt(
    target: Target, provider: LLMProvider, emulator: Emulator, streamed: bool
) -> None:
    emulator.queue("gemini", Fault.blocked_prompt("SAFETY"))
    error = await fails(provider, streamed)
    assert error.code is ErrorCode.INVALID_REQUEST
    assert error.message == "Gemini refused this prompt (SAFETY). Rephrase the topic."


SCRAMBLED = {
    "groq": ScriptedResponse(200, {"Content-Type": "application/json"}, {"id": "x", "choices": []}),
    "gemini": ScriptedResponse(200, {}, "this is not json"),
    "ollama": ScriptedResponse(200, {}, "this is not json"),
    "openai": ScriptedResponse(200, {"Content-Type": "application/json"}, {"id": "x", "choices": []}),
    "anthropic": ScriptedResponse(200, {"Content-Type": "application/json"}, {"id": "x", "type": "other"}),
}


async def test_reply_that_cannot_be_understood(
    target: Target, provider: LLMProvider, emulator: Emulator
) -> None:
    emulator.queue(target.name, SCRAMBLED[target.name])
    error = await fails(provider, False)
    assert error.code is ErrorCode.INVALID_RESPONSE


async def test_stream_that_cannot_be_understood(
    target: Target, provider: LLMProvider, emulator: Emulator
) -> None:
    garbage = {
        "groq": b"data: {not json}\n\n",
        "gemini": b"data: {not json}\r\n\r\n",
        "ollama": b"{not json}\n",
        "openai": b"data: {not json}\n\n",
        "anthropic": b"event: message_start\ndata: {not json}\n\n",
    }[target.name]
    content_type = {
        "groq": "text/event-stream",
        "gemini": "text/event-stream",
        "ollama": "application/x-ndjson",
        "openai": "text/event-stream",
        "anthropic": "text/event-stream",
    }
    emulator.queue(target.name, ScriptedResponse(200, {"Content-Type": content_type[target.name]}, garbage))
    error = await fails(provider, True)
    assert error.code is ErrorCode.INVALID_RESPONSE


async def test_empty_object_is_not_a_reply(target: Target, provider: LLMProvider, emulator: Emulator) -> None:
    emulator.queue(target.name, ScriptedResponse(200, {"Content-Type": "application/json"}, {}))
    error = await fails(provider, False)
    assert error.code is ErrorCode.INVALID_RESPONSE


async def test_stream_that_ends_unfinished(target: Target, provider: LLMProvider, emulator: Emulator) -> None:
    content_type = "application/x-ndjson" if target.name == "ollama" else "text/event-stream"
    emulator.queue(target.name, ScriptedResponse(200, {"Content-Type": content_type}, b""))
    error = await fails(provider, True)
    assert error.code is ErrorCode.NETWORK_ERROR  # a reply without its end is a cut connection, not a reply


async def test_html_error_page_stays_out_of_the_sentence(
    target: Target, provider: LLMProvider, emulator: Emulator
) -> None:
    emulator.queue(target.name, Fault.bad_gateway())
    error = await fails(provider, False)
    assert error.code is ErrorCode.PROVIDER_UNAVAILABLE and error.status_code == 502
    assert "<" not in error.message


# --- cancellation closes the connection upstream ---------------------------------------------------------


async def test_cancel_closes_the_upstream_connection(
    target: Target, provider: LLMProvider, emulator: Emulator
) -> None:
    emulator.token_rate = 20  # one token every 50 ms: the reply takes seconds
    deltas: list[str] = []
    two_deltas = asyncio.Event()

    async def consume() -> None:
        async for item in provider.stream(MESSAGES, system_prompt=SYSTEM):
            if isinstance(item, str):
                deltas.append(item)
                if len(deltas) == 2:
                    two_deltas.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(two_deltas.wait(), 10)
    cancelled_at = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    seen = await asyncio.to_thread(emulator.wait_for_disconnect, 2.0)
    assert seen is not None, "the emulator never saw the client hang up"
    assert seen - cancelled_at < 0.1
    assert len(deltas) < 10


async def test_leaving_a_stream_early_closes_the_upstream_connection(
    target: Target, provider: LLMProvider, emulator: Emulator
) -> None:
    emulator.token_rate = 20
    async with contextlib.aclosing(provider.stream(MESSAGES, system_prompt=SYSTEM)) as stream:
        count = 0
        async for item in stream:
            count += isinstance(item, str)
            if count == 2:
                break
    left_at = time.monotonic()
    seen = await asyncio.to_thread(emulator.wait_for_disconnect, 2.0)
    assert seen is not None and seen - left_at < 0.1


# --- secrets ---------------------------------------------------------------------------------------------


async def test_the_key_never_reaches_errors_or_logs(
    target: Target, make_provider: MakeProvider, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[LLMProviderError] = []
    faults = [Fault.rate_limit(), Fault.server_error(), Fault.drop_connection(), Fault.error_in_stream()]
    for streamed in (False, True):
        for fault in faults:
            emulator.queue(target.name, fault)
            errors.append(await fails(make_provider(), streamed))
        errors.append(await fails(make_provider(model="no-such-model"), streamed))
        if target.needs_key:
            errors.append(await fails(make_provider(api_key=WRONG_KEY), streamed))
    await make_provider(api_key=WRONG_KEY).health()
    await call(make_provider(), True)  # and a successful call's logs
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    for secret in (*FAKE_KEYS.values(), WRONG_KEY):
        assert secret not in logged
        for error in errors:
            assert secret not in f"{error} {error.detail} {error!r} {error.snapshot!r}"


async def test_settings_repr_hides_the_key(target: Target, provider: LLMProvider) -> None:
    for secret in FAKE_KEYS.values():
        assert secret not in repr(provider.settings)


# --- lifecycle -------------------------------------------------------------------------------------------


async def test_client_is_created_lazily_and_closed(
    target: Target, provider: LLMProvider, emulator: Emulator
) -> None:
    assert vars(provider)["_client"] is None  # nothing built before the first call
    await call(provider, False)
    assert vars(provider)["_client"] is not None
    await provider.aclose()
    await provider.aclose()  # twice is fine
    assert vars(provider)["_client"] is None
    assert (await call(provider, False)).text  # and it reopens on demand


# --- the two providers over plain httpx ------------------------------------------------------------------


@STREAMED
@pytest.mark.feature("insufficient_quota")
async def test_openai_insufficient_quota(
    target: Target, provider: LLMProvider, emulator: Emulator, streamed: bool
) -> None:
    emulator.queue(target.name, Fault.rate_limit(insufficient_quota=True))
    error = await fails(provider, streamed)
    assert error.code is ErrorCode.QUOTA_EXHAUSTED and not error.is_transient and error.status_code == 429
    assert "quota or credit is used up" in error.message


@STREAMED
@pytest.mark.feature("context_length")
async def test_openai_context_length_exceeded(
    target: Target, provider: LLMProvider, emulator: Emulator, streamed: bool
) -> None:
    emulator.queue(target.name, Fault.too_large())
    error = await fails(provider, streamed)
    assert error.code is ErrorCode.INVALID_REQUEST and error.status_code == 400
    assert "shorter script" in error.message


@pytest.mark.only("openai")
async def test_openai_official_host_gets_max_completion_tokens(target: Target, emulator: Emulator) -> None:
    from app.core.providers.openai_compat import OpenAICompatibleProvider

    provider = OpenAICompatibleProvider(target.settings(emulator, base_url="https://api.openai.com/v1/"))
    arguments = provider._arguments(provider._request(MESSAGES, None, OPTIONS))
    assert arguments["max_completion_tokens"] == 64 and "max_tokens" not in arguments


@pytest.mark.only("anthropic")
async def test_anthropic_default_max_tokens_and_rate_limit_from_headers(
    target: Target, provider: LLMProvider, emulator: Emulator
) -> None:
    await call(provider, False, options=GenerateOptions())
    assert target.sent_body(emulator)["max_tokens"] == 4096  # required by the API
    emulator.set_anthropic_limits(target.model, rpm=1)
    error = await fails(provider, True)  # the real bucket refuses: a 429 with retry-after and headers
    assert error.code is ErrorCode.RATE_LIMIT_EXCEEDED and error.window is Window.REQUESTS_PER_MINUTE
    assert error.retry_after is not None and 0 < error.retry_after <= 60
    assert error.snapshot is not None
    refused = error.snapshot.get(Window.REQUESTS_PER_MINUTE)
    assert refused is not None and refused.limit == 1 and refused.remaining == 0

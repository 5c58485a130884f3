"""Groq's and the OpenAI-compatible adapter's replies, read as plain JSON (app/core/providers/openai_wire.py).

Groq's SDK still sends every request and raises its status errors; these tests pin down what the adapters now
read themselves: the chunks of a stream, frames of the wrong shape, and what comes after `[DONE]`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from app.core.errors import ErrorCode, LLMProviderError
from app.core.providers import create_provider
from app.core.providers.base import LLMProvider
from app.core.types import ChatMessage, GenerateResult
from tests.core.providers.adapter_targets import TARGETS
from tests.emulator import Emulator, ScriptedResponse

MESSAGES = [ChatMessage("user", "Write a script about limits.")]
OPENAI_WIRE = pytest.mark.parametrize("name", ["groq", "openai"])
SSE = {"Content-Type": "text/event-stream"}
BASE = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}
Make = Callable[[str], LLMProvider]


@pytest.fixture
async def make(emulator: Emulator) -> AsyncIterator[Make]:
    made: list[LLMProvider] = []

    def build(name: str) -> LLMProvider:
        target = next(t for t in TARGETS if t.name == name)
        target.arm(emulator)
        made.append(create_provider(name, target.settings(emulator)))
        return made[-1]

    yield build
    for provider in made:
        await provider.aclose()


def frames(*chunks: object) -> bytes:
    return b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks)


def chunk(content: object = None, finish_reason: str | None = None, **extra: Any) -> dict[str, Any]:
    delta = {} if content is None else {"content": content}
    return {**BASE, "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}], **extra}


async def streamed(provider: LLMProvider) -> tuple[list[str], GenerateResult]:
    items = [item async for item in provider.stream(MESSAGES)]
    result = items[-1]
    assert isinstance(result, GenerateResult)
    return [item for item in items if isinstance(item, str)], result


async def test_groq_builds_no_sdk_model_for_a_reply(
    make: Make, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SDK's per-chunk models cost ~0.2 ms each on the window's thread: the reply never reaches them."""
    import groq._models

    def refuse(*args: object, **kwargs: object) -> object:
        raise AssertionError("the groq SDK built a model for a reply")

    monkeypatch.setattr(groq._models, "construct_type", refuse)
    provider = make("groq")
    deltas, result = await streamed(provider)
    assert "".join(deltas) == result.text and result.text and result.finish_reason == "stop"
    assert result.usage.total_tokens > 0 and result.rate_limits is not None
    plain = await provider.chat(MESSAGES)
    assert plain.text and plain.usage.total_tokens > 0 and plain.rate_limits is not None


@OPENAI_WIRE
async def test_frames_after_done_are_ignored(name: str, make: Make, emulator: Emulator) -> None:
    body = frames(chunk("Hi"), chunk(" there", "stop")) + b"data: [DONE]\n\n" + frames(chunk(" more"))
    emulator.queue(name, ScriptedResponse(200, SSE, body))
    deltas, result = await streamed(make(name))
    assert deltas == ["Hi", " there"] and result.text == "Hi there" and result.finish_reason == "stop"


@OPENAI_WIRE
async def test_server_sent_event_details(name: str, make: Make, emulator: Emulator) -> None:
    """Comments, keep-alives, other fields, a frame over two `data:` lines, CRLF line ends, and a last frame
    without the blank line that should end it."""
    first, last = json.dumps(chunk("Hi")), json.dumps(chunk(" there", "stop"))
    split = first.index('"choices"')
    body = (
        b": keep-alive\n\n\n"
        + b"event: message\r\nid: 1\r\ndata: " + first[:split].encode() + b"\r\n"
        + b"data:" + first[split:].encode() + b"\r\n\r\n"
        + b"retry: 1000\n\n"
        + b"data: " + last.encode()
    )  # fmt: skip
    emulator.queue(name, ScriptedResponse(200, SSE, body))
    deltas, result = await streamed(make(name))
    assert deltas == ["Hi", " there"] and result.finish_reason == "stop"


@OPENAI_WIRE
async def test_usage_arrives_in_a_chunk_without_choices(name: str, make: Make, emulator: Emulator) -> None:
    usage = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
    body = frames(chunk("Hi"), chunk(finish_reason="length"), {**BASE, "choices": [], "usage": usage})
    emulator.queue(name, ScriptedResponse(200, SSE, body + b"data: [DONE]\n\n"))
    _, result = await streamed(make(name))
    assert result.text == "Hi" and result.finish_reason == "length"
    usage_read = result.usage
    assert (usage_read.prompt_tokens, usage_read.completion_tokens, usage_read.total_tokens) == (5, 2, 7)


@OPENAI_WIRE
@pytest.mark.parametrize(
    "frame",
    [
        [1, 2],  # not an object
        chunk(42),  # content that is not text
        {**BASE, "choices": "none"},  # choices that are not a list
        {**BASE, "choices": [{"index": 0, "delta": "Hi"}]},  # a delta that is not an object
    ],
    ids=["array", "number-content", "choices-string", "delta-string"],
)
async def test_a_frame_of_another_shape_is_a_reply_not_understood(
    name: str, frame: object, make: Make, emulator: Emulator
) -> None:
    emulator.queue(name, ScriptedResponse(200, SSE, frames(chunk("Hi"), frame, chunk("!", "stop"))))
    deltas: list[str] = []
    with pytest.raises(LLMProviderError) as info:
        async for item in make(name).stream(MESSAGES):
            if isinstance(item, str):
                deltas.append(item)
    assert info.value.code is ErrorCode.INVALID_RESPONSE
    assert deltas == ["Hi"]  # the text before the bad frame reached the caller; nothing of it after


@OPENAI_WIRE
async def test_an_error_frame_ends_the_reply(name: str, make: Make, emulator: Emulator) -> None:
    error = {"error": {"message": "the model crashed", "type": "server_error"}}
    emulator.queue(name, ScriptedResponse(200, SSE, frames(chunk("Hi"), error)))
    with pytest.raises(LLMProviderError) as info:
        await streamed(make(name))
    assert info.value.code is ErrorCode.PROVIDER_UNAVAILABLE and "the model crashed" in info.value.message


@OPENAI_WIRE
async def test_a_completion_without_choices_is_a_reply_not_understood(
    name: str, make: Make, emulator: Emulator
) -> None:
    emulator.queue(name, ScriptedResponse(200, {"Content-Type": "application/json"}, {"choices": []}))
    with pytest.raises(LLMProviderError) as info:
        await make(name).chat(MESSAGES)
    assert info.value.code is ErrorCode.INVALID_RESPONSE

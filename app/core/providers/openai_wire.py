"""OpenAI's Chat Completions replies, read as plain JSON: Groq's and every OpenAI-compatible server's.

Read here rather than through an SDK's models: the groq SDK builds a pydantic model for every streamed chunk,
~0.2 ms each on the event loop (which is also the window's thread), nearly all of the CPU time a streamed
reply costs in-process. A frame of another shape fails with a KeyError, TypeError, AttributeError or
IndexError, which the adapters report as a reply they could not understand.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx

from app.core.providers.base import ProviderChunk, StreamErrorFrame
from app.core.ratelimit.wire import kept_headers
from app.core.types import TokenUsage

ChunkReader = Callable[[dict[str, Any]], "ProviderChunk | str"]


async def read_stream(
    opening: AbstractAsyncContextManager[httpx.Response],
    read_chunk: ChunkReader,
    ended_early: Callable[[str], Exception],
) -> AsyncIterator[ProviderChunk | str]:
    """A streamed reply: its headers first, then each frame through `read_chunk`, up to `data: [DONE]`.

    `opening` sends the request and closes the response when left, so a cancelled or abandoned read stops the
    provider generating. An error frame raises StreamErrorFrame; a reply that ends before a chunk gave its
    finish reason raises `ended_early(detail)`, since a reply without its end is a cut connection. The
    server-sent events are parsed here rather than by `sse_events`: once per token, each generator in the
    chain costs as much as the frame's parsing.
    """
    finished = done = False
    async with opening as response:
        yield ProviderChunk(headers=kept_headers(response.headers))
        data: str | None = None  # the frame being read: its `data:` lines
        async for line in response.aiter_lines():
            if line:
                if line.startswith("data:"):
                    text = line[5:].removeprefix(" ")
                    data = text if data is None else f"{data}\n{text}"
                continue  # other fields (event:, id:) and comments say nothing here
            if data is None or done:  # a keep-alive; or past [DONE], read to the end so that httpx's
                continue  # generators finish here rather than when collected
            item, data = _frame(data, read_chunk), None
            if item is None:
                done = True
                continue
            if not finished and not isinstance(item, str) and item.finish_reason is not None:
                finished = True
            yield item
        last = _frame(data, read_chunk) if data is not None and not done else None  # no blank line after it
        if last is not None:
            finished = finished or (not isinstance(last, str) and last.finish_reason is not None)
            yield last
    if not finished:
        raise ended_early("the stream ended without a finish_reason")


def _frame(data: str, read_chunk: ChunkReader) -> ProviderChunk | str | None:
    """One frame's chunk; None for `[DONE]`."""
    if data.startswith("[DONE]"):
        return None
    chunk = json.loads(data)
    if type(chunk) is not dict:
        raise TypeError(f"a stream frame that is not an object: {data[:300]}")
    if "error" in chunk:
        raise StreamErrorFrame(chunk)
    return read_chunk(chunk)


def read_choice(chunk: dict[str, Any], usage: object) -> ProviderChunk | str:
    """A streamed chunk's text (a plain str, for the chunks that carry nothing else), or the chunk with its
    usage and finish reason. Runs once per token: plain dict reads."""
    choices = chunk.get("choices")
    if not choices:
        return ProviderChunk(usage=read_usage(usage))
    choice = choices[0]
    delta = choice.get("delta")
    text = (delta.get("content") if delta else None) or ""
    if type(text) is not str:
        raise TypeError(f"a delta whose content is a {type(text).__name__}")
    finish_reason = choice.get("finish_reason")
    if usage is None and not finish_reason:
        return text
    return ProviderChunk(text, read_usage(usage), finish_reason or None)


def read_completion(completion: object, headers: Mapping[str, str]) -> ProviderChunk:
    """A non-streamed reply as one chunk."""
    choices = completion.get("choices") if isinstance(completion, dict) else None
    if not isinstance(completion, dict) or not isinstance(choices, list) or not choices:
        raise TypeError(f"a completion without choices: {str(completion)[:300]}")
    message = choices[0].get("message") or {}
    model = completion.get("model")
    return ProviderChunk(
        text=str(message.get("content") or ""),
        usage=read_usage(completion.get("usage")),
        finish_reason=choices[0].get("finish_reason") or None,
        headers=headers,
        model=model if isinstance(model, str) else None,
    )


def read_usage(usage: object) -> TokenUsage | None:
    if not isinstance(usage, Mapping):
        return None
    prompt = read_int(usage.get("prompt_tokens")) or 0
    completion = read_int(usage.get("completion_tokens")) or 0
    total = read_int(usage.get("total_tokens")) or prompt + completion
    return TokenUsage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=total)


def read_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None

"""The emulator notices a client hanging up mid-stream within 100 ms (a project acceptance criterion)."""

from __future__ import annotations

import asyncio
import contextlib
import time

import groq
import httpx
import ollama
import pytest
from google import genai
from google.genai import types

from tests.emulator import Emulator

MODEL = "llama-3.3-70b-versatile"
MESSAGES = [{"role": "user", "content": "A video about limits"}]
SEEN_WITHIN = 0.1


@pytest.fixture
def client(emulator: Emulator) -> groq.AsyncGroq:
    return groq.AsyncGroq(api_key=emulator.groq_key, base_url=emulator.url, max_retries=0)


def assert_seen_promptly(emu: Emulator, provider: str, before: float, after: float) -> None:
    seen = emu.wait_for_disconnect(1.0)
    assert seen is not None, "the emulator never saw the client go away"
    assert before <= seen <= after + SEEN_WITHIN
    assert emu.disconnects == [(provider, seen)]


async def test_closing_a_slow_groq_stream(emulator: Emulator, client: groq.AsyncGroq) -> None:
    emulator.token_rate = 20
    stream = await client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    tokens = 0
    async for chunk in stream:
        tokens += bool(chunk.choices[0].delta.content)
        if tokens == 2:
            break
    before = time.monotonic()
    await stream.close()
    after = time.monotonic()

    assert_seen_promptly(emulator, "groq", before, after)
    sent = emulator.usage_totals("groq")["completion_tokens"]  # what reached the socket before the close
    assert 2 <= sent < len(emulator.reply_text.split())  # generation stopped early


async def test_cancelling_the_consuming_task(emulator: Emulator, client: groq.AsyncGroq) -> None:
    emulator.token_rate = 20
    two_tokens = asyncio.Event()

    async def consume() -> None:
        tokens = 0
        async for chunk in await client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True):
            tokens += bool(chunk.choices[0].delta.content)
            if tokens == 2:
                two_tokens.set()

    task = asyncio.create_task(consume())
    await two_tokens.wait()
    before = time.monotonic()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    after = time.monotonic()

    assert_seen_promptly(emulator, "groq", before, after)


async def test_closing_during_a_slow_first_token(emulator: Emulator, client: groq.AsyncGroq) -> None:
    emulator.first_token_delay = 5.0
    stream = await client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    before = time.monotonic()
    await stream.close()
    after = time.monotonic()

    assert_seen_promptly(emulator, "groq", before, after)


async def test_cancelling_a_gemini_stream(emulator: Emulator) -> None:
    """Cancel the task: google-genai's `aclose()` on the chunk iterator leaves the connection open."""
    emulator.token_rate = 20
    options = types.HttpOptions(base_url=emulator.url, timeout=5000, httpx_async_client=httpx.AsyncClient())
    client = genai.Client(api_key=emulator.gemini_key, http_options=options)
    first_chunk = asyncio.Event()

    async def consume() -> None:
        async for _ in await client.aio.models.generate_content_stream(
            model="gemini-2.5-flash", contents="Hi"
        ):
            first_chunk.set()

    task = asyncio.create_task(consume())
    await first_chunk.wait()
    before = time.monotonic()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task

    assert_seen_promptly(emulator, "gemini", before, time.monotonic())


async def test_closing_an_ollama_stream(emulator: Emulator) -> None:
    emulator.token_rate = 20
    parts = await ollama.AsyncClient(host=emulator.url).chat(model="llama3.2", messages=MESSAGES, stream=True)
    await anext(parts)
    before = time.monotonic()
    await parts.aclose()

    assert_seen_promptly(emulator, "ollama", before, time.monotonic())


async def test_pacing_never_runs_faster_than_configured(emulator: Emulator, client: groq.AsyncGroq) -> None:
    """Lower bounds only, so a slow machine cannot make this fail."""
    emulator.reply_text = "one two three"
    emulator.first_token_delay = 0.2
    emulator.token_rate = 50
    started = time.monotonic()
    stream = await client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    async with stream:
        stamps = [time.monotonic() - started async for c in stream if c.choices[0].delta.content]
    assert stamps[0] >= 0.2
    assert stamps[2] >= 0.2 + 2 / 50  # measured from the start: client-side gaps can bunch up


def test_wait_for_disconnect_times_out(emulator: Emulator) -> None:
    assert emulator.wait_for_disconnect(0.05) is None

"""The Ollama side of the emulator, driven through the unmodified `ollama` SDK over real HTTP."""

from __future__ import annotations

import json

import httpx
import ollama
import pytest

from tests.emulator import Emulator, Fault, closed_port

MESSAGES = [{"role": "system", "content": "You write scripts."}, {"role": "user", "content": "Limits video"}]
PROMPT_TOKENS = 5


@pytest.fixture
def client(emulator: Emulator) -> ollama.AsyncClient:
    return ollama.AsyncClient(host=emulator.url)


def words(emu: Emulator) -> list[str]:
    return [w + " " for w in emu.reply_text.split()]


async def test_chat_non_stream(emulator: Emulator, client: ollama.AsyncClient) -> None:
    response = await client.chat(model="llama3.2", messages=MESSAGES)

    assert response.message.content == "".join(words(emulator))
    assert response.done and response.done_reason == "stop"
    assert (response.prompt_eval_count, response.eval_count) == (PROMPT_TOKENS, len(words(emulator)))
    assert response.eval_duration > 0 and response.total_duration > response.eval_duration
    assert response.model == "llama3.2"
    assert emulator.usage_totals("ollama") == {"requests": 1, "prompt_tokens": 5, "completion_tokens": 55}


async def test_chat_stream(emulator: Emulator, client: ollama.AsyncClient) -> None:
    parts = [p async for p in await client.chat(model="llama3.2:latest", messages=MESSAGES, stream=True)]

    assert [p.message.content for p in parts[:-1]] == words(emulator)
    assert not any(p.done for p in parts[:-1])
    final = parts[-1]
    assert final.done and final.done_reason == "stop" and final.message.content == ""
    assert final.eval_count == len(words(emulator))


async def test_stream_is_the_default_and_ndjson_has_no_blank_lines(emulator: Emulator) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{emulator.url}/api/chat", json={"model": "llama3.2", "messages": MESSAGES}
        )
    assert response.headers["content-type"] == "application/x-ndjson"
    lines = response.text.split("\n")
    assert lines[-1] == ""  # every line, the last too, ends in \n
    assert all(lines[:-1]) and len(lines) - 1 == len(words(emulator)) + 1
    assert json.loads(lines[-2])["done"] is True


async def test_generate_and_num_predict_and_format(emulator: Emulator, client: ollama.AsyncClient) -> None:
    response = await client.generate(model="llama3.2", prompt="Write", options={"num_predict": 3})
    assert response.response == "".join(words(emulator)[:3])
    assert response.done_reason == "length"

    parts = [
        p async for p in await client.generate(model="llama3.2", prompt="Write", stream=True, format="json")
    ]
    assert json.loads("".join(p.response for p in parts)) == emulator.json_reply


async def test_catalogue_endpoints(emulator: Emulator, client: ollama.AsyncClient) -> None:
    assert [m.model for m in (await client.list()).models] == emulator.ollama_models
    shown = await client.show("llama3.2")
    assert "completion" in shown.capabilities
    assert shown.modelinfo["llama.context_length"] == 131072
    assert (await client.ps()).models == []
    await client.chat(model="llama3.2", messages=MESSAGES)
    assert [m.model for m in (await client.ps()).models] == ["llama3.2:latest"]

    async with httpx.AsyncClient() as http:
        root = await http.get(emulator.url)
        head = await http.head(emulator.url)
        version = await http.get(f"{emulator.url}/api/version")
        unknown = await http.get(f"{emulator.url}/api/nope")
    assert (root.status_code, root.text) == (200, "Ollama is running")
    assert head.status_code == 200 and head.content == b""
    assert version.json() == {"version": emulator.ollama_version}
    assert (unknown.status_code, unknown.text) == (404, "404 page not found")


async def test_missing_model_uses_the_configured_text(emulator: Emulator, client: ollama.AsyncClient) -> None:
    with pytest.raises(ollama.ResponseError) as info:
        await client.chat(model="nope", messages=MESSAGES)
    assert (info.value.status_code, info.value.error) == (404, "model 'nope' not found")

    emulator.ollama_missing_model_text = 'model "{model}" not found, try pulling it first'
    with pytest.raises(ollama.ResponseError) as info:
        async for _ in await client.chat(model="nope", messages=MESSAGES, stream=True):
            pass
    assert (info.value.status_code, info.value.error) == (404, 'model "nope" not found, try pulling it first')


async def test_bad_bodies_are_400(emulator: Emulator) -> None:
    async with httpx.AsyncClient() as http:
        missing = await http.post(f"{emulator.url}/api/chat")
        no_model = await http.post(f"{emulator.url}/api/chat", json={"model": "", "messages": MESSAGES})
    assert (missing.status_code, missing.json()) == (400, {"error": "missing request body"})
    assert (no_model.status_code, no_model.json()) == (400, {"error": "model is required"})


async def test_empty_chat_loads_the_model(client: ollama.AsyncClient) -> None:
    response = await client.chat(model="llama3.2", messages=[])
    assert (response.done, response.done_reason) == (True, "load")


async def test_error_line_mid_stream_has_status_minus_one(
    emulator: Emulator, client: ollama.AsyncClient
) -> None:
    emulator.queue("ollama", Fault.error_in_stream(after_tokens=2))
    received = []
    with pytest.raises(ollama.ResponseError) as info:
        async for part in await client.chat(model="llama3.2", messages=MESSAGES, stream=True):
            received.append(part.message.content)
    assert info.value.status_code == -1
    assert info.value.error == "an error was encountered while running the model"
    assert received == words(emulator)[:2]


async def test_overloaded_is_503_server_busy(emulator: Emulator, client: ollama.AsyncClient) -> None:
    emulator.queue("ollama", Fault.overloaded())
    with pytest.raises(ollama.ResponseError) as info:
        await client.chat(model="llama3.2", messages=MESSAGES)
    assert info.value.status_code == 503
    assert info.value.error == "server busy, please try again.  maximum pending requests exceeded"


async def test_not_running_is_connection_refused() -> None:
    client = ollama.AsyncClient(host=f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(ConnectionError):
        await client.chat(model="llama3.2", messages=MESSAGES)
    stream = await client.chat(model="llama3.2", messages=MESSAGES, stream=True)  # nothing sent yet
    with pytest.raises(httpx.ConnectError):
        async for _ in stream:
            pass

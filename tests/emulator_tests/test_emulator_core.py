"""The emulator's own machinery: durations, buckets, scripting rules, lifecycle and raw HTTP framing."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from datetime import datetime

import httpx
import pytest

from tests.emulator import Emulator, Fault, ScriptedResponse, closed_port
from tests.emulator.buckets import PACIFIC, PacificDayBucket, RefillBucket
from tests.emulator.durations import go_duration, parse_go_duration


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (578.016, "9m38.016s"),
        (397 * 60 / 12000, "1.985s"),
        (86.4, "1m26.4s"),
        (179.56, "2m59.56s"),
        (360, "6m0s"),
        (3723, "1h2m3s"),
        (0.25, "250ms"),
        (0.0015, "1.5ms"),
        (0, "0s"),
    ],
)
def test_go_duration_round_trips(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text
    assert parse_go_duration(text) == pytest.approx(seconds)


def test_parse_go_duration_reads_a_bare_number_as_seconds() -> None:
    assert parse_go_duration("2") == 2.0


def test_refill_bucket_reproduces_groqs_published_numbers() -> None:
    tpd = RefillBucket(100000, 86400)
    tpd.add(97050, now=0)
    assert go_duration(tpd.wait_for(3619, now=0)) == "9m38.016s"

    rpd = RefillBucket(1000, 86400)
    rpd.add(1000, now=0)
    assert go_duration(rpd.wait_for(1, now=0)) == "1m26.4s"

    docs_example = RefillBucket(14400, 86400)  # 30 requests used -> "2m59.56s" after a short while
    docs_example.add(30, now=0)
    assert docs_example.reset_in(now=0.44) == pytest.approx(179.56)
    assert docs_example.remaining(now=0.44) == 14370


def test_pacific_day_bucket_resets_at_midnight_los_angeles() -> None:
    late = datetime(2026, 11, 21, 23, 59, 0, tzinfo=PACIFIC).timestamp()
    bucket = PacificDayBucket(1)
    bucket.add(1, late)
    assert bucket.wait_for(1, late) == pytest.approx(60)
    assert bucket.wait_for(1, late + 61) == 0


def test_faults_are_validated() -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault("meltdown")
    emu = Emulator()
    with pytest.raises(ValueError, match="no faithful"):
        emu.queue("groq", Fault.blocked_prompt())
    with pytest.raises(ValueError, match="unknown provider"):
        emu.queue("mistral", Fault.server_error())


def test_lifecycle_restart_and_closed_port() -> None:
    emu = Emulator()
    with pytest.raises(RuntimeError):
        _ = emu.url
    with httpx.Client() as http:
        with emu:
            url = emu.url
            assert http.get(url).text == "Ollama is running"  # leaves a kept-alive connection
        with pytest.raises(httpx.TransportError):  # stop() severed it: Ollama "went away"
            http.get(url)
        with emu:  # and comes back on the same port
            assert http.get(emu.url).text == "Ollama is running"
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", closed_port())):
        pass


async def test_reset_restores_defaults_and_cuts_old_streams(emulator: Emulator) -> None:
    emulator.reply_text = "one two three four"
    emulator.token_rate = 5
    emulator.queue("groq", Fault.server_error())
    body = {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}]}
    async with (
        httpx.AsyncClient() as http,
        http.stream("POST", f"{emulator.url}/api/chat", json=body) as response,
    ):
        lines = response.aiter_lines()
        await anext(lines)
        emulator.reset()
        with pytest.raises(httpx.RemoteProtocolError):  # the old stream is cut, not left running
            async for _ in lines:
                pass

    assert emulator.reply_text != "one two three four" and emulator.token_rate is None
    assert emulator.next_scripted("groq") is None
    assert emulator.requests == [] and emulator.disconnects == []
    assert emulator.usage_totals("ollama") == {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0}


async def test_chunked_request_bodies_are_read(emulator: Emulator) -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b'{"model": "llama3.2", "stream": false, '
        yield b'"messages": [{"role": "user", "content": "hi"}]}'

    async with httpx.AsyncClient() as http:
        response = await http.post(f"{emulator.url}/api/chat", content=body())
    assert emulator.requests[0].headers["transfer-encoding"] == "chunked"
    assert response.json()["prompt_eval_count"] == 1


async def test_recording_and_scripted_html(emulator: Emulator) -> None:
    emulator.queue("gemini", ScriptedResponse(status=502, body="<html>Bad Gateway</html>"))
    url = f"{emulator.url}/v1/models/gemini-2.5-flash:generateContent"
    async with httpx.AsyncClient() as http:
        response = await http.post(
            url, params={"key": emulator.gemini_key}, json={"contents": [{"parts": [{"text": "x"}]}]}
        )
        await http.get(f"{emulator.url}/api/tags")
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    (recorded,) = emulator.requests_for("gemini", ":generateContent")
    assert recorded.method == "POST"
    assert recorded.query == {"key": emulator.gemini_key}
    assert recorded.body == {"contents": [{"parts": [{"text": "x"}]}]}
    assert [r.provider for r in emulator.requests] == ["gemini", "ollama"]


GROQ_AUTH = {"Authorization": "Bearer test-groq-key"}
GEMINI_AUTH = {"x-goog-api-key": "test-gemini-key"}
CHAT = {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status", "expected"),
    [
        ("POST", "/openai/v1/chat/completions", GROQ_AUTH, b"{not json", 400, "could not parse"),
        ("POST", "/openai/v1/chat/completions", GROQ_AUTH, {"messages": []}, 400, "'model'"),
        ("GET", "/openai/v1/models", {}, None, 401, "invalid_api_key"),
        ("GET", "/v1/files", GEMINI_AUTH, None, 404, "NOT_FOUND"),
        ("GET", "/v1/models/gemini-nope", GEMINI_AUTH, None, 404, "models/gemini-nope is not found"),
        ("GET", "/v1/models?pageToken=%21%21", GEMINI_AUTH, None, 400, "Invalid page token"),
        ("POST", "/v1/models/gemini-2.5-flash:generateContent", GEMINI_AUTH, b"{", 400, "Invalid JSON"),
        (
            "POST",
            "/v1/models/gemini-2.5-flash:generateContent",
            GEMINI_AUTH,
            {},
            400,
            "contents is not specified",
        ),
        ("POST", "/api/chat", {}, b"{", 400, "invalid character"),
        ("POST", "/api/show", {}, {"model": "nope"}, 404, "model 'nope' not found"),
        (
            "POST",
            "/api/generate",
            {},
            {"model": "llama3.2", "prompt": "hi", "stream": False},
            200,
            '"response":',
        ),
        ("POST", "/api/generate", {}, {"model": "llama3.2", "keep_alive": 0}, 200, '"done_reason":"unload"'),
    ],
)
async def test_edge_cases_over_raw_http(
    emulator: Emulator, method: str, path: str, headers: dict, body: object, status: int, expected: str
) -> None:
    content = body if isinstance(body, bytes) else None
    payload = None if isinstance(body, bytes) else body
    async with httpx.AsyncClient(base_url=emulator.url) as http:
        response = await http.request(method, path, headers=headers, content=content, json=payload)
    assert response.status_code == status
    assert expected in response.text


@pytest.mark.parametrize("provider", ["gemini", "ollama"])
@pytest.mark.parametrize("fault", [Fault.error_in_stream(), Fault.drop_connection()])
async def test_stream_faults_on_non_stream_requests(emulator: Emulator, provider: str, fault: Fault) -> None:
    """Non-streaming requests get the error as an HTTP status, or no response at all."""
    emulator.queue(provider, fault)
    if provider == "gemini":
        path, headers = "/v1/models/gemini-2.5-flash:generateContent", GEMINI_AUTH
        body: dict = {"contents": [{"parts": [{"text": "hi"}]}]}
    else:
        path, headers, body = "/api/chat", {}, {**CHAT, "stream": False}
    async with httpx.AsyncClient(base_url=emulator.url) as http:
        if fault.kind == "drop_connection":
            with pytest.raises(httpx.RemoteProtocolError):
                await http.post(path, headers=headers, json=body)
        else:
            response = await http.post(path, headers=headers, json=body)
            assert response.status_code == (503 if provider == "gemini" else 500)

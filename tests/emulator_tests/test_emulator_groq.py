"""The Groq side of the emulator, driven through the unmodified `groq` SDK over real HTTP."""

from __future__ import annotations

import json
import re

import groq
import httpx
import pytest

from tests.emulator import Emulator, Fault, ScriptedResponse

MODEL = "llama-3.3-70b-versatile"
MESSAGES = [
    {"role": "system", "content": "You write scripts."},
    {"role": "user", "content": "A video about limits"},
]
PROMPT_TOKENS = 7  # whitespace-split words of the two messages
GO_DURATION = re.compile(r"^(\d+h)?(\d+m)?\d+(\.\d+)?(ms|s)$")
RATE_HEADERS = (
    "x-ratelimit-limit-requests",
    "x-ratelimit-limit-tokens",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-remaining-tokens",
    "x-ratelimit-reset-requests",
    "x-ratelimit-reset-tokens",
)


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def client(emulator: Emulator) -> groq.AsyncGroq:
    return groq.AsyncGroq(api_key=emulator.groq_key, base_url=emulator.url, max_retries=0)


def words(emu: Emulator) -> list[str]:
    return [w + " " for w in emu.reply_text.split()]


async def test_non_stream_completion_has_groq_body(emulator: Emulator, client: groq.AsyncGroq) -> None:
    result = await client.chat.completions.create(model=MODEL, messages=MESSAGES)

    assert result.choices[0].message.content == "".join(words(emulator))
    assert result.choices[0].finish_reason == "stop"
    assert result.usage.prompt_tokens == PROMPT_TOKENS
    assert result.usage.completion_tokens == len(words(emulator))
    assert result.usage.total_tokens == PROMPT_TOKENS + len(words(emulator))
    for name in ("queue_time", "prompt_time", "completion_time", "total_time"):
        assert isinstance(getattr(result.usage, name), float)
    assert result.x_groq.id.startswith("req_")
    assert result.system_fingerprint.startswith("fp_")
    assert result.service_tier == "on_demand"
    assert emulator.usage_totals("groq") == {
        "requests": 1,
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": len(words(emulator)),
    }


async def test_raw_response_carries_the_six_ratelimit_headers(
    emulator: Emulator, client: groq.AsyncGroq
) -> None:
    raw = await client.chat.completions.with_raw_response.create(model=MODEL, messages=MESSAGES)
    completion = await raw.parse()

    headers = raw.headers
    assert all(name in headers for name in RATE_HEADERS)
    assert "retry-after" not in headers
    assert headers["x-request-id"] == completion.x_groq.id
    assert headers["x-ratelimit-limit-requests"] == "1000"  # RPD of llama-3.3-70b-versatile
    assert headers["x-ratelimit-remaining-requests"] == "999"
    assert headers["x-ratelimit-limit-tokens"] == "12000"  # TPM
    assert GO_DURATION.match(headers["x-ratelimit-reset-requests"])
    assert GO_DURATION.match(headers["x-ratelimit-reset-tokens"])


async def test_stream_frames_usage_and_headers(emulator: Emulator, client: groq.AsyncGroq) -> None:
    stream = await client.chat.completions.create(
        model=MODEL, messages=MESSAGES, stream=True, extra_body={"stream_options": {"include_usage": True}}
    )
    assert all(name in stream.response.headers for name in RATE_HEADERS)
    assert stream.response.headers["content-type"].startswith("text/event-stream")
    chunks = [chunk async for chunk in stream]

    first, *middle, last = chunks
    assert first.choices[0].delta.role == "assistant"
    assert first.x_groq.id == stream.response.headers["x-request-id"]
    assert [c.choices[0].delta.content for c in middle] == words(emulator)
    assert all(c.x_groq is None for c in middle)
    assert last.choices[0].finish_reason == "stop"
    assert last.x_groq.usage.completion_tokens == len(words(emulator))
    assert last.usage == last.x_groq.usage
    assert emulator.requests_for("groq")[0].body["stream_options"] == {"include_usage": True}


async def test_raw_sse_framing_ends_with_done(emulator: Emulator) -> None:
    body = {"model": MODEL, "messages": MESSAGES, "stream": True, "max_completion_tokens": 2}
    headers = {"Authorization": f"Bearer {emulator.groq_key}"}
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{emulator.url}/openai/v1/chat/completions", json=body, headers=headers)
    frames = response.text.split("\n\n")
    assert frames[-2:] == ["data: [DONE]", ""]
    assert all(frame.startswith("data: {") for frame in frames[:-2])
    assert json.loads(frames[-3][6:])["choices"][0]["finish_reason"] == "length"


@pytest.mark.parametrize("stream", [False, True])
async def test_max_completion_tokens_finishes_by_length(
    emulator: Emulator, client: groq.AsyncGroq, stream: bool
) -> None:
    if stream:
        chunks = [
            c
            async for c in await client.chat.completions.create(
                model=MODEL, messages=MESSAGES, max_completion_tokens=4, stream=True
            )
        ]
        text = "".join(c.choices[0].delta.content or "" for c in chunks)
        finish = chunks[-1].choices[0].finish_reason
    else:
        result = await client.chat.completions.create(model=MODEL, messages=MESSAGES, max_completion_tokens=4)
        text, finish = result.choices[0].message.content, result.choices[0].finish_reason
    assert text == "".join(words(emulator)[:4])
    assert finish == "length"


async def test_json_mode_replies_with_the_json_document(emulator: Emulator, client: groq.AsyncGroq) -> None:
    emulator.json_reply = {"title": "Limits", "scenes": ["one", "two"]}
    result = await client.chat.completions.create(
        model=MODEL, messages=MESSAGES, response_format={"type": "json_object"}
    )
    assert json.loads(result.choices[0].message.content) == {"title": "Limits", "scenes": ["one", "two"]}


async def test_bad_key_is_401_invalid_api_key(emulator: Emulator) -> None:
    client = groq.AsyncGroq(api_key="test-wrong-key", base_url=emulator.url, max_retries=0)
    with pytest.raises(groq.AuthenticationError) as info:
        await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert info.value.status_code == 401
    assert info.value.body == {
        "error": {"message": "Invalid API Key", "type": "invalid_request_error", "code": "invalid_api_key"}
    }


@pytest.mark.parametrize("stream", [False, True])
async def test_unknown_model_is_404_json_even_when_streaming(client: groq.AsyncGroq, stream: bool) -> None:
    with pytest.raises(groq.NotFoundError) as info:
        await client.chat.completions.create(model="nope", messages=MESSAGES, stream=stream)
    assert info.value.body["error"]["code"] == "model_not_found"
    assert (
        info.value.body["error"]["message"]
        == "The model `nope` does not exist or you do not have access to it."
    )
    assert info.value.response.headers["content-type"] == "application/json"


async def test_bad_requests_are_400(client: groq.AsyncGroq) -> None:
    with pytest.raises(groq.BadRequestError):
        await client.chat.completions.create(model=MODEL, messages=MESSAGES, n=2)
    with pytest.raises(groq.BadRequestError):
        await client.chat.completions.create(model=MODEL, messages=[])


async def test_unknown_path_is_unknown_url(emulator: Emulator) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{emulator.url}/openai/v1", json={})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_url"
    assert response.json()["error"]["message"].startswith("Unknown request URL: POST /openai/v1. ")


async def test_models_list_and_retrieve(emulator: Emulator, client: groq.AsyncGroq) -> None:
    listed = await client.models.list()
    assert [m.id for m in listed.data] == emulator.groq_models
    assert listed.data[0].context_window == 131072  # extra keys stay readable
    assert (await client.models.retrieve("llama-3.1-8b-instant")).id == "llama-3.1-8b-instant"
    with pytest.raises(groq.NotFoundError):
        await client.models.retrieve("nope")


async def test_rpd_bucket_overflow_is_429_with_retry_after(
    emulator: Emulator, client: groq.AsyncGroq
) -> None:
    emulator.clock = FakeClock()
    emulator.set_groq_limits(MODEL, rpd=2)
    for _ in range(2):
        await client.chat.completions.create(model=MODEL, messages=MESSAGES)

    with pytest.raises(groq.RateLimitError) as info:
        await client.chat.completions.create(model=MODEL, messages=MESSAGES)

    headers = info.value.response.headers
    assert headers["retry-after"] == "43200"
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert headers["x-ratelimit-reset-requests"] == "24h0m0s"
    error = info.value.body["error"]
    assert error["type"] == "requests"
    assert error["code"] == "rate_limit_exceeded"
    assert (
        "on requests per day (RPD): Limit 2, Used 2, Requested 1. Please try again in 12h0m0s."
        in error["message"]
    )


async def test_tpm_bucket_counts_prompt_and_completion(emulator: Emulator, client: groq.AsyncGroq) -> None:
    emulator.clock = clock = FakeClock()
    emulator.set_groq_limits(MODEL, tpm=100)
    completion = len(words(emulator))
    await client.chat.completions.create(model=MODEL, messages=MESSAGES)  # uses 7 + 55 = 62

    with pytest.raises(groq.RateLimitError) as info:
        await client.chat.completions.create(model=MODEL, messages=MESSAGES, max_completion_tokens=40)
    used = PROMPT_TOKENS + completion
    assert (
        f"(TPM): Limit 100, Used {used}, Requested 47. Please try again in 5.4s."
        in info.value.body["error"]["message"]
    )
    assert info.value.response.headers["retry-after"] == "6"

    clock.now += 6  # 10 tokens drained: now it fits
    await client.chat.completions.create(model=MODEL, messages=MESSAGES, max_completion_tokens=40)


async def test_tpd_fault_reproduces_the_captured_body(emulator: Emulator, client: groq.AsyncGroq) -> None:
    emulator.queue("groq", Fault.rate_limit(window="tpd", limit=100000, used=97050, requested=3619))
    with pytest.raises(groq.RateLimitError) as info:
        await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    message = info.value.body["error"]["message"]
    assert message.startswith(f"Rate limit reached for model `{MODEL}` in organization `org_")
    assert (
        "on tokens per day (TPD): Limit 100000, Used 97050, Requested 3619. Please try again in 9m38.016s."
        in message
    )
    assert info.value.body["error"]["type"] == "tokens"
    assert info.value.response.headers["retry-after"] == "579"
    assert all(name in info.value.response.headers for name in RATE_HEADERS)


async def test_request_above_tpm_is_plain_413(emulator: Emulator, client: groq.AsyncGroq) -> None:
    emulator.set_groq_limits(MODEL, tpm=5)
    with pytest.raises(groq.APIStatusError) as info:
        await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert type(info.value) is groq.APIStatusError
    assert info.value.status_code == 413
    assert info.value.body["error"]["code"] == "rate_limit_exceeded"
    assert "Limit 5, Requested 7, please reduce your message size" in info.value.body["error"]["message"]


async def test_error_frame_in_stream_raises_bare_api_error(
    emulator: Emulator, client: groq.AsyncGroq
) -> None:
    emulator.queue("groq", Fault.error_in_stream(after_tokens=3, message="boom"))
    stream = await client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    received = []
    with pytest.raises(groq.APIError) as info:
        async for chunk in stream:
            received.append(chunk.choices[0].delta.content)
    assert not isinstance(info.value, groq.APIStatusError)
    assert info.value.body == {"message": "boom", "type": "internal_server_error"}
    assert received == ["", *words(emulator)[:3]]


@pytest.mark.parametrize(
    ("fault", "status", "error_type"),
    [
        (Fault.overloaded(), 503, groq.InternalServerError),
        (Fault.server_error(), 500, groq.InternalServerError),
        (Fault.bad_gateway(), 502, groq.InternalServerError),
        (Fault.gateway_timeout(), 504, groq.InternalServerError),
        (Fault.flex(), 498, groq.APIStatusError),
    ],
)
async def test_server_faults(
    emulator: Emulator, client: groq.AsyncGroq, fault: Fault, status: int, error_type: type
) -> None:
    emulator.queue("groq", fault)
    with pytest.raises(error_type) as info:
        await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert info.value.status_code == status
    if status == 503:
        assert info.value.body["error"]["message"].startswith(f"{MODEL} is currently over capacity.")
    if status == 502:
        assert "<html>" in info.value.body  # an HTML page stays text


async def test_dropped_stream_and_dropped_request(emulator: Emulator, client: groq.AsyncGroq) -> None:
    emulator.queue("groq", Fault.drop_connection(after_tokens=2), Fault.drop_connection())
    stream = await client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    with pytest.raises(httpx.RemoteProtocolError):
        async for _ in stream:
            pass
    with pytest.raises(groq.APIConnectionError):
        await client.chat.completions.create(model=MODEL, messages=MESSAGES)


async def test_slow_fault_times_out_the_client(emulator: Emulator, client: groq.AsyncGroq) -> None:
    emulator.queue("groq", Fault.slow(2.0))
    with pytest.raises(groq.APITimeoutError):
        await client.with_options(timeout=0.2).chat.completions.create(model=MODEL, messages=MESSAGES)
    assert emulator.wait_for_disconnect(1.0) is not None


async def test_scripted_responses_are_fifo_and_retries_are_recorded(emulator: Emulator) -> None:
    busy = ScriptedResponse(
        status=429, headers={"retry-after": "0.01"}, body={"error": {"message": "slow down"}}
    )
    emulator.queue("groq", busy, busy)
    client = groq.AsyncGroq(api_key=emulator.groq_key, base_url=emulator.url, max_retries=2)

    result = await client.chat.completions.create(model=MODEL, messages=MESSAGES)

    assert result.choices[0].finish_reason == "stop"
    retry_counts = [r.headers["x-stainless-retry-count"] for r in emulator.requests_for("groq", "/chat")]
    assert retry_counts == ["0", "1", "2"]
    assert emulator.usage_totals("groq")["requests"] == 1  # scripted answers are not usage

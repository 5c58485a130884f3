"""The Gemini side of the emulator, driven through the unmodified `google-genai` SDK over real HTTP."""

from __future__ import annotations

import json

import httpx
import pytest
from google import genai
from google.genai import errors, types

from tests.emulator import Emulator, Fault

MODEL = "gemini-2.5-flash"


@pytest.fixture
def client(emulator: Emulator) -> genai.Client:
    """A client on the httpx backend, so a fresh httpx.AsyncClient is bound to this test's loop."""
    options = types.HttpOptions(base_url=emulator.url, timeout=5000, httpx_async_client=httpx.AsyncClient())
    return genai.Client(api_key=emulator.gemini_key, http_options=options)


def words(emu: Emulator) -> list[str]:
    return [w + " " for w in emu.reply_text.split()]


def error_detail(error: errors.APIError, type_suffix: str) -> dict:
    return next(d for d in error.details["error"]["details"] if d["@type"].endswith(type_suffix))


async def test_generate_content(emulator: Emulator, client: genai.Client) -> None:
    response = await client.aio.models.generate_content(
        model=MODEL,
        contents="Write about limits",
        config=types.GenerateContentConfig(system_instruction="Be brief"),
    )

    assert response.text == "".join(words(emulator))
    assert response.candidates[0].finish_reason == types.FinishReason.STOP
    usage = response.usage_metadata
    assert (usage.prompt_token_count, usage.candidates_token_count) == (5, len(words(emulator)))
    assert usage.total_token_count == 5 + len(words(emulator))
    assert response.model_version == MODEL
    assert response.response_id
    headers = response.sdk_http_response.headers
    assert headers["content-type"] == "application/json; charset=UTF-8"
    assert not [name for name in headers if "ratelimit" in name or name == "retry-after"]
    recorded = emulator.requests_for("gemini")[0]
    assert recorded.path == f"/v1/models/{MODEL}:generateContent"
    assert recorded.headers["x-goog-api-key"] == emulator.gemini_key
    assert emulator.usage_totals("gemini") == {"requests": 1, "prompt_tokens": 5, "completion_tokens": 55}


async def test_stream_has_cumulative_usage_and_final_finish_reason(
    emulator: Emulator, client: genai.Client
) -> None:
    chunks = [c async for c in await client.aio.models.generate_content_stream(model=MODEL, contents="Hi")]

    assert [c.text for c in chunks] == words(emulator)
    assert [c.usage_metadata.candidates_token_count for c in chunks] == list(range(1, len(chunks) + 1))
    assert [c.candidates[0].finish_reason for c in chunks[:-1]] == [None] * (len(chunks) - 1)
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert emulator.requests_for("gemini")[0].query == {"alt": "sse"}


async def test_max_output_tokens_and_json_mime(emulator: Emulator, client: genai.Client) -> None:
    short = await client.aio.models.generate_content(
        model=MODEL, contents="Hi", config=types.GenerateContentConfig(max_output_tokens=3)
    )
    assert short.text == "".join(words(emulator)[:3])
    assert short.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS

    as_json = await client.aio.models.generate_content(
        model=MODEL, contents="Hi", config=types.GenerateContentConfig(response_mime_type="application/json")
    )
    assert json.loads(as_json.text) == emulator.json_reply


async def test_models_list_pages_and_get(emulator: Emulator, client: genai.Client) -> None:
    names = [m.name async for m in await client.aio.models.list(config={"page_size": 2})]
    assert names == [f"models/{m}" for m in emulator.gemini_models]
    page_tokens = [r.query.get("pageToken") for r in emulator.requests_for("gemini")]
    assert page_tokens[0] is None and page_tokens[1]  # the pager followed nextPageToken

    model = await client.aio.models.get(model="gemini-2.5-pro")
    assert model.name == "models/gemini-2.5-pro"
    assert "generateContent" in model.supported_actions


async def test_count_tokens(client: genai.Client) -> None:
    result = await client.aio.models.count_tokens(model=MODEL, contents="one two three four")
    assert result.total_tokens == 4


async def test_bad_key_is_400_api_key_invalid(emulator: Emulator) -> None:
    options = types.HttpOptions(base_url=emulator.url, timeout=5000, httpx_async_client=httpx.AsyncClient())
    client = genai.Client(api_key="test-wrong-key", http_options=options)
    with pytest.raises(errors.ClientError) as info:
        await client.aio.models.generate_content(model=MODEL, contents="Hi")
    assert (info.value.code, info.value.status) == (400, "INVALID_ARGUMENT")
    assert info.value.message == "API key not valid. Please pass a valid API key."
    assert error_detail(info.value, "ErrorInfo")["reason"] == "API_KEY_INVALID"


async def test_missing_key_is_403_and_query_key_works(emulator: Emulator) -> None:
    url = f"{emulator.url}/v1beta/models/{MODEL}:generateContent"
    body = {"contents": [{"parts": [{"text": "Hi"}]}]}
    async with httpx.AsyncClient() as http:
        missing = await http.post(url, json=body)
        via_query = await http.post(url, json=body, params={"key": emulator.gemini_key})
    assert missing.status_code == 403
    assert missing.json()["error"]["status"] == "PERMISSION_DENIED"
    assert via_query.status_code == 200


async def test_unknown_model_is_404_naming_the_api_version(client: genai.Client) -> None:
    with pytest.raises(errors.ClientError) as info:
        await client.aio.models.generate_content(model="gemini-nope", contents="Hi")
    assert (info.value.code, info.value.status) == (404, "NOT_FOUND")
    assert info.value.message.startswith("models/gemini-nope is not found for API version v1, ")


async def test_rpm_quota_is_429_with_quota_failure_and_retry_info(
    emulator: Emulator, client: genai.Client
) -> None:
    emulator.clock = lambda: 1_800_000_000.0
    emulator.set_gemini_limits(MODEL, rpm=2)
    for _ in range(2):
        await client.aio.models.generate_content(model=MODEL, contents="Hi")

    with pytest.raises(errors.ClientError) as info:
        await client.aio.models.generate_content(model=MODEL, contents="Hi")

    error = info.value
    assert (error.code, error.status) == (429, "RESOURCE_EXHAUSTED")
    metric = "generativelanguage.googleapis.com/generate_content_free_tier_requests"
    bullet = f"* Quota exceeded for metric: {metric}, limit: 2, model: {MODEL}\nPlease retry in 30s."
    assert bullet in error.message
    violation = error_detail(error, "QuotaFailure")["violations"][0]
    assert violation["quotaId"] == "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"
    assert violation["quotaValue"] == "2"
    assert error_detail(error, "RetryInfo")["retryDelay"] == "30s"
    assert "retry-after" not in error.response.headers


async def test_rpd_quota_resets_at_pacific_midnight(emulator: Emulator, client: genai.Client) -> None:
    emulator.clock = lambda: 1_800_000_000.0  # 2027-01-15 00:00 PST: a whole day ahead
    emulator.set_gemini_limits(MODEL, rpd=1)
    await client.aio.models.generate_content(model=MODEL, contents="Hi")
    with pytest.raises(errors.ClientError) as info:
        await client.aio.models.generate_content(model=MODEL, contents="Hi")
    assert error_detail(info.value, "QuotaFailure")["violations"][0]["quotaId"] == (
        "GenerateRequestsPerDayPerProjectPerModel-FreeTier"
    )
    assert error_detail(info.value, "RetryInfo")["retryDelay"] == "86400s"


async def test_limit_zero_fault(emulator: Emulator, client: genai.Client) -> None:
    emulator.queue("gemini", Fault.rate_limit(window="rpd", limit_zero=True, retry_delay="3s"))
    with pytest.raises(errors.ClientError) as info:
        await client.aio.models.generate_content(model=MODEL, contents="Hi")
    assert "limit: 0, model: gemini-2.5-flash\nPlease retry in 3s." in info.value.message
    assert error_detail(info.value, "QuotaFailure")["violations"][0]["quotaValue"] == "0"
    assert error_detail(info.value, "RetryInfo")["retryDelay"] == "3s"


async def test_error_mid_stream_raises_server_error(emulator: Emulator, client: genai.Client) -> None:
    emulator.queue("gemini", Fault.error_in_stream(after_tokens=3))
    received = []
    with pytest.raises(errors.ServerError) as info:
        async for chunk in await client.aio.models.generate_content_stream(model=MODEL, contents="Hi"):
            received.append(chunk.text)
    assert (info.value.code, info.value.status) == (503, "UNAVAILABLE")
    assert received == words(emulator)[:3]


async def test_overloaded_and_blocked_prompt(emulator: Emulator, client: genai.Client) -> None:
    emulator.queue("gemini", Fault.overloaded(), Fault.blocked_prompt("PROHIBITED_CONTENT"))
    with pytest.raises(errors.ServerError) as info:
        await client.aio.models.generate_content(model=MODEL, contents="Hi")
    assert info.value.message == "The model is overloaded. Please try again later."

    blocked = await client.aio.models.generate_content(model=MODEL, contents="Hi")
    assert blocked.text is None
    assert blocked.candidates is None
    assert blocked.prompt_feedback.block_reason == types.BlockedReason.PROHIBITED_CONTENT


async def test_default_httpx2_transport_and_v1beta(emulator: Emulator) -> None:
    options = types.HttpOptions(base_url=emulator.url, timeout=5000, api_version="v1beta")
    client = genai.Client(api_key=emulator.gemini_key, http_options=options)

    response = await client.aio.models.generate_content(model=MODEL, contents="Hi")
    chunks = [c async for c in await client.aio.models.generate_content_stream(model=MODEL, contents="Hi")]

    assert response.text == "".join(c.text for c in chunks)
    assert {r.path.split("/")[1] for r in emulator.requests_for("gemini")} == {"v1beta"}


async def test_snake_case_request_and_json_array_stream(emulator: Emulator) -> None:
    body = {
        "contents": [{"role": "user", "parts": [{"text": "Hi there"}]}],
        "system_instruction": {"parts": [{"text": "Be brief"}]},
        "generation_config": {"max_output_tokens": 2},
    }
    url = f"{emulator.url}/v1beta/models/{MODEL}:streamGenerateContent"
    async with httpx.AsyncClient() as http:
        response = await http.post(url, json=body, headers={"x-goog-api-key": emulator.gemini_key})
    chunks = json.loads(response.text)  # without alt=sse the stream is one JSON array
    assert [c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks] == words(emulator)[:2]
    assert chunks[-1]["candidates"][0]["finishReason"] == "MAX_TOKENS"
    assert chunks[-1]["usageMetadata"]["promptTokenCount"] == 4


async def test_sse_frames_end_in_crlf_without_done(emulator: Emulator) -> None:
    url = f"{emulator.url}/v1/models/{MODEL}:streamGenerateContent?alt=sse"
    body = {"contents": [{"parts": [{"text": "Hi"}]}], "generationConfig": {"maxOutputTokens": 2}}
    async with httpx.AsyncClient() as http:
        response = await http.post(url, json=body, headers={"x-goog-api-key": emulator.gemini_key})
    assert response.text.endswith("\r\n\r\n")
    frames = response.text.split("\r\n\r\n")[:-1]
    assert len(frames) == 2 and all(f.startswith("data: {") for f in frames)
    assert "[DONE]" not in response.text

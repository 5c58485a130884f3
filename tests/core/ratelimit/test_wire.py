"""The wire parsers against every format in reference/provider-wire.md (bodies verbatim from 1.7 and 2.6)."""

# Verbatim wire bodies and test tables are long lines on purpose.
# ruff: noqa: E501

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from app.core.ratelimit import wire
from app.core.ratelimit.snapshot import LimitSource, QuotaViolation, Window
from app.core.ratelimit.wire import (
    kept_headers,
    parse_gemini_error,
    parse_go_duration,
    parse_groq_error,
    parse_groq_headers,
    parse_retry_after,
)

NOW = 1_700_000_000.0


@pytest.fixture(autouse=True)
def _fresh_problem_log() -> Iterator[None]:
    wire.reset_logged_problems()
    yield
    wire.reset_logged_problems()


# --- Go durations (1.6) ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("2m59.56s", 179.56),
        ("7.66s", 7.66),
        ("250ms", 0.25),
        ("1m26.4s", 86.4),
        ("6m0s", 360.0),
        ("2m28.608s", 148.608),
        ("1.984999999s", 1.984999999),
        ("1h2m3s", 3723.0),
        ("9m38.016s", 578.016),
        ("6h12m", 22320.0),
        ("0s", 0.0),
        ("58s", 58.0),
        ("500µs", 0.0005),  # Go's Duration.String() uses µs below a millisecond
        ("2", 2.0),  # a bare number is seconds
        ("2.5", 2.5),
        ("  7.66s ", 7.66),
    ],
)
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text",
    ["", "   ", "soon", "-1s", "-5", "inf", "nan", "Infinity", "1e3", "1,5s", "5x", "s", "m5", "5 s", "٣s",
     "1" * 80 + "s", "99999999h", "1.s", ".5s", None, 5, 2.5, b"5s", ["5s"]],
)  # fmt: skip
def test_go_duration_garbage_is_none(text: Any) -> None:
    assert parse_go_duration(text) is None


# --- retry-after -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "2"}, 2.0),
        ({"Retry-After": "2"}, 2.0),  # case-insensitive
        ({"RETRY-AFTER": "1.5"}, 1.5),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),  # the finer one first, as the SDK does
        ({"retry-after-ms": "junk", "retry-after": "9"}, 9.0),
        ({"retry-after": "Tue, 14 Nov 2023 22:13:27 GMT"}, 7.0),  # an HTTP-date, relative to NOW (22:13:20)
        ({"retry-after": "Tue, 14 Nov 2023 22:00:00 GMT"}, 0.0),  # in the past: no wait
        ({"retry-after": "3600"}, 3600.0),
    ],
)
def test_retry_after(headers: dict[str, str], seconds: float) -> None:
    assert parse_retry_after(headers, NOW) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "headers",
    [{}, {"retry-after": "soon"}, {"retry-after": "-3"}, {"retry-after": "1e999"}, {"x-other": "2"},
     {"retry-after": "Tue, 99 Nov 2023 25:61:00 GMT"}, {"retry-after": "9" * 100}],
)  # fmt: skip
def test_retry_after_garbage_is_none(headers: dict[str, str]) -> None:
    assert parse_retry_after(headers, NOW) is None


def test_retry_after_reads_httpx_headers() -> None:
    import httpx

    assert parse_retry_after(httpx.Headers({"Retry-After": "4"}), NOW) == 4.0


# --- Groq headers (1.6) ------------------------------------------------------------------------------------

DOCS_HEADERS = {
    "retry-after": "2",
    "x-ratelimit-limit-requests": "14400",
    "x-ratelimit-limit-tokens": "18000",
    "x-ratelimit-remaining-requests": "14370",
    "x-ratelimit-remaining-tokens": "17997",
    "x-ratelimit-reset-requests": "2m59.56s",
    "x-ratelimit-reset-tokens": "7.66s",
}


def test_groq_headers_docs_example() -> None:
    headers = {
        **DOCS_HEADERS,
        "x-request-id": "req_01abc",
        "authorization": "Bearer secret-value-never-kept",
        "x-groq-region": "fra",
        "content-type": "application/json",
    }
    snapshot = parse_groq_headers("llama-3.1-8b-instant", headers, NOW)
    assert snapshot is not None
    assert snapshot.provider == "groq"
    assert snapshot.model == "llama-3.1-8b-instant"
    assert snapshot.observed_at == NOW
    assert snapshot.retry_after == 2.0
    rpd = snapshot.get(Window.REQUESTS_PER_DAY)  # `*-requests` always means per day
    tpm = snapshot.get(Window.TOKENS_PER_MINUTE)  # `*-tokens` always means per minute
    assert rpd is not None and tpm is not None
    assert (rpd.limit, rpd.remaining) == (14400, 14370)
    assert rpd.reset_at == pytest.approx(NOW + 179.56)
    assert (tpm.limit, tpm.remaining) == (18000, 17997)
    assert tpm.reset_at == pytest.approx(NOW + 7.66)
    assert rpd.source is LimitSource.PROVIDER and tpm.observed_at == NOW
    assert snapshot.get(Window.REQUESTS_PER_MINUTE) is None  # RPM and TPD have no header
    assert set(snapshot.raw_headers) == {*DOCS_HEADERS, "x-request-id"}
    assert "authorization" not in snapshot.raw_headers


def test_groq_headers_mixed_case_names_and_partial_windows() -> None:
    snapshot = parse_groq_headers(
        "m", {"X-RateLimit-Limit-Tokens": "6000", "X-RateLimit-Remaining-Tokens": "5990"}, NOW
    )
    assert snapshot is not None
    assert snapshot.get(Window.REQUESTS_PER_DAY) is None
    tpm = snapshot.get(Window.TOKENS_PER_MINUTE)
    assert tpm is not None and (tpm.limit, tpm.remaining, tpm.reset_at) == (6000, 5990, None)


def test_groq_headers_absent_is_none() -> None:
    assert parse_groq_headers("m", {"content-type": "application/json"}, NOW) is None
    assert parse_groq_headers("m", {}, NOW) is None


def test_groq_headers_malformed_values_are_ignored() -> None:
    headers = {
        "x-ratelimit-limit-requests": "lots",
        "x-ratelimit-remaining-requests": "-1",
        "x-ratelimit-reset-requests": "whenever",
        "x-ratelimit-limit-tokens": "6000",
        "x-ratelimit-remaining-tokens": "9000",  # more than the limit: not believed
        "x-ratelimit-reset-tokens": "1.5s",
    }
    snapshot = parse_groq_headers("m", headers, NOW)
    assert snapshot is not None
    assert snapshot.get(Window.REQUESTS_PER_DAY) is None
    tpm = snapshot.get(Window.TOKENS_PER_MINUTE)
    assert tpm is not None and (tpm.limit, tpm.remaining) == (6000, None)
    assert tpm.reset_at == pytest.approx(NOW + 1.5)


def test_kept_headers_only_keeps_limits_retry_and_request_id() -> None:
    kept = kept_headers(
        {"Authorization": "Bearer x", "Retry-After-Ms": "5", "X-Request-Id": "r", "Set-Cookie": "c"}
    )
    assert kept == {"retry-after-ms": "5", "x-request-id": "r"}


def test_kept_headers_read_from_httpx_bytes_agree_with_the_mapping_they_came_from() -> None:
    import httpx

    received = httpx.Headers(
        [
            (b"Date", b"Sun, 22 Nov 2026 09:19:47 GMT"),
            (b"X-Request-Id", b"req_01"),
            (b"X-RateLimit-Limit-Requests", b"14400"),
            (b"x-ratelimit-remaining-tokens", b"5830"),
            (b"x-ratelimit-reset-tokens", b"7.66s"),
            (b"Retry-After", b"2"),
            (b"Authorization", b"Bearer secret"),
            (b"x-ratelimit-note", "é".encode("latin-1") * 300),  # not ASCII, longer than what is kept
        ]
    )
    from_bytes = kept_headers(received)  # httpx.Headers: read from `.raw`, decoded only when kept
    assert from_bytes == kept_headers(dict(received.items()))  # what httpx itself decodes
    assert "authorization" not in from_bytes and from_bytes["x-ratelimit-limit-requests"] == "14400"
    assert kept_headers(from_bytes) is from_bytes  # kept once, kept for good
    snapshot = parse_groq_headers("m", from_bytes, NOW)
    assert snapshot is not None and snapshot.raw_headers is from_bytes


class RawJunk:
    """Something with httpx's `raw` attribute, filled with junk (or raising when read)."""

    def __init__(self, raw: object) -> None:
        self._raw = raw

    @property
    def raw(self) -> object:
        if isinstance(self._raw, Exception):
            raise self._raw
        return self._raw

    def items(self) -> list[tuple[str, str]]:
        return [("X-Request-Id", "from-items")]


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ([(b"X-Request-Id", b"r1"), (b"x-ratelimit-limit-tokens",), ("retry-after", b"1"), None, (1, 2)], {"x-request-id": "r1"}),
        ([(b"x-ratelimit-limit-tokens", b"6000")] * 3 + [(b"Retry-After", b"\xff")], {"x-ratelimit-limit-tokens": "6000", "retry-after": "\xff"}),
        ("not a list", {"x-request-id": "from-items"}),
        (RuntimeError("hostile"), {"x-request-id": "from-items"}),
    ],
)  # fmt: skip
def test_kept_headers_survive_junk_raw_headers(raw: object, kept: dict[str, str]) -> None:
    assert kept_headers(RawJunk(raw)) == kept  # type: ignore[arg-type]


# --- Groq error bodies (1.7, verbatim) -----------------------------------------------------------------

GROQ_429_TPM = {"error":{"message":"Rate limit reached for model `llama-3.3-70b-versatile` in organization `org_…` service tier `on_demand` on tokens per minute (TPM): Limit 12000, Used 2542, Requested 9855. Please try again in 1.984999999s. Need more tokens? Upgrade to Dev Tier today at https://console.groq.com/settings/billing","type":"tokens","code":"rate_limit_exceeded"}}  # fmt: skip
GROQ_429_TPD = {"error":{"message":"Rate limit reached for model `llama-3.3-70b-versatile` in organization `org_…` service tier `on_demand` on tokens per day (TPD): Limit 100000, Used 97050, Requested 3619. Please try again in 9m38.016s. Need more tokens? Upgrade to Dev Tier today at https://console.groq.com/settings/billing","type":"tokens","code":"rate_limit_exceeded"}}  # fmt: skip
GROQ_429_RPD = {"error":{"message":"Rate limit reached for model `llama-3.3-70b-versatile` in organization `org_…` service tier `on_demand` on requests per day (RPD): Limit 1000, Used 1000, Requested 1. Please try again in 1m26.4s.","type":"requests","code":"rate_limit_exceeded"}}  # fmt: skip
GROQ_429_RPM = {"error":{"message":"Rate limit reached for model `llama-3.1-8b-instant` in organization `org_…` service tier `on_demand` on requests per minute (RPM): Limit 30, Used 30, Requested 1. Please try again in 2s.","type":"requests","code":"rate_limit_exceeded"}}  # fmt: skip
GROQ_429_OTPM = {"error":{"message":"Rate limit reached for model `openai/gpt-oss-120b` in organization `org_…` service tier `on_demand` on output tokens per minute (OTPM): Limit 1000, Used 657, Requested 600. Please try again in 15.42s.","type":"tokens","code":"rate_limit_exceeded"}}  # fmt: skip
GROQ_429_OTPM_BARE = {"error":{"message":"Rate limit reached: OTPM: Limit 1000, Used 657, Requested 600. Please try again in 250ms.","type":"tokens","code":"rate_limit_exceeded"}}  # fmt: skip
GROQ_413 = {"error":{"message":"Request too large for model `llama-3.1-8b-instant` in organization `org_…` service tier `on_demand` on tokens per minute (TPM): Limit 6000, Requested 12328, please reduce your message size and try again. …","type":"tokens","code":"rate_limit_exceeded"}}  # fmt: skip
GROQ_401 = {"error":{"message":"Invalid API Key","type":"invalid_request_error","code":"invalid_api_key"}}  # fmt: skip
GROQ_404_MODEL = {"error":{"message":"The model `nope` does not exist or you do not have access to it.","type":"invalid_request_error","code":"model_not_found","param":None}}  # fmt: skip
GROQ_404_URL = {"error":{"message":"Unknown request URL: POST /openai/v1. Please check the URL for typos, or see the docs at https://console.groq.com/docs/","type":"invalid_request_error","code":"unknown_url"}}  # fmt: skip
GROQ_400_JSON = {"error":{"message":"Failed to generate JSON. Please adjust your prompt. See 'failed_generation' for more details.","type":"invalid_request_error","code":"json_validate_failed","failed_generation":"…"}}  # fmt: skip
GROQ_503 = {"error":{"message":"qwen/qwen3-32b is currently over capacity. Please try again and back off exponentially. Visit https://groqstatus.com to see if there is an active incident.","type":"internal_server_error"}}  # fmt: skip


@pytest.mark.parametrize(
    ("status", "body", "window", "limit", "used", "requested", "retry_after", "model", "never_fits"),
    [
        (429, GROQ_429_TPM, Window.TOKENS_PER_MINUTE, 12000, 2542, 9855, 1.984999999, "llama-3.3-70b-versatile", False),
        (429, GROQ_429_TPD, Window.TOKENS_PER_DAY, 100000, 97050, 3619, 578.016, "llama-3.3-70b-versatile", False),
        (429, GROQ_429_RPD, Window.REQUESTS_PER_DAY, 1000, 1000, 1, 86.4, "llama-3.3-70b-versatile", False),
        (429, GROQ_429_RPM, Window.REQUESTS_PER_MINUTE, 30, 30, 1, 2.0, "llama-3.1-8b-instant", False),
        (429, GROQ_429_OTPM, Window.TOKENS_PER_MINUTE, 1000, 657, 600, 15.42, "openai/gpt-oss-120b", False),
        (429, GROQ_429_OTPM_BARE, Window.TOKENS_PER_MINUTE, 1000, 657, 600, 0.25, None, False),
        (413, GROQ_413, Window.TOKENS_PER_MINUTE, 6000, None, 12328, None, "llama-3.1-8b-instant", True),
    ],
)  # fmt: skip
def test_groq_error_bodies(
    status: int,
    body: dict[str, Any],
    window: Window,
    limit: int,
    used: int | None,
    requested: int,
    retry_after: float | None,
    model: str | None,
    never_fits: bool,
) -> None:
    # the same facts whether the body is the SDK's parsed dict, the inner dict, JSON text or the SDK's message
    forms = [
        body,
        body["error"],
        json.dumps(body),
        f"Error code: {status} - {body!r}",
        body["error"]["message"],
    ]
    for form in forms:
        violation = parse_groq_error(status, form, {}, NOW)
        assert violation is not None, form
        assert violation.window is window
        assert (violation.limit, violation.used, violation.requested) == (limit, used, requested)
        assert violation.retry_after == pytest.approx(retry_after)
        assert violation.model == model
        assert violation.never_fits is never_fits
        assert violation.message and "Limit" in violation.message


def test_groq_error_wait_is_the_longer_of_header_and_body() -> None:
    violation = parse_groq_error(429, GROQ_429_TPM, {"retry-after": "2"}, NOW)  # body says 1.98 s
    assert violation is not None and violation.retry_after == 2.0
    # one user saw a header far shorter than the body's daily wait: the body wins then
    violation = parse_groq_error(429, GROQ_429_TPD, {"retry-after": "58"}, NOW)
    assert violation is not None and violation.retry_after == pytest.approx(578.016)
    assert violation.is_daily


def test_groq_error_header_alone() -> None:
    violation = parse_groq_error(429, "upstream said no", {"Retry-After": "7"}, NOW)
    assert violation == QuotaViolation(retry_after=7.0, message="upstream said no")


def test_groq_413_without_a_readable_body_still_never_fits() -> None:
    violation = parse_groq_error(413, "<html>413 Request Entity Too Large</html>", {}, NOW)
    assert violation is not None and violation.never_fits and violation.window is None


@pytest.mark.parametrize(
    "body",
    [GROQ_401, GROQ_404_MODEL, GROQ_404_URL, GROQ_400_JSON, GROQ_503, None, "", "Internal Server Error",
     {"error": None}, {"error": "rate limited"}, 42, [1, 2], {"error": {"message": 7}}],
)  # fmt: skip
def test_groq_non_quota_bodies_are_none(body: object) -> None:
    assert parse_groq_error(429 if body is None else 400, body, {}, NOW) is None


# --- Gemini error bodies (2.6, verbatim) -------------------------------------------------------------------

GEMINI_429: dict[str, Any] = {"error":{"code":429,"status":"RESOURCE_EXHAUSTED",
 "message":"You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. To monitor your current usage, head to: https://ai.dev/rate-limit. \n* Quota exceeded for metric: generativelanguage.googleapis.com/generate_content_free_tier_requests, limit: 20, model: gemini-2.5-flash\nPlease retry in 38.863719904s.",
 "details":[
  {"@type":"type.googleapis.com/google.rpc.Help","links":[{"description":"Learn more about Gemini API quotas","url":"https://ai.google.dev/gemini-api/docs/rate-limits"}]},
  {"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaMetric":"generativelanguage.googleapis.com/generate_content_free_tier_requests","quotaId":"GenerateRequestsPerDayPerProjectPerModel-FreeTier","quotaDimensions":{"location":"global","model":"gemini-2.5-flash"},"quotaValue":"20"}]},
  {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"38s"}]}}  # fmt: skip
GEMINI_400_KEY = {"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com","metadata":{"service":"generativelanguage.googleapis.com"}},{"@type":"type.googleapis.com/google.rpc.LocalizedMessage","locale":"en-US","message":"API key not valid. Please pass a valid API key."}]}}  # fmt: skip
GEMINI_403 = {"error":{"code":403,"message":"Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.","status":"PERMISSION_DENIED"}}  # fmt: skip
GEMINI_404 = {"error":{"code":404,"message":"models/nope is not found for API version v1beta, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods.","status":"NOT_FOUND"}}  # fmt: skip
GEMINI_503 = {"error":{"code":503,"message":"The model is overloaded. Please try again later.","status":"UNAVAILABLE"}}  # fmt: skip


def _gemini_429(
    quota_id: str, quota_value: str | None = "20", retry_delay: str | None = "38s", message: str | None = None
) -> dict[str, Any]:
    body = json.loads(json.dumps(GEMINI_429))
    error = body["error"]
    violation = error["details"][1]["violations"][0]
    violation["quotaId"] = quota_id
    if quota_value is None:
        del violation["quotaValue"]
    else:
        violation["quotaValue"] = quota_value
    if retry_delay is None:
        del error["details"][2]
    else:
        error["details"][2]["retryDelay"] = retry_delay
    if message is not None:
        error["message"] = message
    return body


def test_gemini_429_verbatim_per_day() -> None:
    for form in (GEMINI_429, GEMINI_429["error"], json.dumps(GEMINI_429)):
        violation = parse_gemini_error(form, NOW)
        assert violation is not None
        assert violation.window is Window.REQUESTS_PER_DAY and violation.is_daily
        assert violation.limit == 20
        assert violation.model == "gemini-2.5-flash"
        assert violation.retry_after == pytest.approx(
            38.863719904
        )  # the longer of RetryInfo 38s and the prose
        assert not violation.never_fits


@pytest.mark.parametrize(
    ("quota_id", "window"),
    [
        ("GenerateRequestsPerMinutePerProjectPerModel-FreeTier", Window.REQUESTS_PER_MINUTE),
        ("GenerateRequestsPerMinutePerProjectPerModel", Window.REQUESTS_PER_MINUTE),
        ("GenerateRequestsPerDayPerProjectPerModel-FreeTier", Window.REQUESTS_PER_DAY),
        ("GenerateContentInputTokensPerModelPerMinute-FreeTier", Window.TOKENS_PER_MINUTE),
        ("GenerateContentInputTokensPerModelPerDay-FreeTier", Window.TOKENS_PER_DAY),
        ("SomethingNew-FreeTier", None),
    ],
)
def test_gemini_quota_ids(quota_id: str, window: Window | None) -> None:
    violation = parse_gemini_error(_gemini_429(quota_id, retry_delay="17s", message="quota"), NOW)
    assert violation is not None
    assert violation.window is window
    assert violation.retry_after == 17.0
    assert violation.limit == 20


def test_gemini_retry_delay_with_fraction() -> None:
    violation = parse_gemini_error(
        _gemini_429("GenerateRequestsPerMinutePerProjectPerModel", retry_delay="38.5s", message="x"), NOW
    )
    assert violation is not None and violation.retry_after == 38.5


def test_gemini_daily_violation_wins_over_per_minute() -> None:
    body = _gemini_429("GenerateRequestsPerMinutePerProjectPerModel-FreeTier", quota_value="5")
    body["error"]["details"][1]["violations"].append(
        {"quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier", "quotaValue": "20",
         "quotaDimensions": {"model": "gemini-2.5-flash"}}
    )  # fmt: skip
    violation = parse_gemini_error(body, NOW)
    assert violation is not None and violation.window is Window.REQUESTS_PER_DAY and violation.limit == 20


def test_gemini_limit_zero_never_fits() -> None:
    message = (
        "You exceeded your current quota, please check your plan and billing details. \n* Quota exceeded for "
        "metric: generativelanguage.googleapis.com/generate_content_free_tier_requests, limit: 0, model: "
        "gemini-2.5-pro\nPlease retry in 2.5s."
    )
    only_message = {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": message}}
    violation = parse_gemini_error(only_message, NOW)
    assert violation is not None
    assert violation.never_fits and violation.limit == 0 and violation.model == "gemini-2.5-pro"
    assert violation.retry_after == 2.5 and violation.window is None
    with_details = _gemini_429("GenerateRequestsPerDayPerProjectPerModel-FreeTier", quota_value="0")
    violation = parse_gemini_error(with_details, NOW)
    assert violation is not None and violation.never_fits and violation.limit == 0


def test_gemini_help_only_and_no_details() -> None:
    help_only = {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "Quota exceeded.",
                           "details": [GEMINI_429["error"]["details"][0]]}}  # fmt: skip
    assert parse_gemini_error(help_only, NOW) is None
    bare = {"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).",
                      "status": "RESOURCE_EXHAUSTED"}}  # fmt: skip
    assert parse_gemini_error(bare, NOW) is None


def test_gemini_message_only_fallbacks() -> None:
    text = "* Quota exceeded for metric: x, limit: 10, model: gemini-2.5-flash-lite\nPlease retry in 12.25s."
    violation = parse_gemini_error(text, NOW)  # a non-JSON body the SDK kept as text
    assert violation is not None
    assert (violation.limit, violation.model, violation.retry_after) == (10, "gemini-2.5-flash-lite", 12.25)
    assert not violation.never_fits


@pytest.mark.parametrize(
    "body", [GEMINI_400_KEY, GEMINI_403, GEMINI_404, GEMINI_503, None, "", 0, [], {"error": {}}, ["x", "y"]]
)
def test_gemini_non_quota_bodies_are_none(body: object) -> None:
    assert parse_gemini_error(body, NOW) is None


def test_gemini_proto_duration_object_form() -> None:
    body = _gemini_429("GenerateRequestsPerMinutePerProjectPerModel", message="x")
    body["error"]["details"][2]["retryDelay"] = {"seconds": 3, "nanos": 500_000_000}
    violation = parse_gemini_error(body, NOW)
    assert violation is not None and violation.retry_after == 3.5


# --- QuotaViolation -> WindowLimit -------------------------------------------------------------------------


def test_violation_window_limit() -> None:
    violation = QuotaViolation(window=Window.REQUESTS_PER_MINUTE, limit=30, retry_after=2.0)
    limit = violation.window_limit(NOW)
    assert limit is not None
    assert (limit.window, limit.limit, limit.remaining) == (Window.REQUESTS_PER_MINUTE, 30, 0)
    assert limit.reset_at == NOW + 2.0 and limit.source is LimitSource.PROVIDER and limit.observed_at == NOW
    assert violation.window_limit(NOW, reset_at=NOW + 100).reset_at == NOW + 100  # type: ignore[union-attr]
    assert QuotaViolation(retry_after=1.0).window_limit(NOW) is None
    assert QuotaViolation(window=Window.TOKENS_PER_DAY).window_limit(NOW).reset_at is None  # type: ignore[union-attr]


# --- a malformed value is logged once, not twice ---------------------------------------------------------


def test_malformed_value_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=wire.__name__)
    bad = {"x-ratelimit-reset-tokens": "whenever", "x-ratelimit-limit-tokens": "6000"}
    for _ in range(3):
        parse_groq_headers("m", bad, NOW)
    records = [r for r in caplog.records if r.name == wire.__name__]
    assert len(records) == 1
    assert "x-ratelimit-reset-tokens" in records[0].getMessage()
    # a different problem is logged (once) too
    parse_groq_headers("m", {"x-ratelimit-limit-requests": "many"}, NOW)
    parse_groq_headers("m", {"x-ratelimit-limit-requests": "many"}, NOW)
    assert len([r for r in caplog.records if r.name == wire.__name__]) == 2


def test_logged_problems_are_bounded(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=wire.__name__)
    for i in range(1000):
        parse_go_duration("garbage", source=f"field-{i}")
    assert len(wire._logged_problems) <= wire._MAX_LOGGED_PROBLEMS
    assert len(caplog.records) <= wire._MAX_LOGGED_PROBLEMS

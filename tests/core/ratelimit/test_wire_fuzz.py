"""Hostile and malformed input: the wire parsers return a value or None, and never raise."""

# Verbatim wire bodies and test tables are long lines on purpose.
# ruff: noqa: E501

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.ratelimit import wire
from app.core.ratelimit.snapshot import QuotaViolation, RateLimitSnapshot
from app.core.ratelimit.wire import (
    parse_gemini_error,
    parse_go_duration,
    parse_groq_error,
    parse_groq_headers,
    parse_retry_after,
)

NOW = 1_700_000_000.0
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

HEADER_NAMES = [
    "retry-after", "Retry-After", "retry-after-ms", "x-ratelimit-limit-requests", "x-ratelimit-limit-tokens",
    "x-ratelimit-remaining-requests", "X-RateLimit-Remaining-Tokens", "x-ratelimit-reset-requests",
    "x-ratelimit-reset-tokens", "x-request-id", "authorization",
]  # fmt: skip
# Text close to the real formats, so the fuzzing reaches deep into the parsers, not just their first check.
NEAR_VALUES = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="0123456789.hmsµun-+eE ", max_size=30),
    st.from_regex(r"[0-9]{1,20}(\.[0-9]{0,12})?(h|m|s|ms|µs)?([0-9]{1,6}(m|s))?", fullmatch=True),
    st.sampled_from(["inf", "nan", "-1", "1e309", "Tue, 14 Nov 2023 22:13:27 GMT", "Mon, 32 Foo 1 99:99:99",
                     "9" * 400, "", " ", "\x00", "2m59.56s", "7.66s", "250ms"]),
)  # fmt: skip
MESSAGES = st.one_of(
    st.text(max_size=200),
    st.builds(
        lambda unit, period, abbr, nums, wait: (
            f"Rate limit reached for model `m` on {unit} per {period} ({abbr}): Limit {nums[0]}, "
            f"Used {nums[1]}, Requested {nums[2]}. Please try again in {wait}."
        ),
        st.sampled_from(["requests", "tokens", "output tokens", "bogus"]),
        st.sampled_from(["minute", "day", "year"]),
        st.sampled_from(["RPM", "RPD", "TPM", "TPD", "OTPM", "ITPM", "XYZ"]),
        st.tuples(*[st.integers(-(10**20), 10**20)] * 3),
        NEAR_VALUES,
    ),
    st.builds(
        lambda limit, model, wait: (
            f"* Quota exceeded for metric: x, limit: {limit}, model: {model}\nPlease retry in {wait}."
        ),
        st.integers(-5, 10**20),
        st.text(max_size=30),
        NEAR_VALUES,
    ),
)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
    st.binary(max_size=30), MESSAGES, NEAR_VALUES,
)  # fmt: skip
JUNK = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.tuples(children, children),
        st.dictionaries(
            st.one_of(
                st.sampled_from(["error", "message", "details", "@type", "violations", "quotaId", "quotaValue",
                                 "quotaDimensions", "model", "retryDelay", "seconds", "nanos", "code"]),
                st.text(max_size=10),
            ),
            children,
            max_size=6,
        ),
    ),
    max_leaves=30,
)  # fmt: skip
QUOTA_TYPES = st.sampled_from(
    ["type.googleapis.com/google.rpc.QuotaFailure", "type.googleapis.com/google.rpc.RetryInfo",
     "type.googleapis.com/google.rpc.Help", "x"]
)  # fmt: skip
GEMINI_SHAPED = st.builds(
    lambda message, details: {"error": {"code": 429, "message": message, "details": details}},
    st.one_of(MESSAGES, JUNK),
    st.lists(
        st.fixed_dictionaries(
            {"@type": QUOTA_TYPES},
            optional={
                "violations": st.one_of(
                    JUNK,
                    st.lists(
                        st.fixed_dictionaries(
                            {},
                            optional={
                                "quotaId": st.one_of(
                                    JUNK, st.sampled_from(["PerDay", "PerMinuteToken", "x"])
                                ),
                                "quotaValue": st.one_of(JUNK, NEAR_VALUES),
                                "quotaDimensions": JUNK,
                            },
                        ),
                        max_size=3,
                    ),
                ),
                "retryDelay": st.one_of(JUNK, NEAR_VALUES),
            },
        ),
        max_size=4,
    ),
)
HEADERS = st.dictionaries(
    st.one_of(st.sampled_from(HEADER_NAMES), st.text(max_size=20)), NEAR_VALUES, max_size=12
)


@pytest.fixture(autouse=True)
def _fresh_problem_log() -> Iterator[None]:
    wire.reset_logged_problems()
    yield
    wire.reset_logged_problems()


class HostileMapping(Mapping[str, str]):
    """A mapping that raises whichever way it is read."""

    def __getitem__(self, key: str) -> str:
        raise RuntimeError("boom")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("boom")

    def __len__(self) -> int:
        return 1

    def items(self) -> Any:
        raise RuntimeError("boom")


@FUZZ
@given(NEAR_VALUES)
def test_go_duration_never_raises(text: str) -> None:
    value = parse_go_duration(text)
    assert value is None or (0 <= value <= wire.MAX_WAIT_S)


@FUZZ
@given(JUNK)
def test_go_duration_junk_never_raises(value: Any) -> None:
    assert parse_go_duration(value) is None or isinstance(value, str)


@FUZZ
@given(HEADERS)
def test_header_parsers_never_raise(headers: dict[str, str]) -> None:
    retry = parse_retry_after(headers, NOW)
    assert retry is None or 0 <= retry <= wire.MAX_WAIT_S
    snapshot = parse_groq_headers("m", headers, NOW)
    assert snapshot is None or isinstance(snapshot, RateLimitSnapshot)
    if snapshot is not None:
        assert "authorization" not in snapshot.raw_headers
        for window in snapshot.windows:
            assert window.limit is None or window.limit >= 0
            assert window.remaining is None or window.remaining >= 0


@FUZZ
@given(
    st.one_of(
        SCALARS,
        st.dictionaries(
            st.one_of(st.text(max_size=20), st.binary(max_size=10), st.integers()), JUNK, max_size=5
        ),
    )
)
def test_header_parsers_take_junk_mappings(headers: Any) -> None:
    assert parse_retry_after(headers, NOW) is None or isinstance(headers, dict)
    parse_groq_headers("m", headers, NOW)


def test_hostile_mapping() -> None:
    assert parse_retry_after(HostileMapping(), NOW) is None
    assert parse_groq_headers("m", HostileMapping(), NOW) is None
    assert parse_groq_error(429, {"error": {"message": "x"}}, HostileMapping(), NOW) is None


@FUZZ
@given(st.one_of(st.none(), st.integers(0, 600)), JUNK, HEADERS)
def test_groq_error_never_raises(status: int | None, body: Any, headers: dict[str, str]) -> None:
    violation = parse_groq_error(status, body, headers, NOW)
    assert violation is None or isinstance(violation, QuotaViolation)
    for form in (body, json.dumps(body, default=repr)):
        parse_groq_error(
            status, {"error": {"message": form}} if isinstance(form, str) else form, headers, NOW
        )


@FUZZ
@given(st.one_of(JUNK, GEMINI_SHAPED))
def test_gemini_error_never_raises(body: Any) -> None:
    violation = parse_gemini_error(body, NOW)
    assert violation is None or isinstance(violation, QuotaViolation)
    if violation is not None and violation.retry_after is not None:
        assert 0 <= violation.retry_after <= wire.MAX_WAIT_S * 2
    parse_gemini_error(json.dumps(body, default=repr), NOW)


def test_deeply_nested_and_huge_bodies() -> None:
    deep: Any = "x"
    for _ in range(5000):
        deep = {"error": deep}
    assert parse_groq_error(429, deep, {}, NOW) is None
    assert parse_gemini_error(deep, NOW) is None
    nested_text = "[" * 100_000 + "]" * 100_000
    assert parse_gemini_error(nested_text, NOW) is None
    huge = "Limit 5, Used 1, Requested 1. " * 100_000
    assert parse_groq_error(429, huge, {}, NOW) is None
    assert parse_groq_headers("m", {"x-ratelimit-reset-tokens": "1s" * 10_000}, NOW) is None

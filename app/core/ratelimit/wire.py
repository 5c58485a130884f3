"""What providers say about their limits on the wire: Groq's headers and 429/413 bodies, Gemini's 429 bodies.

Every function here reads untrusted input and never raises: a malformed or hostile value is ignored and
logged once per distinct problem (the set of logged problems is bounded). See `reference/provider-wire.md`
sections 1.6, 1.7, 2.6 and 4 for the formats.
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, NamedTuple

from app.core.ratelimit.snapshot import LimitSource, QuotaViolation, RateLimitSnapshot, Window, WindowLimit

logger = logging.getLogger(__name__)

MAX_WAIT_S = 366 * 86_400.0  # a longer "wait" is garbage, not a wait
_MAX_VALUE_CHARS = 64  # longest header value read as a number or a duration
_MAX_BODY_CHARS = 64_000  # longest body text searched
_MAX_COUNT = 10**12  # largest limit / used / requested count believed
_MAX_HEADERS = 1_000  # headers read from one response
_MAX_ITEMS = 50  # `details` / `violations` entries read from one body

# --- logging each distinct problem once ------------------------------------------------------------------

_MAX_LOGGED_PROBLEMS = 256
_logged_problems: set[tuple[str, str]] = set()


def _warn_once(source: str, problem: str, value: object = None) -> None:
    key = (source, problem)
    if key in _logged_problems or len(_logged_problems) >= _MAX_LOGGED_PROBLEMS:
        return
    _logged_problems.add(key)
    logger.warning("Ignoring %s: %s (%s)", source, problem, _preview(value))


def _preview(value: object) -> str:
    if isinstance(value, str | int | float | bytes):
        text = repr(value)
        return text if len(text) <= 80 else text[:79] + "…"
    return f"a {type(value).__name__}"


def reset_logged_problems() -> None:
    """Forget which problems were logged (for tests)."""
    _logged_problems.clear()


# --- small parsers ---------------------------------------------------------------------------------------

_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ns": 1e-9}
_UNITS = "ms|us|µs|μs|ns|h|m|s"  # `ms` (and the other two-letter units) before `m` and `s`
_NUMBER = r"[0-9]+(?:\.[0-9]+)?"  # ASCII digits only: `\d` would also accept other scripts' digits
_DURATION_PART = re.compile(rf"({_NUMBER})({_UNITS})")
_DURATION = re.compile(rf"(?:{_NUMBER}(?:{_UNITS}))+")
_BARE_NUMBER = re.compile(_NUMBER)
_COUNT = re.compile(r"[0-9]{1,13}")


def parse_go_duration(text: object, *, source: str = "duration") -> float | None:
    """Seconds in a Go `time.Duration` string: `2m59.56s`, `7.66s`, `250ms`, `1h2m3s`.

    A bare number is read as seconds. None for anything else: garbage, a negative, inf/nan,
    an absurd length or an absurd total.
    """
    if not isinstance(text, str):
        if text is not None:
            _warn_once(source, "not a string", text)
        return None
    value = text.strip()
    if not value or len(value) > _MAX_VALUE_CHARS:
        _warn_once(source, "empty or too long for a duration", text)
        return None
    if _BARE_NUMBER.fullmatch(value):
        seconds = float(value)
    elif value[-1] == "s" and _BARE_NUMBER.fullmatch(value, 0, len(value) - 1):  # `7.66s`: seconds alone
        seconds = float(value[:-1])
    elif _DURATION.fullmatch(value):
        seconds = sum(float(number) * _UNIT_SECONDS[unit] for number, unit in _DURATION_PART.findall(value))
    else:
        _warn_once(source, "not a duration", text)
        return None
    if not math.isfinite(seconds) or seconds > MAX_WAIT_S:
        _warn_once(source, "duration out of range", text)
        return None
    return seconds


def _parse_count(value: object, source: str) -> int | None:
    if value is None:
        return None
    if type(value) is str and value.isdigit() and value.isascii() and len(value) <= 13:
        number = int(value)  # the common case, without a regular expression
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _COUNT.fullmatch(value.strip()):
        number = int(value.strip())
    else:
        _warn_once(source, "not a whole number", value)
        return None
    if not 0 <= number <= _MAX_COUNT:
        _warn_once(source, "count out of range", value)
        return None
    return number


class LoweredHeaders(dict[str, str]):
    """Headers already read into text with lower-case names: reading them again is free."""


class KeptHeaders(LoweredHeaders):
    """What `kept_headers` returns: keeping them again is free."""


def _lower_headers(headers: object) -> dict[str, str]:
    """The headers as a plain dict with lower-case names; junk entries dropped."""
    if isinstance(headers, LoweredHeaders):
        return headers
    if headers is None:
        return {}
    try:
        items = list(itertools.islice(headers.items(), _MAX_HEADERS))  # type: ignore[attr-defined]
    except Exception:
        _warn_once("headers", "not a mapping", headers)
        return {}
    result = LoweredHeaders()
    for item in items:
        try:
            key, value = item
        except (TypeError, ValueError):
            continue
        if isinstance(key, bytes):
            key = key.decode("latin-1")
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        if not isinstance(key, str) or not isinstance(value, str):
            _warn_once("headers", "a name or value that is not text", value)
            continue
        result[key.lower()] = value
    return result


_KEPT_PREFIXES = ("x-ratelimit-", "anthropic-ratelimit-", "retry-after")
_REQUEST_IDS = ("x-request-id", "request-id")
_KEPT_PREFIXES_RAW = tuple(prefix.encode() for prefix in _KEPT_PREFIXES)
_REQUEST_IDS_RAW = tuple(name.encode() for name in _REQUEST_IDS)
_MAX_KEPT = 32


def kept_headers(headers: Mapping[str, str]) -> KeptHeaders:
    """The headers worth keeping with a snapshot: rate limits, retry-after and the request id, never auth."""
    if type(headers) is KeptHeaders:
        return headers
    raw = _raw_pairs(headers)
    if raw is not None:
        return _kept_raw(raw)
    kept = KeptHeaders()
    for name, value in _lower_headers(headers).items():
        if name.startswith(_KEPT_PREFIXES) or name in _REQUEST_IDS:
            kept[name] = value[:200]
            if len(kept) >= _MAX_KEPT:
                break
    return kept


def _raw_pairs(headers: object) -> list[Any] | None:
    """httpx's headers as the bytes they arrived in (`Headers.raw`): read without decoding every one."""
    try:
        raw = getattr(headers, "raw", None)
    except Exception:
        return None
    return raw if type(raw) is list else None


def _kept_raw(raw: list[Any]) -> KeptHeaders:
    kept = KeptHeaders()
    for pair in itertools.islice(raw, _MAX_HEADERS):
        if type(pair) is not tuple or len(pair) != 2:
            continue
        name, value = pair
        if type(name) is not bytes or type(value) is not bytes:
            continue
        name = name.lower()
        if name.startswith(_KEPT_PREFIXES_RAW) or name in _REQUEST_IDS_RAW:
            kept[name.decode("latin-1")] = value[:200].decode("latin-1")
            if len(kept) >= _MAX_KEPT:
                break
    return kept


# --- retry-after -----------------------------------------------------------------------------------------


def parse_retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds to wait: `retry-after-ms`, else `retry-after` as seconds or an HTTP-date relative to `now`."""
    try:
        lowered = _lower_headers(headers)
        millis = lowered.get("retry-after-ms")
        if millis is not None:
            value = millis.strip()
            if len(value) <= _MAX_VALUE_CHARS and _BARE_NUMBER.fullmatch(value):
                seconds = float(value) / 1000
                if seconds <= MAX_WAIT_S:
                    return seconds
            _warn_once("retry-after-ms", "not a number of milliseconds", millis)
        raw = lowered.get("retry-after")
        if raw is None:
            return None
        value = raw.strip()
        if len(value) > _MAX_VALUE_CHARS:
            _warn_once("retry-after", "too long", raw)
            return None
        if _BARE_NUMBER.fullmatch(value):
            seconds = float(value)
            if seconds <= MAX_WAIT_S:
                return seconds
            _warn_once("retry-after", "wait out of range", raw)
            return None
        return _retry_after_date(value, raw, now)
    except Exception:  # a hostile mapping; never let it out
        _warn_once("retry-after", "unreadable headers", headers)
        return None


def _retry_after_date(value: str, raw: str, now: float) -> float | None:
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        _warn_once("retry-after", "neither seconds nor an HTTP-date", raw)
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = when.timestamp() - now
    if not math.isfinite(seconds) or seconds > MAX_WAIT_S:
        _warn_once("retry-after", "date out of range", raw)
        return None
    return max(0.0, seconds)


# --- Groq headers ----------------------------------------------------------------------------------------

# The docs: `*-requests` always refers to requests per day, `*-tokens` always to tokens per minute.
_GROQ_HEADER_WINDOWS = (("requests", Window.REQUESTS_PER_DAY), ("tokens", Window.TOKENS_PER_MINUTE))


def parse_groq_headers(model: str, headers: Mapping[str, str], now: float) -> RateLimitSnapshot | None:
    """The limits Groq's `x-ratelimit-*` (and `retry-after`) headers report; None when they report nothing."""
    return parse_x_ratelimit_headers("groq", model, headers, now, _GROQ_HEADER_WINDOWS)


# OpenAI (and the OpenAI-compatible servers that copy it): both count per minute.
_OPENAI_HEADER_WINDOWS = (("requests", Window.REQUESTS_PER_MINUTE), ("tokens", Window.TOKENS_PER_MINUTE))


def parse_openai_headers(
    provider: str, model: str, headers: Mapping[str, str], now: float
) -> RateLimitSnapshot | None:
    """OpenAI's `x-ratelimit-*` headers (per minute; resets as durations such as `6m0s`, `20ms`)."""
    return parse_x_ratelimit_headers(provider, model, headers, now, _OPENAI_HEADER_WINDOWS)


def parse_x_ratelimit_headers(
    provider: str,
    model: str,
    headers: Mapping[str, str],
    now: float,
    windows_by_suffix: tuple[tuple[str, Window], ...],
) -> RateLimitSnapshot | None:
    """`x-ratelimit-{limit,remaining,reset}-<suffix>` headers (resets as Go durations) and `retry-after`."""
    try:
        lowered = _lower_headers(headers)
        windows: list[WindowLimit] = []
        for suffix, window in windows_by_suffix:
            names = _x_ratelimit_names(suffix)
            raw_reset = lowered.get(names.reset)
            reset = parse_go_duration(raw_reset, source=names.reset) if raw_reset else None
            limit_window = _window_limit(lowered, names, window, now, reset)
            if limit_window is not None:
                windows.append(limit_window)
        return _snapshot(provider, model, lowered, windows, now)
    except Exception:
        _warn_once(f"{provider} headers", "unreadable", headers)
        return None


class _WindowHeaderNames(NamedTuple):
    limit: str
    remaining: str
    reset: str


@functools.cache
def _x_ratelimit_names(suffix: str) -> _WindowHeaderNames:
    return _WindowHeaderNames(*(f"x-ratelimit-{part}-{suffix}" for part in ("limit", "remaining", "reset")))


@functools.cache
def _anthropic_names(family: str) -> _WindowHeaderNames:
    return _WindowHeaderNames(
        *(f"anthropic-ratelimit-{family}-{part}" for part in ("limit", "remaining", "reset"))
    )


def _window_limit(
    lowered: Mapping[str, str], names: _WindowHeaderNames, window: Window, now: float, reset: float | None
) -> WindowLimit | None:
    """One window from its limit and remaining headers, reset in seconds."""
    limit_name, remaining_name = names.limit, names.remaining
    limit = _parse_count(lowered.get(limit_name), limit_name)
    remaining = _parse_count(lowered.get(remaining_name), remaining_name)
    if limit is not None and remaining is not None and remaining > limit:
        _warn_once(remaining_name, "more remaining than the limit", remaining)
        remaining = None
    if limit is None and remaining is None and reset is None:
        return None
    return WindowLimit(
        window=window,
        limit=limit,
        remaining=remaining,
        reset_at=now + reset if reset is not None else None,
        source=LimitSource.PROVIDER,
        observed_at=now,
    )


def _snapshot(
    provider: str, model: str, lowered: dict[str, str], windows: list[WindowLimit], now: float
) -> RateLimitSnapshot | None:
    retry_after = parse_retry_after(lowered, now)
    if not windows and retry_after is None:
        return None
    return RateLimitSnapshot(
        provider=provider,
        model=str(model),
        windows=tuple(windows),
        retry_after=retry_after,
        observed_at=now,
        raw_headers=kept_headers(lowered),  # the adapter's kept headers come back as they are
    )


# --- Anthropic headers -----------------------------------------------------------------------------------

# Anthropic's limits are per minute. `tokens` is the most restrictive token limit in force; older
# responses (and some tiers) give only `input-tokens` / `output-tokens`, so those stand in for it.
_ANTHROPIC_TOKEN_FAMILIES = ("tokens", "input-tokens", "output-tokens")


def parse_rfc3339(text: object, now: float, *, source: str) -> float | None:
    """Seconds from `now` until an RFC 3339 time (`2026-03-08T19:00:12Z`); None for garbage."""
    if not isinstance(text, str) or not text.strip() or len(text) > _MAX_VALUE_CHARS:
        if text is not None:
            _warn_once(source, "not an RFC 3339 time", text)
        return None
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        _warn_once(source, "not an RFC 3339 time", text)
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = when.timestamp() - now
    if not math.isfinite(seconds) or seconds > MAX_WAIT_S:
        _warn_once(source, "time out of range", text)
        return None
    return max(0.0, seconds)


def parse_anthropic_headers(
    provider: str, model: str, headers: Mapping[str, str], now: float
) -> RateLimitSnapshot | None:
    """`anthropic-ratelimit-{requests,tokens,...}-{limit,remaining,reset}` (RFC 3339) and `retry-after`."""
    try:
        lowered = _lower_headers(headers)
        windows: list[WindowLimit] = []
        families = [("requests", Window.REQUESTS_PER_MINUTE)]
        token_family = next(
            (f for f in _ANTHROPIC_TOKEN_FAMILIES if f"anthropic-ratelimit-{f}-limit" in lowered), None
        )
        if token_family is not None:
            families.append((token_family, Window.TOKENS_PER_MINUTE))
        for family, window in families:
            names = _anthropic_names(family)
            raw_reset = lowered.get(names.reset)
            reset = parse_rfc3339(raw_reset, now, source=names.reset) if raw_reset else None
            limit_window = _window_limit(lowered, names, window, now, reset)
            if limit_window is not None:
                windows.append(limit_window)
        return _snapshot(provider, model, lowered, windows, now)
    except Exception:
        _warn_once("anthropic headers", "unreadable", headers)
        return None


# --- error bodies ----------------------------------------------------------------------------------------


def _error_object(body: object, *, depth: int = 0) -> tuple[Mapping[str, Any] | None, str | None]:
    """(inner error object, message) from a whole `{"error": {...}}`, the inner dict, JSON text or text."""
    if isinstance(body, bytes | bytearray):
        body = bytes(body[:_MAX_BODY_CHARS]).decode("utf-8", errors="replace")
    if isinstance(body, str):
        text = body[:_MAX_BODY_CHARS]
        stripped = text.strip()
        if depth == 0 and stripped.startswith(("{", "[")):
            try:
                parsed = json.loads(stripped)
            except (ValueError, RecursionError):
                return None, text
            error, message = _error_object(parsed, depth=1)
            return error, message if message is not None else text
        return None, text
    if isinstance(body, list | tuple) and len(body) == 1:  # a streamed JSON array of one error
        return _error_object(body[0], depth=depth + 1) if depth < 2 else (None, None)
    if isinstance(body, Mapping):
        inner = body.get("error")
        if isinstance(inner, Mapping):
            body = inner
        elif isinstance(inner, str):  # `{"error": "..."}`
            return body, inner[:_MAX_BODY_CHARS]
        message = body.get("message")
        return body, message[:_MAX_BODY_CHARS] if isinstance(message, str) else None
    if body is not None:
        _warn_once("error body", "neither JSON nor text", body)
    return None, None


_WAIT_AFTER = re.compile(rf"(?i:(?:try\s+again|retry)\s+in)\s+((?:{_NUMBER}(?:{_UNITS}))+)")
_GROQ_LIMIT = re.compile(
    r"\(?\b(?P<abbr>RPM|RPD|TPM|TPD|ITPM|OTPM)\)?:\s*Limit\s+(?P<limit>[0-9]{1,13})"
    r"(?:,\s*Used\s+(?P<used>[0-9]{1,13}))?(?:,\s*Requested\s+(?P<requested>[0-9]{1,13}))?"
)
_GROQ_PHRASE = re.compile(r"(?i)\bon\s+(?:input\s+|output\s+)?(requests|tokens)\s+per\s+(minute|day)\b")
_GROQ_MODEL = re.compile(r"for model\s+`([^`]{1,200})`")
_GROQ_ABBREVIATIONS = {
    "RPM": Window.REQUESTS_PER_MINUTE,
    "RPD": Window.REQUESTS_PER_DAY,
    "TPM": Window.TOKENS_PER_MINUTE,
    "ITPM": Window.TOKENS_PER_MINUTE,
    "OTPM": Window.TOKENS_PER_MINUTE,
    "TPD": Window.TOKENS_PER_DAY,
}
_PHRASE_WINDOWS = {
    ("requests", "minute"): Window.REQUESTS_PER_MINUTE,
    ("requests", "day"): Window.REQUESTS_PER_DAY,
    ("tokens", "minute"): Window.TOKENS_PER_MINUTE,
    ("tokens", "day"): Window.TOKENS_PER_DAY,
}


def _wait_in_message(message: str, source: str) -> float | None:
    match = _WAIT_AFTER.search(message)
    return parse_go_duration(match.group(1), source=source) if match else None


def _longest(*waits: float | None) -> float | None:
    """The longest of the waits given: a refusal is not over until every clue says so."""
    known = [w for w in waits if w is not None]
    return max(known) if known else None


def parse_groq_error(
    status: int | None, body: object, headers: Mapping[str, str] | None, now: float
) -> QuotaViolation | None:
    """What a Groq 429/413 says: the window, limit, used, requested, the wait and whether retrying can help.

    `body` may be the SDK's parsed `{"error": {...}}`, the inner dict, text or junk. The wait is the longer of
    the `retry-after` header and the message's "Please try again in <duration>".
    """
    try:
        _, message = _error_object(body)
        window: Window | None = None
        limit = used = requested = None
        model: str | None = None
        body_wait: float | None = None
        never_fits = status == 413
        if message:
            match = _GROQ_LIMIT.search(message)
            if match:
                window = _GROQ_ABBREVIATIONS[match["abbr"].upper()]
                limit = _parse_count(match["limit"], "groq error limit")
                used = _parse_count(match["used"], "groq error used")
                requested = _parse_count(match["requested"], "groq error requested")
            phrase = _GROQ_PHRASE.search(message)
            if window is None and phrase:
                window = _PHRASE_WINDOWS[(phrase.group(1).lower(), phrase.group(2).lower())]
            model_match = _GROQ_MODEL.search(message)
            model = model_match.group(1) if model_match else None
            body_wait = _wait_in_message(message, "groq error 'try again in'")
            never_fits = never_fits or "request too large" in message.lower()
        header_wait = parse_retry_after(headers, now) if headers is not None else None
        retry_after = _longest(header_wait, body_wait)
        if window is None and retry_after is None and limit is None and not never_fits:
            return None
        return QuotaViolation(
            window=window,
            limit=limit,
            used=used,
            requested=requested,
            retry_after=retry_after,
            model=model,
            never_fits=never_fits,
            message=message[:500] if message else None,
        )
    except Exception:
        _warn_once("groq error body", "unreadable", body)
        return None


_GEMINI_LIMIT = re.compile(r"\blimit:\s*([0-9]{1,13})(?:,\s*model:\s*([A-Za-z0-9._/-]{1,200}))?")


def _gemini_window(quota_id: str) -> Window | None:
    lowered = quota_id.lower()
    tokens = "token" in lowered
    if "perday" in lowered:
        return Window.TOKENS_PER_DAY if tokens else Window.REQUESTS_PER_DAY
    if "perminute" in lowered:
        return Window.TOKENS_PER_MINUTE if tokens else Window.REQUESTS_PER_MINUTE
    _warn_once("gemini quotaId", "unknown quota window", quota_id)
    return None


def _proto_duration(value: object) -> float | None:
    """A protobuf Duration: "38s" / "38.5s" in JSON, or {"seconds": 38, "nanos": 5e8} defensively."""
    if isinstance(value, Mapping):
        seconds = _parse_count(value.get("seconds", 0), "RetryInfo.retryDelay.seconds")
        nanos = _parse_count(value.get("nanos", 0), "RetryInfo.retryDelay.nanos")
        if seconds is None or nanos is None or seconds > MAX_WAIT_S:
            return None
        return seconds + nanos / 1e9
    return parse_go_duration(value, source="RetryInfo.retryDelay")


def parse_gemini_error(body: object, now: float) -> QuotaViolation | None:
    """What a Gemini 429 says: `details[]` QuotaFailure / RetryInfo, with the message's prose as fallback.

    `body` is google-genai's `APIError.details`: the whole `{"error": {...}}`, the inner dict or text.
    `limit: 0` (or `quotaValue` "0") means the model has no free tier for this project: never_fits.
    """
    try:
        error, message = _error_object(body)
        details = error.get("details") if error is not None else None
        found: list[tuple[Window | None, int | None, str | None]] = []
        retry_delay: float | None = None
        if isinstance(details, list | tuple):
            for item in details[:_MAX_ITEMS]:
                if not isinstance(item, Mapping):
                    continue
                kind = item.get("@type")
                if not isinstance(kind, str):
                    continue
                if kind.endswith("google.rpc.QuotaFailure"):
                    violations = item.get("violations")
                    if isinstance(violations, list | tuple):
                        found.extend(
                            _gemini_violation(v) for v in violations[:_MAX_ITEMS] if isinstance(v, Mapping)
                        )
                elif kind.endswith("google.rpc.RetryInfo"):
                    retry_delay = _longest(retry_delay, _proto_duration(item.get("retryDelay")))
        # The most telling violation: a daily one (longest wait) before a per-minute one; any window first.
        found.sort(key=lambda v: (v[0] is None, not (v[0] is not None and v[0].is_daily)))
        window, limit, model = found[0] if found else (None, None, None)
        never_fits = any(v[1] == 0 for v in found)
        message_wait: float | None = None
        if message:
            message_wait = _wait_in_message(message, "gemini error 'retry in'")
            limits = _GEMINI_LIMIT.findall(message)
            if limits:
                if limit is None:
                    limit = _parse_count(limits[0][0], "gemini message limit")
                if model is None and limits[0][1]:
                    model = limits[0][1]
                never_fits = never_fits or any(value == "0" for value, _ in limits)
        retry_after = _longest(retry_delay, message_wait)
        if window is None and limit is None and retry_after is None and model is None and not never_fits:
            return None
        return QuotaViolation(
            window=window,
            limit=limit,
            retry_after=retry_after,
            model=model,
            never_fits=never_fits,
            message=message[:500] if message else None,
        )
    except Exception:
        _warn_once("gemini error body", "unreadable", body)
        return None


def _gemini_violation(violation: Mapping[str, Any]) -> tuple[Window | None, int | None, str | None]:
    quota_id = violation.get("quotaId")
    window = _gemini_window(quota_id) if isinstance(quota_id, str) else None
    value = violation.get("quotaValue")
    limit = _parse_count(value, "gemini quotaValue") if value is not None else None
    dimensions = violation.get("quotaDimensions")
    model = dimensions.get("model") if isinstance(dimensions, Mapping) else None
    return window, limit, model if isinstance(model, str) and len(model) <= 200 else None


_ANTHROPIC_LIMIT = re.compile(
    r"(?i)\bof\s+(?P<limit>[0-9][0-9,]{0,16})\s+(?:input\s+|output\s+)?(?P<unit>requests|tokens)\s+per\s+"
    r"(?P<period>minute|day)\b"
)


def parse_anthropic_error(
    body: object, headers: Mapping[str, str] | None, now: float
) -> QuotaViolation | None:
    """What an Anthropic 429 says: the window and limit from its message, the wait from `retry-after`.

    Without a readable message, the window is the one the headers show exhausted.
    """
    try:
        _, message = _error_object(body)
        window: Window | None = None
        limit: int | None = None
        if message:
            match = _ANTHROPIC_LIMIT.search(message)
            if match:
                window = _PHRASE_WINDOWS[(match["unit"].lower(), match["period"].lower())]
                limit = _parse_count(match["limit"].replace(",", ""), "anthropic error limit")
        lowered = _lower_headers(headers)
        if window is None:
            families = (("requests", Window.REQUESTS_PER_MINUTE), ("tokens", Window.TOKENS_PER_MINUTE))
            for family, family_window in families:
                remaining = lowered.get(f"anthropic-ratelimit-{family}-remaining")
                if remaining is not None and remaining.strip() == "0":
                    window = family_window
                    name = f"anthropic-ratelimit-{family}-limit"
                    limit = _parse_count(lowered.get(name), name)
                    break
        retry_after = parse_retry_after(lowered, now) if headers is not None else None
        if window is None and retry_after is None and limit is None:
            return None
        return QuotaViolation(
            window=window, limit=limit, retry_after=retry_after, message=message[:500] if message else None
        )
    except Exception:
        _warn_once("anthropic error body", "unreadable", body)
        return None

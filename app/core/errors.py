"""Errors are values: a code, the provider, a retry-after where known, and one sentence for the user."""

from __future__ import annotations

import math
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from datetime import datetime

    from app.core.ratelimit.snapshot import RateLimitSnapshot, Window


class ErrorCode(StrEnum):
    RATE_LIMIT_EXCEEDED = "RATE_LIMIT_EXCEEDED"
    QUOTA_EXHAUSTED = "QUOTA_EXHAUSTED"
    AUTHENTICATION_FAILED = "AUTHENTICATION_FAILED"
    MODEL_NOT_FOUND = "MODEL_NOT_FOUND"
    INVALID_REQUEST = "INVALID_REQUEST"
    INVALID_RESPONSE = "INVALID_RESPONSE"
    NETWORK_ERROR = "NETWORK_ERROR"
    PROVIDER_UNAVAILABLE = "PROVIDER_UNAVAILABLE"


# Failures that a retry after a pause may fix; the others need the user (or another provider).
TRANSIENT_CODES = frozenset(
    {ErrorCode.RATE_LIMIT_EXCEEDED, ErrorCode.NETWORK_ERROR, ErrorCode.PROVIDER_UNAVAILABLE}
)


class LLMProviderError(Exception):
    """A provider call failed. `str(error)` is the user-facing sentence; `detail` is for the log only.

    Raise it as `raise LLMProviderError(...) from original` so the SDK exception stays chained.
    """

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        provider: str | None = None,
        retry_after: float | None = None,
        reset_at: datetime | None = None,
        status_code: int | None = None,
        detail: str | None = None,
        window: Window | None = None,
        snapshot: RateLimitSnapshot | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.provider = provider
        self.retry_after = retry_after
        self.reset_at = reset_at
        self.status_code = status_code
        self.detail = detail
        self.window = window  # which limit refused us (per minute / per day), where the provider said
        self.snapshot = snapshot  # what the refusal's headers and body said about the limits

    @property
    def is_transient(self) -> bool:
        return self.code in TRANSIENT_CODES

    def __repr__(self) -> str:
        return f"LLMProviderError({self.code.value}, provider={self.provider!r}, message={self.message!r})"


WaitStyle = Literal["short", "compact", "words"]
_UNIT_SYMBOLS: dict[str, dict[str, str]] = {
    "short": {"hour": "h", "minute": "min", "second": "s"},
    "compact": {"hour": "h", "minute": "m", "second": "s"},
}


def describe_wait(seconds: float, style: WaitStyle = "short") -> str:
    """A wait as a person reads it, rounded up to the second.

    - "short" (the status bar, error sentences): "1 s", "9 min 38 s", "6 h 12 min"; never less than "1 s".
    - "compact" (the rate-limit panel's narrow rows): "2 m 59 s"; a wait that is over reads "0 s".
    - "words" (the panel's countdown as the design words it, log lines): "15 seconds", "1 minute 5 seconds".
    """
    total = max(1 if style == "short" else 0, math.ceil(seconds - 1e-9))  # float error is not a second more
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)

    def amount(count: int, unit: str) -> str:
        if style == "words":
            return f"{count} {unit}" if count == 1 else f"{count} {unit}s"
        return f"{count} {_UNIT_SYMBOLS[style][unit]}"

    if hours:
        return amount(hours, "hour") + (f" {amount(minutes, 'minute')}" if minutes else "")
    if minutes:
        return amount(minutes, "minute") + (f" {amount(secs, 'second')}" if secs else "")
    return amount(secs, "second")

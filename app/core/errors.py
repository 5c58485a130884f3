"""Errors are values: a code, the provider, a retry-after where known, and one sentence for the user."""

from __future__ import annotations

import math
from enum import StrEnum
from typing import TYPE_CHECKING

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


def describe_wait(seconds: float) -> str:
    """A wait as a person reads it: "1 s", "39 s", "9 min 38 s", "6 h 12 min"."""
    total = max(1, math.ceil(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"

"""One normalised picture of a provider's limits, whatever the wire format that told us."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Window(StrEnum):
    REQUESTS_PER_MINUTE = "rpm"
    REQUESTS_PER_DAY = "rpd"
    TOKENS_PER_MINUTE = "tpm"
    TOKENS_PER_DAY = "tpd"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def is_daily(self) -> bool:
        return self in (Window.REQUESTS_PER_DAY, Window.TOKENS_PER_DAY)


_LABELS = {
    Window.REQUESTS_PER_MINUTE: "requests per minute",
    Window.REQUESTS_PER_DAY: "requests per day",
    Window.TOKENS_PER_MINUTE: "tokens per minute",
    Window.TOKENS_PER_DAY: "tokens per day",
}


class LimitSource(StrEnum):
    PROVIDER = "provider"  # reported by the provider (headers or a 429 body)
    LOCAL = "local"  # estimated by our own limiter


@dataclass(frozen=True, slots=True)
class WindowLimit:
    window: Window
    limit: int | None
    remaining: int | None
    reset_at: float | None  # epoch seconds (on the injected clock)
    source: LimitSource
    observed_at: float  # epoch seconds


@dataclass(frozen=True, slots=True)
class RateLimitSnapshot:
    provider: str
    model: str
    windows: tuple[WindowLimit, ...] = ()
    retry_after: float | None = None  # seconds, from a 429
    observed_at: float | None = None
    raw_headers: dict[str, str] = field(default_factory=dict)

    def get(self, window: Window) -> WindowLimit | None:
        return next((w for w in self.windows if w.window is window), None)


@dataclass(frozen=True, slots=True)
class QuotaViolation:
    """What a refusal (a 429 or 413 body, plus its headers) said about the limit that was hit.

    Every field is optional: providers say more or less, and a malformed value is dropped, never guessed.
    """

    window: Window | None = None
    limit: int | None = None
    used: int | None = None
    requested: int | None = None
    retry_after: float | None = None  # seconds from the moment of the refusal
    model: str | None = None
    never_fits: bool = False  # retrying cannot help: one request exceeds the limit (413), or the limit is 0
    message: str | None = None  # the provider's own message, for the log

    @property
    def is_daily(self) -> bool:
        return self.window is not None and self.window.is_daily

    def window_limit(self, now: float, *, reset_at: float | None = None) -> WindowLimit | None:
        """The refused window as the panel shows it: nothing left until the wait is over (None: no window)."""
        if self.window is None:
            return None
        if reset_at is None and self.retry_after is not None:
            reset_at = now + self.retry_after
        return WindowLimit(
            window=self.window,
            limit=self.limit,
            remaining=0,
            reset_at=reset_at,
            source=LimitSource.PROVIDER,
            observed_at=now,
        )

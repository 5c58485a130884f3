"""The plain values that cross the provider interface."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from app.core.ratelimit.snapshot import RateLimitSnapshot

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class GenerateOptions:
    temperature: float | None = None
    max_output_tokens: int | None = None
    # A JSON schema: the provider is asked for JSON, and the result carries the parsed, validated object.
    json_schema: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class TokenUsage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


_UNREAD: Any = object()


@dataclass(frozen=True, slots=True)
class GenerateResult:
    text: str
    provider: str
    model: str
    usage: TokenUsage
    latency_ms: float
    finish_reason: str | None = None
    time_to_first_token_ms: float | None = None
    raw_headers: Mapping[str, str] = field(default_factory=dict)
    parsed: Any = None
    cached: bool = False  # replayed from the response cache: nothing was sent
    # How `rate_limits` is read from the headers: the adapter's parser, as of the reply's end. It runs on the
    # first read; the guards make that a loop turn after the caller had its reply, off the reply's path.
    read_rate_limits: Callable[[], RateLimitSnapshot | None] | None = field(
        default=None, repr=False, compare=False
    )
    _rate_limits: Any = field(default=_UNREAD, init=False, repr=False, compare=False)

    @property
    def rate_limits(self) -> RateLimitSnapshot | None:
        """What the reply's headers said about the provider's limits; None if they said nothing."""
        snapshot = self._rate_limits
        if snapshot is _UNREAD:
            snapshot = self.read_rate_limits() if self.read_rate_limits is not None else None
            object.__setattr__(self, "_rate_limits", snapshot)  # read once; the result stays frozen
        return snapshot


@dataclass(slots=True)
class StreamProgress:
    """What a stream has delivered so far, so a cancelled or broken stream still accounts for its usage; and,
    once a guard has handed the stream on past its first text, how to tell the guard the stream ended."""

    texts: list[str] = field(default_factory=list)  # the non-empty text deltas (one token each, mostly)
    reported: TokenUsage | None = None  # the latest usage the provider itself reported mid-stream
    # Called by the stream itself: with its result, or with the error it is about to raise (which the
    # callback may replace with another to raise instead).
    on_result: Callable[[GenerateResult], None] | None = None
    on_failure: Callable[[BaseException], BaseException] | None = None

    @property
    def text_chunks(self) -> int:
        return len(self.texts)


# What `LLMProvider.stream()` yields: text deltas, then exactly one GenerateResult last.
StreamItem = str | GenerateResult


@dataclass(frozen=True, slots=True)
class ModelInfo:
    id: str
    label: str | None = None
    context_window: int | None = None


@dataclass(frozen=True, slots=True)
class HealthReport:
    provider: str
    model: str
    reachable: bool
    key_accepted: bool | None  # None where the provider takes no key
    latency_ms: float | None
    message: str
    rate_limits: RateLimitSnapshot | None = None

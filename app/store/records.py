"""The plain values the store hands out. Rows map onto them by field name, so each dataclass is the
single list of its table's columns."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, Literal

ScriptStatus = Literal["complete", "cancelled", "failed", "generating"]
SCRIPT_STATUSES: tuple[ScriptStatus, ...] = ("complete", "cancelled", "failed", "generating")

RequestOutcome = Literal["ok", "error", "cancelled"]
REQUEST_OUTCOMES: tuple[RequestOutcome, ...] = ("ok", "error", "cancelled")


@dataclass(frozen=True, slots=True)
class Persona:
    """A system prompt the user picks when generating (table `system_prompts`)."""

    id: str
    name: str
    prompt: str
    description: str | None
    is_default: bool
    created_at: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class ScriptRecord:
    """One generation in the history, kept whatever its outcome (partial text included)."""

    id: int
    topic: str
    persona_id: str | None
    # Copied at creation, so the history still names the persona after it is deleted.
    persona_name: str | None
    provider: str
    model: str
    text: str
    status: ScriptStatus
    error_code: str | None
    error_message: str | None
    target_words: int | None
    prompt_tokens: int | None
    completion_tokens: int | None
    total_tokens: int | None
    latency_ms: float | None
    time_to_first_token_ms: float | None
    finish_reason: str | None
    created_at: str  # ISO 8601 UTC, e.g. 2025-01-31T09:15:02.123Z
    updated_at: str

    @property
    def created(self) -> datetime:
        return parse_timestamp(self.created_at)


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestRecord:
    """One provider call in the ledger. Times are epoch seconds so the rate limiter can seed its windows."""

    provider: str
    model: str
    started_at: float
    outcome: RequestOutcome
    finished_at: float | None = None
    latency_ms: float | None = None
    time_to_first_token_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    error_code: str | None = None
    streamed: bool = False
    # A response served from a cache never reached the provider, so it counts against no limit.
    cached: bool = False
    script_id: int | None = None
    attempt: int = 1
    cost_usd: float | None = None  # None: tokens used at an unknown price
    usage_estimated: bool = False  # the token counts are the app's estimate (a stream cut short)
    id: int | None = None  # assigned by the store


def column_names(record_type: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(record_type))


def row_to_dict(names: tuple[str, ...], row: tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip(names, row, strict=True))


def parse_timestamp(text: str) -> datetime:
    """Parse a stored timestamp; naive ones (SQLite's `datetime('now')`) are UTC."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)

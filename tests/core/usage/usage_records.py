"""Helpers for the usage tests: a ledger row with sensible defaults."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from app.store import RequestRecord

PARIS = ZoneInfo("Europe/Paris")


def call(provider: str, model: str, at: float, **fields: object) -> RequestRecord:
    values: dict[str, object] = {
        "outcome": "ok",
        "prompt_tokens": 10,
        "completion_tokens": 20,
        "cost_usd": 0.001,
    }
    values.update(fields)
    return RequestRecord(provider=provider, model=model, started_at=at, **values)  # type: ignore[arg-type]

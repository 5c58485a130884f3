"""The request ledger (table `requests`): one row per provider call, for usage views and limiter seeding."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from operator import attrgetter
from typing import Any

from app.store.db import inserted_id
from app.store.records import RequestRecord, column_names, row_to_dict

_COLUMNS = column_names(RequestRecord)
_INSERTED_COLUMNS = tuple(name for name in _COLUMNS if name != "id")
_INSERT = "INSERT INTO requests ({}) VALUES ({})".format(
    ", ".join(_INSERTED_COLUMNS), ", ".join("?" for _ in _INSERTED_COLUMNS)
)
_insert_values = attrgetter(*_INSERTED_COLUMNS)  # one C call per insert: record_request is on the hot path


def record_request(conn: sqlite3.Connection, record: RequestRecord) -> int:
    """Insert one row (the store adds it to the daily sums in the same transaction)."""
    return inserted_id(conn.execute(_INSERT, _insert_values(record)))


def iter_requests(conn: sqlite3.Connection, since: float | None = None) -> Iterator[RequestRecord]:
    """Every row (started at or after `since`), oldest first."""
    sql = f"SELECT {', '.join(_COLUMNS)} FROM requests"
    if since is None:
        rows = conn.execute(sql + " ORDER BY started_at")
    else:
        rows = conn.execute(sql + " WHERE started_at >= ? ORDER BY started_at", (since,))
    for row in rows:
        yield _request(row)


def _window(provider: str, model: str | None, since: float) -> tuple[str, tuple[Any, ...]]:
    """WHERE clause for a limiter window. Cached responses never reached the provider, so they don't count.

    Failed calls do count: the provider may well have counted them, and over-counting only makes us cautious.
    """
    if model is None:
        return "provider = ? AND started_at >= ? AND cached = 0", (provider, since)
    return "provider = ? AND model = ? AND started_at >= ? AND cached = 0", (provider, model, since)


def request_times(conn: sqlite3.Connection, provider: str, model: str | None, since: float) -> list[float]:
    """Start times (epoch seconds, ascending) of calls since `since` to `provider` (and `model` if given)."""
    where, params = _window(provider, model, since)
    sql = f"SELECT started_at FROM requests WHERE {where} ORDER BY started_at"
    return [row[0] for row in conn.execute(sql, params)]


def request_tokens_since(
    conn: sqlite3.Connection, provider: str, model: str | None, since: float
) -> list[tuple[float, int]]:
    """(started_at, total_tokens) pairs, ascending, to seed a tokens-per-minute window; unknown usage is 0."""
    where, params = _window(provider, model, since)
    sql = f"SELECT started_at, COALESCE(total_tokens, 0) FROM requests WHERE {where} ORDER BY started_at"
    return [(row[0], row[1]) for row in conn.execute(sql, params)]


def list_requests(conn: sqlite3.Connection, limit: int = 100) -> list[RequestRecord]:
    """Most recently recorded first (rowid order, which needs no extra index)."""
    rows = conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM requests ORDER BY id DESC LIMIT ?", (limit,))
    return [_request(row) for row in rows]


def script_cost(conn: sqlite3.Connection, script_id: int) -> float | None:
    """What the calls of one script cost (retries and fallbacks included); None when a price was unknown."""
    known, unknown = conn.execute(
        "SELECT COALESCE(SUM(cost_usd), 0), "
        "SUM(cost_usd IS NULL AND cached = 0 "
        "    AND COALESCE(prompt_tokens, 0) + COALESCE(completion_tokens, 0) > 0) "
        "FROM requests WHERE script_id = ?",
        (script_id,),
    ).fetchone()
    return None if unknown else float(known)


def prune_requests(conn: sqlite3.Connection, before: float) -> int:
    """Forget calls started before `before` (epoch seconds); returns how many rows went."""
    return conn.execute("DELETE FROM requests WHERE started_at < ?", (before,)).rowcount


def _request(row: tuple[Any, ...]) -> RequestRecord:
    values = row_to_dict(_COLUMNS, row)
    values["streamed"] = bool(values["streamed"])
    values["cached"] = bool(values["cached"])
    values["usage_estimated"] = bool(values["usage_estimated"])
    return RequestRecord(**values)

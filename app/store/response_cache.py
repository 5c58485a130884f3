"""The response cache (table `response_cache`) and its hit/miss counters (table `cache_stats`).

Entries are looked up by key; an entry older than the TTL is a miss (and is deleted). `evict()` keeps the
total size under a cap by deleting the least recently used entries first.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from app.store.records import column_names, row_to_dict


@dataclass(frozen=True, slots=True)
class CachedResponse:
    key: str
    provider: str
    model: str
    text: str
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    created_at: float
    last_used_at: float
    hits: int
    size_bytes: int


@dataclass(frozen=True, slots=True)
class CacheStats:
    entries: int
    size_bytes: int
    hits: int
    misses: int
    evictions: int

    @property
    def hit_ratio(self) -> float | None:
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else None


_COLUMNS = column_names(CachedResponse)


def get_entry(conn: sqlite3.Connection, key: str, fresh_since: float, now: float) -> CachedResponse | None:
    """The entry for `key` if created at or after `fresh_since` (touching it); counts a hit or a miss."""
    row = conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM response_cache WHERE key = ?", (key,)).fetchone()
    if row is not None and row[_COLUMNS.index("created_at")] < fresh_since:
        conn.execute("DELETE FROM response_cache WHERE key = ?", (key,))
        row = None
    if row is None:
        _bump(conn, "misses")
        return None
    conn.execute("UPDATE response_cache SET hits = hits + 1, last_used_at = ? WHERE key = ?", (now, key))
    _bump(conn, "hits")
    return CachedResponse(**row_to_dict(_COLUMNS, row))


def put_entry(conn: sqlite3.Connection, entry: CachedResponse) -> None:
    conn.execute(
        f"INSERT OR REPLACE INTO response_cache ({', '.join(_COLUMNS)}) "
        f"VALUES ({', '.join('?' for _ in _COLUMNS)})",
        tuple(getattr(entry, name) for name in _COLUMNS),
    )


def evict(conn: sqlite3.Connection, max_bytes: int, expired_before: float | None = None) -> int:
    """Delete expired entries, then the least recently used until the total is at most `max_bytes`."""
    removed = 0
    if expired_before is not None:
        removed += conn.execute("DELETE FROM response_cache WHERE created_at < ?", (expired_before,)).rowcount
    total = conn.execute("SELECT COALESCE(SUM(size_bytes), 0) FROM response_cache").fetchone()[0]
    if total > max_bytes:
        doomed: list[str] = []
        for key, size in conn.execute(
            "SELECT key, size_bytes FROM response_cache ORDER BY last_used_at, key"
        ):
            if total <= max_bytes:
                break
            doomed.append(key)
            total -= size
        conn.executemany("DELETE FROM response_cache WHERE key = ?", ((k,) for k in doomed))
        removed += len(doomed)
    if removed:
        _bump(conn, "evictions", removed)
    return removed


def clear(conn: sqlite3.Connection) -> int:
    """Delete every entry and reset the counters; returns how many entries went."""
    removed = conn.execute("DELETE FROM response_cache").rowcount
    conn.execute("UPDATE cache_stats SET value = 0")
    return removed


def stats(conn: sqlite3.Connection) -> CacheStats:
    entries, size = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(size_bytes), 0) FROM response_cache"
    ).fetchone()
    counters = dict(conn.execute("SELECT name, value FROM cache_stats").fetchall())
    return CacheStats(
        entries, size, counters.get("hits", 0), counters.get("misses", 0), counters.get("evictions", 0)
    )


def _bump(conn: sqlite3.Connection, name: str, by: int = 1) -> None:
    conn.execute("UPDATE cache_stats SET value = value + ? WHERE name = ?", (by, name))

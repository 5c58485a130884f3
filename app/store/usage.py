"""Usage sums over the ledger: per period for the counters and budgets, per day for the dashboard and the CLI.

`usage_daily` (and `usage_daily_errors`) hold one row per local day, provider and model, updated with each
ledger row in the same transaction (`add_to_daily`), so a year of history is a few thousand rows to read. The
day is the user's calendar day in `tz` (the computer's zone unless a test gives one).

Percentiles: each daily row keeps a histogram of latencies and times to first token in log bins 5% wide, so
a percentile read from merged histograms is within 2.5% of the exact one. When a period holds at most
`EXACT_PERCENTILE_ROWS` calls, the report reads their raw values instead and its percentiles are exact.
"""

from __future__ import annotations

import json
import math
import sqlite3
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any, Literal

from app.store.records import RequestRecord

EXACT_PERCENTILE_ROWS = 20_000
_BIN_BASE_MS = 0.1
_BIN_RATIO = 1.05
_LOG_RATIO = math.log(_BIN_RATIO)
_MAX_BIN = 400  # 0.1 ms * 1.05**400 ≈ 30 h: anything longer shares the last bin

GroupBy = Literal["provider", "model", "day"]


@dataclass(frozen=True, slots=True)
class UsageTotals:
    """Sums over ledger rows. `requests` are calls sent to the provider; `cached` are cache hits."""

    requests: int = 0
    errors: int = 0
    cancelled: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0  # the known part
    cost_unknown: int = 0  # sent calls that used tokens at an unknown price

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def cost(self) -> float | None:
        """The cost, or None when part of it is unknown (never a number that is too low)."""
        return None if self.cost_unknown else self.cost_usd

    @property
    def cache_hit_ratio(self) -> float | None:
        """Hits over hits plus calls sent; None when there was neither."""
        total = self.cached + self.requests
        return self.cached / total if total else None

    def __add__(self, other: UsageTotals) -> UsageTotals:
        return UsageTotals(
            self.requests + other.requests,
            self.errors + other.errors,
            self.cancelled + other.cancelled,
            self.cached + other.cached,
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.cost_usd + other.cost_usd,
            self.cost_unknown + other.cost_unknown,
        )

    @classmethod
    def of(cls, record: RequestRecord) -> UsageTotals:
        if record.cached:
            return cls(cached=1)
        unknown = record.cost_usd is None and bool(
            (record.prompt_tokens or 0) + (record.completion_tokens or 0)
        )
        return cls(
            requests=1,
            errors=int(record.outcome == "error"),
            cancelled=int(record.outcome == "cancelled"),
            prompt_tokens=record.prompt_tokens or 0,
            completion_tokens=record.completion_tokens or 0,
            cost_usd=record.cost_usd or 0.0,
            cost_unknown=int(unknown),
        )


# --- histograms -------------------------------------------------------------------------------------------


def latency_bin(ms: float) -> int:
    if not ms > _BIN_BASE_MS:
        return 0
    return min(_MAX_BIN, int(math.log(ms / _BIN_BASE_MS) / _LOG_RATIO))


def bin_value(index: int) -> float:
    """The value a bin stands for: its geometric middle (within 2.5% of anything in it)."""
    return _BIN_BASE_MS * _BIN_RATIO ** (index + 0.5)


@dataclass(slots=True)
class Distribution:
    """Latencies (ms) of a group: binned counts, and the raw values when the report read them."""

    bins: dict[int, int] = field(default_factory=dict)
    values: list[float] | None = None  # set: percentiles are exact

    @property
    def count(self) -> int:
        return len(self.values) if self.values is not None else sum(self.bins.values())

    @property
    def exact(self) -> bool:
        return self.values is not None

    def percentile(self, q: float) -> float | None:
        """The nearest-rank percentile (q in 0..1): exact from raw values, else within 2.5%."""
        n = self.count
        if n == 0:
            return None
        rank = max(1, math.ceil(q * n))
        if self.values is not None:
            return sorted(self.values)[rank - 1]
        seen = 0
        for index in sorted(self.bins):
            seen += self.bins[index]
            if seen >= rank:
                return bin_value(index)
        return None  # pragma: no cover - the counts add up to n


def nearest_rank(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank percentile of `values` (the definition the dashboard uses)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


# --- keeping the daily sums -------------------------------------------------------------------------------

# One statement per ledger row: the sums, and one more call in the latency and TTFT histograms (JSON objects
# of bin -> count; the bins are passed as JSON paths, and a NULL one leaves its histogram as it is).
_UPSERT_DAILY = """
INSERT INTO usage_daily (day, provider, model, requests, errors, cancelled, cached, prompt_tokens,
                         completion_tokens, cost_usd, cost_unknown, latency_hist, ttft_hist)
VALUES (:day, :provider, :model, :requests, :errors, :cancelled, :cached, :prompt_tokens,
        :completion_tokens, :cost_usd, :cost_unknown,
        CASE WHEN :latency_bin IS NULL THEN '{}' ELSE json_set('{}', :latency_bin, 1) END,
        CASE WHEN :ttft_bin IS NULL THEN '{}' ELSE json_set('{}', :ttft_bin, 1) END)
ON CONFLICT (day, provider, model) DO UPDATE SET
    requests = requests + excluded.requests,
    errors = errors + excluded.errors,
    cancelled = cancelled + excluded.cancelled,
    cached = cached + excluded.cached,
    prompt_tokens = prompt_tokens + excluded.prompt_tokens,
    completion_tokens = completion_tokens + excluded.completion_tokens,
    cost_usd = cost_usd + excluded.cost_usd,
    cost_unknown = cost_unknown + excluded.cost_unknown,
    latency_hist = CASE WHEN :latency_bin IS NULL THEN latency_hist ELSE
        json_set(latency_hist, :latency_bin, COALESCE(json_extract(latency_hist, :latency_bin), 0) + 1) END,
    ttft_hist = CASE WHEN :ttft_bin IS NULL THEN ttft_hist ELSE
        json_set(ttft_hist, :ttft_bin, COALESCE(json_extract(ttft_hist, :ttft_bin), 0) + 1) END
"""
_UPSERT_ERROR = """
INSERT INTO usage_daily_errors (day, provider, model, error_code, count) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (day, provider, model, error_code) DO UPDATE SET count = count + excluded.count
"""


def day_of(ts: float, tz: tzinfo | None) -> str:
    zone = tz if tz is not None else datetime.now().astimezone().tzinfo
    return datetime.fromtimestamp(ts, zone).date().isoformat()


def _timed(record: RequestRecord) -> tuple[float | None, float | None]:
    """The latency and TTFT a record adds to the histograms: calls the provider answered, not cache hits."""
    if record.cached or record.outcome != "ok":
        return None, None
    return record.latency_ms, record.time_to_first_token_ms


def add_to_daily(conn: sqlite3.Connection, record: RequestRecord, tz: tzinfo | None) -> None:
    """Add one ledger row to its day's sums (call inside the transaction that inserts the row)."""
    t = UsageTotals.of(record)
    latency, ttft = _timed(record)
    key = {"day": day_of(record.started_at, tz), "provider": record.provider, "model": record.model}
    conn.execute(
        _UPSERT_DAILY,
        {
            **key,
            "requests": t.requests,
            "errors": t.errors,
            "cancelled": t.cancelled,
            "cached": t.cached,
            "prompt_tokens": t.prompt_tokens,
            "completion_tokens": t.completion_tokens,
            "cost_usd": t.cost_usd,
            "cost_unknown": t.cost_unknown,
            "latency_bin": None if latency is None else f'$."{latency_bin(latency)}"',
            "ttft_bin": None if ttft is None else f'$."{latency_bin(ttft)}"',
        },
    )
    if record.error_code and not record.cached:
        conn.execute(_UPSERT_ERROR, (*key.values(), record.error_code, 1))


def needs_rebuild(conn: sqlite3.Connection) -> bool:
    """Ledger rows but no daily sums: written before the sums existed (or the sums were lost)."""
    has_rows = conn.execute("SELECT EXISTS (SELECT 1 FROM requests)").fetchone()[0]
    has_sums = conn.execute("SELECT EXISTS (SELECT 1 FROM usage_daily)").fetchone()[0]
    return bool(has_rows and not has_sums)


def rebuild_daily(conn: sqlite3.Connection, tz: tzinfo | None) -> int:
    """Recompute every daily sum from the ledger (call inside a transaction); returns the rows read."""
    from app.store.ledger import iter_requests

    conn.execute("DELETE FROM usage_daily")
    conn.execute("DELETE FROM usage_daily_errors")
    sums: dict[tuple[str, str, str], list[Any]] = {}
    errors: dict[tuple[str, str, str, str], int] = {}
    count = 0
    for record in iter_requests(conn):
        count += 1
        key = (day_of(record.started_at, tz), record.provider, record.model)
        entry = sums.get(key)
        if entry is None:
            entry = sums[key] = [UsageTotals(), {}, {}]
        entry[0] = entry[0] + UsageTotals.of(record)
        for hist, value in zip(entry[1:], _timed(record), strict=True):
            if value is not None:
                index = latency_bin(value)
                hist[index] = hist.get(index, 0) + 1
        if record.error_code and not record.cached:
            error_key = (*key, record.error_code)
            errors[error_key] = errors.get(error_key, 0) + 1
    conn.executemany(
        "INSERT INTO usage_daily (day, provider, model, requests, errors, cancelled, cached, prompt_tokens, "
        "completion_tokens, cost_usd, cost_unknown, latency_hist, ttft_hist) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            (
                *key,
                t.requests,
                t.errors,
                t.cancelled,
                t.cached,
                t.prompt_tokens,
                t.completion_tokens,
                t.cost_usd,
                t.cost_unknown,
                json.dumps(lat, separators=(",", ":")),
                json.dumps(ttft, separators=(",", ":")),
            )
            for key, (t, lat, ttft) in sums.items()
        ),
    )
    conn.executemany(_UPSERT_ERROR, ((*key, n) for key, n in errors.items()))
    return count


# --- reading ----------------------------------------------------------------------------------------------


def usage_by_model(
    conn: sqlite3.Connection, provider: str, since: float, until: float
) -> dict[str, UsageTotals]:
    """Totals per model of `provider` for calls started in [since, until): what the counters load."""
    rows = conn.execute(
        "SELECT model, "
        "  SUM(cached = 0), SUM(cached = 0 AND outcome = 'error'), "
        "  SUM(cached = 0 AND outcome = 'cancelled'), "
        "  SUM(cached), SUM(CASE WHEN cached = 0 THEN COALESCE(prompt_tokens, 0) ELSE 0 END), "
        "  SUM(CASE WHEN cached = 0 THEN COALESCE(completion_tokens, 0) ELSE 0 END), "
        "  SUM(CASE WHEN cached = 0 THEN COALESCE(cost_usd, 0) ELSE 0 END), "
        "  SUM(cached = 0 AND cost_usd IS NULL "
        "      AND COALESCE(prompt_tokens, 0) + COALESCE(completion_tokens, 0) > 0) "
        "FROM requests WHERE provider = ? AND started_at >= ? AND started_at < ? GROUP BY model",
        (provider, since, until),
    )
    return {row[0]: UsageTotals(*row[1:]) for row in rows}


@dataclass(slots=True)
class UsageReportRow:
    """One group of a report: a provider, a model, a day, or a combination (unset parts are None)."""

    provider: str | None
    model: str | None
    day: str | None
    totals: UsageTotals = field(default_factory=UsageTotals)
    errors_by_code: dict[str, int] = field(default_factory=dict)
    latency: Distribution = field(default_factory=Distribution)
    ttft: Distribution = field(default_factory=Distribution)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.provider or "", self.model or "", self.day or "")


@dataclass(frozen=True, slots=True)
class UsageReport:
    first_day: date
    last_day: date
    group_by: tuple[GroupBy, ...]
    rows: tuple[UsageReportRow, ...]
    exact_percentiles: bool

    @property
    def total(self) -> UsageTotals:
        return sum((row.totals for row in self.rows), UsageTotals())


def usage_report(
    conn: sqlite3.Connection,
    first_day: date,
    last_day: date,
    group_by: Sequence[GroupBy] = ("provider", "model"),
    tz: tzinfo | None = None,
    *,
    exact_limit: int = EXACT_PERCENTILE_ROWS,
    with_latency: bool = True,
) -> UsageReport:
    """Usage of the local days first_day..last_day (inclusive), grouped by any of provider, model, day.

    `with_latency=False` skips the percentiles (a cost-per-day chart needs none): faster over long periods.
    """
    groups = tuple(dict.fromkeys(group_by))
    lo, hi = first_day.isoformat(), last_day.isoformat()
    rows: dict[tuple[str, str, str], UsageReportRow] = {}

    def parts(day: str, provider: str, model: str) -> tuple[str | None, str | None, str | None]:
        return (
            provider if "provider" in groups else None,
            model if "model" in groups else None,
            day if "day" in groups else None,
        )

    def row_for(day: str, provider: str, model: str) -> UsageReportRow:
        named = parts(day, provider, model)
        key = (named[0] or "", named[1] or "", named[2] or "")
        found = rows.get(key)
        if found is None:
            found = rows[key] = UsageReportRow(*named)
        return found

    def existing(day: str, provider: str, model: str) -> UsageReportRow | None:
        named = parts(day, provider, model)
        return rows.get((named[0] or "", named[1] or "", named[2] or ""))

    columns = ", latency_hist, ttft_hist" if with_latency else ", '{}', '{}'"
    merged: dict[tuple[str, str, str], tuple[dict[str, int], dict[str, int]]] = {}
    for day, provider, model, *sums, latency_hist, ttft_hist in conn.execute(
        "SELECT day, provider, model, requests, errors, cancelled, cached, prompt_tokens, completion_tokens, "
        f"cost_usd, cost_unknown{columns} FROM usage_daily WHERE day >= ? AND day <= ?",
        (lo, hi),
    ):
        row = row_for(day, provider, model)
        row.totals = row.totals + UsageTotals(*sums)
        if latency_hist == "{}" and ttft_hist == "{}":
            continue
        bins = merged.get(row.key)
        if bins is None:
            bins = merged[row.key] = ({}, {})
        for target, encoded in zip(bins, (latency_hist, ttft_hist), strict=True):
            get = target.get
            for key, count in json.loads(encoded).items():
                target[key] = get(key, 0) + count
    for key, (latency_bins, ttft_bins) in merged.items():
        row = rows[key]
        row.latency.bins = {int(k): v for k, v in latency_bins.items()}
        row.ttft.bins = {int(k): v for k, v in ttft_bins.items()}
    for day, provider, model, code, count in conn.execute(
        "SELECT day, provider, model, error_code, count FROM usage_daily_errors WHERE day >= ? AND day <= ?",
        (lo, hi),
    ):
        codes = row_for(day, provider, model).errors_by_code
        codes[code] = codes.get(code, 0) + count
    timed = sum(row.latency.count for row in rows.values())
    exact = with_latency and timed <= exact_limit
    if exact and rows:
        _read_exact(conn, first_day, last_day, tz, existing, rows.values(), by_day="day" in groups)
    ordered = tuple(sorted(rows.values(), key=lambda r: r.key))
    return UsageReport(first_day, last_day, groups, ordered, exact)


def _read_exact(
    conn: sqlite3.Connection,
    first_day: date,
    last_day: date,
    tz: tzinfo | None,
    existing: Any,
    rows: Iterable[UsageReportRow],
    *,
    by_day: bool,
) -> None:
    zone = tz if tz is not None else datetime.now().astimezone().tzinfo
    days = [first_day + timedelta(days=i) for i in range((last_day - first_day).days + 2)]
    midnights = [datetime.combine(d, time(0), tzinfo=zone).timestamp() for d in days]
    names = [d.isoformat() for d in days]
    for row in rows:
        row.latency.values, row.ttft.values = [], []
    for provider, model, started_at, latency, ttft in conn.execute(
        "SELECT provider, model, started_at, latency_ms, time_to_first_token_ms FROM requests "
        "WHERE started_at >= ? AND started_at < ? AND cached = 0 AND outcome = 'ok'",
        (midnights[0], midnights[-1]),
    ):
        day = names[bisect_right(midnights, started_at) - 1] if by_day else ""
        row = existing(day, provider, model)
        if row is None or row.latency.values is None or row.ttft.values is None:
            continue  # a call the daily sums do not have (recorded under another time zone): not counted
        if latency is not None:
            row.latency.values.append(latency)
        if ttft is not None:
            row.ttft.values.append(ttft)


def first_recorded_day(conn: sqlite3.Connection) -> str | None:
    row = conn.execute("SELECT MIN(day) FROM usage_daily").fetchone()
    return row[0] if row else None

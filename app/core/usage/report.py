"""A usage report as plain rows: what the CLI prints, the dashboard shows and the CSV export holds.

Each row: provider, model, day (the grouped parts), requests, errors, errors by code, cancelled, cache hits,
tokens in and out, cost (None when a price is unknown: shown as nothing), p50/p95 latency and time to first
token (ms), and the cache hit ratio. `write_csv` and `read_csv` round-trip these rows exactly.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

from app.store.usage import UsageReport, UsageReportRow

CSV_COLUMNS: tuple[str, ...] = (
    "provider",
    "model",
    "day",
    "requests",
    "errors",
    "cancelled",
    "cached",
    "prompt_tokens",
    "completion_tokens",
    "cost_usd",
    "latency_p50_ms",
    "latency_p95_ms",
    "ttft_p50_ms",
    "ttft_p95_ms",
    "cache_hit_ratio",
    "errors_by_code",
)
_INTS = frozenset({"requests", "errors", "cancelled", "cached", "prompt_tokens", "completion_tokens"})
_FLOATS = frozenset(
    {"cost_usd", "latency_p50_ms", "latency_p95_ms", "ttft_p50_ms", "ttft_p95_ms", "cache_hit_ratio"}
)


def report_row(row: UsageReportRow) -> dict[str, Any]:
    totals = row.totals
    parts = [p for p in (row.provider, row.model, row.day) if p]
    return {
        "label": " / ".join(parts) or "all",
        "provider": row.provider,
        "model": row.model,
        "day": row.day,
        "requests": totals.requests,
        "errors": totals.errors,
        "cancelled": totals.cancelled,
        "cached": totals.cached,
        "prompt_tokens": totals.prompt_tokens,
        "completion_tokens": totals.completion_tokens,
        "cost_usd": totals.cost,
        "latency_p50_ms": row.latency.percentile(0.50),
        "latency_p95_ms": row.latency.percentile(0.95),
        "ttft_p50_ms": row.ttft.percentile(0.50),
        "ttft_p95_ms": row.ttft.percentile(0.95),
        "cache_hit_ratio": totals.cache_hit_ratio,
        "errors_by_code": dict(sorted(row.errors_by_code.items())),
        "percentiles_exact": row.latency.exact,
    }


def report_rows(report: UsageReport) -> list[dict[str, Any]]:
    return [report_row(row) for row in report.rows]


def write_csv(rows: Iterable[dict[str, Any]], stream: io.TextIOBase | Any) -> None:
    """The rows as CSV (unknown values as empty cells; errors by code as JSON)."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        cells = []
        for name in CSV_COLUMNS:
            value = row.get(name)
            if name == "errors_by_code":
                cells.append(json.dumps(value or {}, sort_keys=True, separators=(",", ":")))
            elif value is None:
                cells.append("")
            elif isinstance(value, float):
                cells.append(repr(value))  # the shortest text that reads back as the same float
            else:
                cells.append(str(value))
        writer.writerow(cells)


def read_csv(stream: io.TextIOBase | Any) -> list[dict[str, Any]]:
    """Rows written by `write_csv`, with their types back."""
    reader = csv.DictReader(stream)
    missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
        raise ValueError(f"Not a usage export: the columns {', '.join(missing)} are missing.")
    rows: list[dict[str, Any]] = []
    for raw in reader:
        row: dict[str, Any] = {}
        for name in CSV_COLUMNS:
            text = raw[name]
            if name == "errors_by_code":
                row[name] = json.loads(text) if text else {}
            elif text == "":
                row[name] = None if name not in _INTS else 0
            elif name in _INTS:
                row[name] = int(text)
            elif name in _FLOATS:
                row[name] = float(text)
            else:
                row[name] = text
        rows.append(row)
    return rows


def csv_text(rows: Sequence[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    write_csv(rows, buffer)
    return buffer.getvalue()

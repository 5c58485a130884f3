"""The dashboard's queries over a ledger of 1,000,000 calls (a year of a heavy user: ~2,700 calls a day).

Run on demand: `python tests/benchmarks/bench_dashboard.py [--rows 1000000] [--repeat 7]`. Builds the ledger
in a temporary SQLite file (bulk insert, then the daily sums rebuilt from it, both timed), then times each
query the dashboard, the CLI and the counters make. Prints a table; asserts nothing about time (the target
is 200 ms).
"""

from __future__ import annotations

import argparse
import functools
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

TZ = ZoneInfo("Europe/Paris")
MODELS = (
    ("groq", "llama-3.3-70b-versatile"),
    ("groq", "llama-3.1-8b-instant"),
    ("gemini", "gemini-2.5-flash"),
    ("gemini", "gemini-2.5-pro"),
    ("ollama", "llama3.2"),
)
CODES = ("RATE_LIMIT_EXCEEDED", "QUOTA_EXHAUSTED", "NETWORK_ERROR", "PROVIDER_UNAVAILABLE", "CANCELLED")
END = datetime(2025, 11, 21, 18, 0, tzinfo=TZ)


def fill(store: object, rows: int, seed: int = 11) -> None:
    """Bulk-insert `rows` ledger rows spread evenly over the 365 days before END."""
    from app.store.ledger import _INSERT, _insert_values  # the store's own statement
    from app.store.records import RequestRecord

    rng = random.Random(seed)
    start = (END - timedelta(days=365)).timestamp()
    step = 365 * 86400 / rows
    batch: list[tuple[object, ...]] = []
    with store._db.transaction() as conn:  # type: ignore[attr-defined]
        for i in range(rows):
            provider, model = MODELS[rng.randrange(len(MODELS))]
            at = start + i * step
            roll = rng.random()
            if roll < 0.08:
                record = RequestRecord(
                    provider=provider,
                    model=model,
                    started_at=at,
                    outcome="ok",
                    cached=True,
                    cost_usd=0.0,
                    latency_ms=3.0,
                )
            elif roll < 0.13:
                code = CODES[rng.randrange(len(CODES))]
                record = RequestRecord(
                    provider=provider,
                    model=model,
                    started_at=at,
                    outcome="cancelled" if code == "CANCELLED" else "error",
                    error_code=code,
                    latency_ms=rng.uniform(50, 500),
                    cost_usd=0.0,
                )
            else:
                prompt, completion = rng.randint(200, 800), rng.randint(300, 1500)
                record = RequestRecord(
                    provider=provider,
                    model=model,
                    started_at=at,
                    outcome="ok",
                    streamed=True,
                    latency_ms=rng.lognormvariate(7.5, 0.6),
                    time_to_first_token_ms=rng.lognormvariate(5.5, 0.4),
                    prompt_tokens=prompt,
                    completion_tokens=completion,
                    cost_usd=(prompt + 3 * completion) * 1e-7,
                )
            batch.append(_insert_values(record))
            if len(batch) == 20_000:
                conn.executemany(_INSERT, batch)
                batch.clear()
        conn.executemany(_INSERT, batch)


def timed(function: Callable[[], object], repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return min(samples), statistics.median(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)

    from app.core.ratelimit.clock import FakeClock
    from app.core.usage.counters import UsageCounters
    from app.store import RequestRecord, Store
    from app.ui.dashboard import PERIODS, load_dashboard_data, period_days

    print(f"Python {sys.version.split()[0]} on {sys.platform}; ledger of {args.rows:,} calls over 365 days")
    with tempfile.TemporaryDirectory() as folder:
        store = Store.open(Path(folder) / "bench.db", usage_tz=TZ)
        started = time.perf_counter()
        fill(store, args.rows)
        filled = time.perf_counter() - started
        started = time.perf_counter()
        store.rebuild_usage()
        rebuilt = time.perf_counter() - started
        with store._db.locked() as conn:
            daily_rows = conn.execute("SELECT COUNT(*) FROM usage_daily").fetchone()[0]
        print(
            f"bulk insert {filled:.1f} s; daily sums rebuilt from the ledger in {rebuilt:.1f} s "
            f"({daily_rows:,} rows)"
        )
        print()
        today = END.date()
        print(f"{'query':52} {'calls':>9} {'best ms':>9} {'median ms':>10}")
        results: list[tuple[str, int, float, float]] = []
        for key, label in PERIODS:
            first, last = period_days(key, today)
            data = load_dashboard_data(store, first, last)
            calls = sum(r["requests"] + r["cached"] for r in data.rows)
            exact = "exact" if data.exact else "histograms"
            best, median = timed(functools.partial(load_dashboard_data, store, first, last), args.repeat)
            results.append((f"dashboard: {label} ({exact})", calls, best, median))
        month = date(2025, 11, 1)
        best, median = timed(
            lambda: store.usage_report(month - timedelta(days=29), month, ("day",)), args.repeat
        )
        results.append(("CLI usage --by day, 30 days", 0, best, median))
        best, median = timed(
            lambda: store.usage_report(date(2024, 11, 22), today, ("provider",)), args.repeat
        )
        results.append(("CLI usage --by provider, 365 days", 0, best, median))
        clock = FakeClock(END.timestamp())

        def counters(kind: str) -> None:
            fresh = UsageCounters(store, clock=clock)
            fresh.period("gemini", None, kind)  # type: ignore[arg-type]

        for kind in ("day", "month"):
            best, median = timed(functools.partial(counters, kind), args.repeat)
            results.append((f"counters: load Gemini's {kind} (Pacific)", 0, best, median))
        for label, calls, best, median in results:
            shown = f"{calls:,}" if calls else ""
            print(f"{label:52} {shown:>9} {best:9.1f} {median:10.1f}")
        samples = []
        for i in range(2000):
            record = RequestRecord(
                provider="groq",
                model="llama-3.3-70b-versatile",
                started_at=END.timestamp() + i,
                outcome="ok",
                latency_ms=900.0,
                time_to_first_token_ms=200.0,
                prompt_tokens=300,
                completion_tokens=700,
                cost_usd=0.0007,
            )
            started = time.perf_counter()
            store.record_request(record)
            samples.append((time.perf_counter() - started) * 1e6)
        print(
            f"{'record_request (ledger row + daily sums), per call':52} {'':>9} {min(samples) / 1000:9.3f} "
            f"{statistics.median(samples) / 1000:10.3f}"
        )
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

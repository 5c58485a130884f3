"""The daily usage sums: kept with each ledger row, rebuilt from the ledger, read per period and day; the
report's figures equal the ledger's for a seeded data set, and its CSV export round-trips."""

from __future__ import annotations

import io
import random
import sqlite3
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.core.usage.report import csv_text, read_csv, report_rows, write_csv
from app.store import RequestRecord, Store
from app.store.records import RequestOutcome
from app.store.usage import Distribution, latency_bin, nearest_rank

TZ = ZoneInfo("America/New_York")
START = datetime(2025, 10, 28, tzinfo=TZ).timestamp()  # a week that crosses the end of DST (2 Nov)
MODELS = [("groq", "llama-3.3-70b-versatile"), ("gemini", "gemini-2.5-flash"), ("ollama", "llama3.2")]
CODES = ["RATE_LIMIT_EXCEEDED", "NETWORK_ERROR", "QUOTA_EXHAUSTED"]


def seeded(count: int, seed: int = 7) -> list[RequestRecord]:
    rng = random.Random(seed)
    records = []
    for i in range(count):
        provider, model = rng.choice(MODELS)
        at = START + i * (10 * 86400 / count) + rng.random()
        roll = rng.random()
        if roll < 0.1:
            records.append(
                RequestRecord(
                    provider=provider,
                    model=model,
                    started_at=at,
                    outcome="ok",
                    cached=True,
                    cost_usd=0.0,
                    latency_ms=rng.uniform(1, 5),
                )
            )
            continue
        if roll < 0.2:
            records.append(
                RequestRecord(
                    provider=provider,
                    model=model,
                    started_at=at,
                    outcome="error",
                    error_code=rng.choice(CODES),
                    latency_ms=rng.uniform(10, 99),
                    cost_usd=0.0,
                )
            )
            continue
        prompt, completion = rng.randint(50, 500), rng.randint(0, 900)
        cost = None if provider == "groq" and rng.random() < 0.05 else (prompt + completion) * 1e-6
        outcome: RequestOutcome = "cancelled" if roll < 0.25 else "ok"
        records.append(
            RequestRecord(
                provider=provider,
                model=model,
                started_at=at,
                outcome=outcome,
                error_code="CANCELLED" if outcome == "cancelled" else None,
                latency_ms=rng.lognormvariate(7, 0.7),
                time_to_first_token_ms=rng.lognormvariate(5, 0.5),
                prompt_tokens=prompt,
                completion_tokens=completion,
                cost_usd=0.0 if provider == "ollama" else cost,
            )
        )
    return records


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened = Store.open(tmp_path / "u.db", usage_tz=TZ)
    for record in seeded(3000):
        opened.record_request(record)
    return opened


def expected(records: list[RequestRecord], first: date, last: date) -> dict[tuple[str, str], dict[str, Any]]:
    """The figures computed straight from ledger rows, the plain way."""
    result: dict[tuple[str, str], dict[str, Any]] = {}
    for r in records:
        day = datetime.fromtimestamp(r.started_at, TZ).date()
        if not first <= day <= last:
            continue
        e = result.setdefault(
            (r.provider, r.model),
            {
                "requests": 0,
                "cached": 0,
                "errors": 0,
                "prompt": 0,
                "completion": 0,
                "cost": 0.0,
                "unknown": False,
                "codes": Counter(),
                "lat": [],
                "ttft": [],
            },
        )
        if r.cached:
            e["cached"] += 1
            continue
        e["requests"] += 1
        e["errors"] += r.outcome == "error"
        e["prompt"] += r.prompt_tokens or 0
        e["completion"] += r.completion_tokens or 0
        if r.cost_usd is None and (r.prompt_tokens or 0) + (r.completion_tokens or 0):
            e["unknown"] = True
        e["cost"] += r.cost_usd or 0.0
        if r.error_code:
            e["codes"][r.error_code] += 1
        if r.outcome == "ok":
            e["lat"].append(r.latency_ms)
            e["ttft"].append(r.time_to_first_token_ms)
    return result


@pytest.mark.parametrize("exact_limit", [10**9, 0], ids=["exact", "histograms"])
def test_report_figures_equal_the_ledger(store: Store, exact_limit: int) -> None:
    first, last = date(2025, 10, 29), date(2025, 11, 4)
    report = store.usage_report(first, last, exact_limit=exact_limit)
    want = expected(seeded(3000), first, last)
    assert {(r.provider, r.model) for r in report.rows} == set(want)
    assert report.exact_percentiles == (exact_limit > 0)
    for row in report.rows:
        e = want[(row.provider or "", row.model or "")]
        t = row.totals
        assert (t.requests, t.cached, t.errors, t.prompt_tokens, t.completion_tokens) == (
            e["requests"],
            e["cached"],
            e["errors"],
            e["prompt"],
            e["completion"],
        )
        assert (t.cost is None) == e["unknown"]
        assert t.cost_usd == pytest.approx(e["cost"])
        assert row.errors_by_code == dict(e["codes"])
        for q in (0.5, 0.95):
            for dist, values in ((row.latency, e["lat"]), (row.ttft, e["ttft"])):
                truth = nearest_rank(values, q)
                if report.exact_percentiles:
                    assert dist.percentile(q) == truth
                else:
                    assert dist.percentile(q) == pytest.approx(truth, rel=0.025)


def test_days_are_local_days_across_the_dst_change(store: Store) -> None:
    report = store.usage_report(date(2025, 11, 1), date(2025, 11, 3), ("day",))
    assert [row.day for row in report.rows] == ["2025-11-01", "2025-11-02", "2025-11-03"]
    records = seeded(3000)
    for row in report.rows:
        day = date.fromisoformat(row.day or "")
        lo = datetime.combine(day, datetime.min.time(), TZ).timestamp()
        hi = datetime.combine(day + timedelta(days=1), datetime.min.time(), TZ).timestamp()
        assert row.totals.requests == sum(1 for r in records if lo <= r.started_at < hi and not r.cached)
    assert report.total.requests == sum(row.totals.requests for row in report.rows)


def test_rebuilding_from_the_ledger_gives_the_same_sums(store: Store, tmp_path: Path) -> None:
    before = store.usage_report(
        date(2025, 10, 1), date(2025, 11, 30), ("provider", "model", "day"), exact_limit=0
    )
    with store._db.locked() as conn:
        conn.execute("DELETE FROM usage_daily")
    assert store.rebuild_usage_if_needed()
    assert not store.rebuild_usage_if_needed()
    after = store.usage_report(
        date(2025, 10, 1), date(2025, 11, 30), ("provider", "model", "day"), exact_limit=0
    )
    assert report_rows(before) == report_rows(after)
    assert store.first_usage_day() == "2025-10-28"


def test_a_ledger_written_before_the_sums_existed_is_summed_at_open(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    Store.open(path, usage_tz=TZ).close()
    conn = sqlite3.connect(path)
    conn.execute(
        "INSERT INTO requests (provider, model, started_at, outcome, latency_ms, prompt_tokens, "
        "completion_tokens) "
        "VALUES ('groq', 'm', ?, 'ok', 100, 5, 6)",
        (START,),
    )
    conn.commit()
    conn.close()
    with Store.open(path, usage_tz=TZ) as store:
        [row] = store.usage_report(date(2025, 10, 28), date(2025, 10, 28)).rows
        assert row.totals.tokens == 11 and row.totals.cost is None  # written before prices existed


def test_csv_export_round_trips(store: Store) -> None:
    report = store.usage_report(date(2025, 10, 28), date(2025, 11, 6), ("provider", "model", "day"))
    rows = report_rows(report)
    text = csv_text(rows)
    back = read_csv(io.StringIO(text))
    columns = set(back[0])
    assert back == [{k: v for k, v in row.items() if k in columns} for row in rows]
    buffer = io.StringIO()
    write_csv(back, buffer)
    assert buffer.getvalue() == text
    with pytest.raises(ValueError, match="Not a usage export"):
        read_csv(io.StringIO("a,b\n1,2\n"))


def test_script_cost_and_helpers(store: Store) -> None:
    store.record_request(
        RequestRecord(
            provider="groq",
            model="m",
            started_at=START,
            outcome="ok",
            prompt_tokens=1,
            completion_tokens=1,
            cost_usd=None,
        )
    )
    assert store.script_cost(12345) == 0.0
    assert latency_bin(0) == 0 and latency_bin(1e12) == 400
    assert Distribution().percentile(0.5) is None and nearest_rank([], 0.5) is None
    rows = store.requests_between(START, START + 3600)
    assert rows and all(START <= r.started_at < START + 3600 for r in rows)

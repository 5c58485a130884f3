from __future__ import annotations

import sqlite3
from dataclasses import replace
from typing import Any

import pytest

from app.store import RequestRecord, Store


def call(provider: str, model: str, started_at: float, **extra: Any) -> RequestRecord:
    return RequestRecord(
        **{"provider": provider, "model": model, "started_at": started_at, "outcome": "ok", **extra}
    )


def test_record_and_list_round_trip(store: Store) -> None:
    script_id = store.create_script("t", None, "groq", "llama-3.3-70b-versatile", None)
    record = RequestRecord(
        provider="groq",
        model="llama-3.3-70b-versatile",
        started_at=1_700_000_000.25,
        finished_at=1_700_000_001.5,
        latency_ms=1250.0,
        time_to_first_token_ms=180.5,
        prompt_tokens=100,
        completion_tokens=300,
        total_tokens=400,
        outcome="ok",
        streamed=True,
        script_id=script_id,
        attempt=2,
    )
    new_id = store.record_request(record)
    second = store.record_request(
        call("ollama", "llama3.2", 1_700_000_002.0, outcome="error", error_code="X")
    )
    listed = store.list_requests()
    assert [r.id for r in listed] == [second, new_id]  # most recent first
    stored = listed[1]
    assert stored == replace(record, id=new_id)
    assert stored.streamed is True and stored.cached is False
    assert listed[0].outcome == "error" and listed[0].error_code == "X" and listed[0].attempt == 1
    assert len(store.list_requests(limit=1)) == 1


def test_outcome_is_checked(store: Store) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        store.record_request(call("groq", "m", 1.0, outcome="maybe"))


def test_request_times_windows(store: Store) -> None:
    for t in (105.0, 100.0, 130.0):
        store.record_request(call("groq", "a", t))
    store.record_request(call("groq", "b", 110.0))
    store.record_request(call("gemini", "a", 120.0))
    store.record_request(call("groq", "a", 125.0, cached=True))  # never reached the provider
    store.record_request(call("groq", "a", 126.0, outcome="error"))  # may have counted; be cautious

    assert store.request_times("groq", "a", since=100.0) == [100.0, 105.0, 126.0, 130.0]
    assert store.request_times("groq", "a", since=101.0) == [105.0, 126.0, 130.0]
    assert store.request_times("groq", None, since=0.0) == [100.0, 105.0, 110.0, 126.0, 130.0]
    assert store.request_times("ollama", None, since=0.0) == []


def test_request_tokens_since(store: Store) -> None:
    store.record_request(call("groq", "a", 10.0, total_tokens=500))
    store.record_request(call("groq", "a", 5.0, total_tokens=200))
    store.record_request(call("groq", "a", 20.0))  # usage unknown
    store.record_request(call("groq", "b", 15.0, total_tokens=50))
    assert store.request_tokens_since("groq", "a", 0.0) == [(5.0, 200), (10.0, 500), (20.0, 0)]
    assert store.request_tokens_since("groq", None, 6.0) == [(10.0, 500), (15.0, 50), (20.0, 0)]


def test_window_queries_use_the_indexes(store: Store) -> None:
    with store._db.locked() as conn:
        for model in (None, "a"):
            sql = "SELECT started_at FROM requests WHERE provider = ? AND started_at >= ? AND cached = 0"
            params: tuple[object, ...] = ("groq", 0.0)
            if model:
                sql = sql.replace("provider = ?", "provider = ? AND model = ?")
                params = ("groq", model, 0.0)
            plan = " ".join(str(row[-1]) for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))
            assert "USING INDEX requests_provider" in plan


def test_deleting_a_script_unlinks_its_requests(store: Store) -> None:
    script_id = store.create_script("t", None, "groq", "m", None)
    store.record_request(call("groq", "m", 1.0, script_id=script_id))
    store.delete_script(script_id)
    assert store.list_requests()[0].script_id is None


def test_prune_requests(store: Store) -> None:
    for t in (1.0, 2.0, 3.0):
        store.record_request(call("groq", "m", t))
    assert store.prune_requests(before=3.0) == 2
    assert store.request_times("groq", None, 0.0) == [3.0]

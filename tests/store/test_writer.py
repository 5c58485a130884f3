"""The background writer: order, batches, a failing write undone alone, reads that wait, nothing lost."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from app.store import RequestRecord, Store, StoreError
from app.store.writer import QueuedWrite


def hold_writer(store: Store) -> threading.Event:
    """Park the writer inside a write until the returned event is set: what is queued behind it waits."""
    release, parked = threading.Event(), threading.Event()

    def park() -> None:
        parked.set()
        release.wait(10)

    store.later(park)
    assert parked.wait(10)
    return release


def test_a_queued_write_returns_at_once_and_lands_in_order(store: Store) -> None:
    release = hold_writer(store)
    created = store.later(lambda: store.create_script("Tides", None, "groq", "m", None))
    finished = store.later(
        lambda: store.finish_script(
            created.applied(), text="Moon.", status="complete", provider="groq", model="m"
        )
    )
    assert not created.done() and not finished.done()  # queued, not written
    release.set()
    script_id = created.result(10)
    assert finished.result(10) is None
    record = store.get_script(script_id)
    assert record is not None and (record.text, record.status) == ("Moon.", "complete")


def test_writes_queued_together_share_one_transaction(store: Store, db_path: Path) -> None:
    release = hold_writer(store)
    jobs = [store.later(lambda i=i: store.create_script(f"t{i}", None, "groq", "m", None)) for i in range(20)]
    statements: list[str] = []
    store._db._conn.set_trace_callback(statements.append)
    release.set()
    ids = [job.result(10) for job in jobs]
    store._db._conn.set_trace_callback(None)
    assert len(set(ids)) == 20
    # The parked write's batch commits, then all twenty queued behind it commit together.
    assert statements.count("COMMIT") == 2
    assert statements.count("BEGIN IMMEDIATE") == 1


def test_a_failing_write_is_undone_alone_and_its_error_is_on_its_future(store: Store) -> None:
    release = hold_writer(store)
    first = store.later(lambda: store.create_script("kept", None, "groq", "m", None))

    def half_then_fail() -> None:
        store.create_script("undone", None, "groq", "m", None)
        raise StoreError("Refused half way.")

    failing = store.later(half_then_fail)
    last = store.later(lambda: store.create_script("kept too", None, "groq", "m", None))
    release.set()
    with pytest.raises(StoreError, match="Refused half way"):
        failing.result(10)
    assert first.result(10) and last.result(10)
    assert sorted(r.topic for r in store.list_scripts()) == ["kept", "kept too"]


def test_a_write_depending_on_a_failed_one_fails_with_its_error(store: Store) -> None:
    release = hold_writer(store)

    def refused() -> int:
        raise StoreError("No script row.")

    created: QueuedWrite[int] = store.later(refused)
    ledger = store.later(
        lambda: store.record_request(
            RequestRecord(
                provider="groq", model="m", started_at=1.0, outcome="ok", script_id=created.applied()
            )
        )
    )
    release.set()
    with pytest.raises(StoreError, match="No script row"):
        ledger.result(10)
    assert store.list_requests() == []


def test_a_read_on_another_thread_waits_for_what_was_queued_before_it(store: Store) -> None:
    release = hold_writer(store)
    store.later(lambda: store.create_script("queued", None, "groq", "m", None))
    seen: list[list[str]] = []
    reader = threading.Thread(target=lambda: seen.append([r.topic for r in store.list_scripts()]))
    reader.start()
    reader.join(0.2)
    assert reader.is_alive() and seen == []  # waiting for the queued write, not reading around it
    release.set()
    reader.join(10)
    assert seen == [["queued"]]


def test_writes_the_database_refuses_fail_on_their_futures_and_the_writer_goes_on(
    store: Store, raw: sqlite3.Connection
) -> None:
    store._db._conn.execute("PRAGMA busy_timeout = 50")
    raw.execute("BEGIN IMMEDIATE")  # another process holds the write lock longer than the busy timeout
    try:
        jobs = [store.later(lambda: store.create_script("t", None, "groq", "m", None)) for _ in range(3)]
        for job in jobs:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                job.result(10)
    finally:
        raw.execute("ROLLBACK")
    assert store.list_scripts() == []
    assert store.later(lambda: store.create_script("later", None, "groq", "m", None)).result(10)


def test_close_writes_what_is_queued_and_refuses_more(db_path: Path) -> None:
    store = Store.open(db_path)
    release = hold_writer(store)
    for i in range(5):
        store.later(lambda i=i: store.create_script(f"t{i}", None, "groq", "m", None))
    threading.Timer(0.1, release.set).start()
    store.close()
    with pytest.raises(RuntimeError, match="closed"):
        store.later(lambda: None)
    with Store.open(db_path) as reopened:
        assert len(reopened.list_scripts()) == 5


def test_queued_writes_are_written_when_the_process_exits_without_closing(db_path: Path) -> None:
    program = textwrap.dedent(
        f"""
        from pathlib import Path
        from app.store import Store
        store = Store.open(Path({str(db_path)!r}))
        for i in range(50):
            store.later(lambda i=i: store.create_script(f"t{{i}}", None, "groq", "m", None))
        """
    )
    subprocess.run([sys.executable, "-c", program], check=True, cwd=Path(__file__).parents[2], timeout=60)
    with Store.open(db_path) as reopened:
        assert len(reopened.list_scripts(limit=100)) == 50


def test_the_writer_reads_its_own_batch_without_waiting_for_itself(store: Store) -> None:
    release = hold_writer(store)
    created = store.later(lambda: store.create_script("inside", None, "groq", "m", None))
    read_back = store.later(lambda: store.get_script(created.applied()))
    release.set()
    record = read_back.result(10)
    assert record is not None and record.topic == "inside"


def test_held_writes_wait_for_the_hold_to_end(store: Store) -> None:
    with store.writes_held():
        created = store.later(lambda: store.create_script("Tides", None, "groq", "m", None))
        assert not created.done()
        threading.Event().wait(0.1)
        assert not created.done()
    assert created.result(10) > 0


def test_a_read_on_another_thread_does_not_wait_for_a_hold(store: Store) -> None:
    with store.writes_held():
        store.later(lambda: store.create_script("held", None, "groq", "m", None))
        seen: list[list[str]] = []
        reader = threading.Thread(target=lambda: seen.append([r.topic for r in store.list_scripts()]))
        reader.start()
        reader.join(10)
        assert seen == [["held"]]  # the reader got the write written, hold or not


def test_a_hold_keeps_its_writes_from_waking_the_writer(store: Store) -> None:
    store.later(lambda: None).result(10)  # the writer is running, idle
    with store.writes_held():
        created = store.later(lambda: store.create_script("Tides", None, "groq", "m", None))
        # Kept aside, not queued: a queued write would wake the writer thread, which would take the
        # interpreter lock from the reply streaming on the event loop.
        assert store._db.writes._queue.empty() and store._db.writes.pending == 1
    assert created.result(10) > 0


def test_released_writes_are_written_while_the_hold_goes_on(store: Store) -> None:
    with store.writes_held():
        created = store.later(lambda: store.create_script("Tides", None, "groq", "m", None))
        store.release_held_writes()  # what the service does when a reply streams for long
        assert created.result(10) > 0
        finished = store.later(
            lambda: store.finish_script(
                created.applied(), text="Moon.", status="complete", provider="groq", model="m"
            )
        )
        threading.Event().wait(0.1)
        assert not finished.done()  # a write after the release is kept again
    finished.result(10)
    record = store.get_script(created.result())
    assert record is not None and record.status == "complete"


def test_closing_writes_what_a_hold_kept(db_path: Path) -> None:
    store = Store.open(db_path)
    with store.writes_held():
        store.later(lambda: store.create_script("kept", None, "groq", "m", None))
        store.close()
    with Store.open(db_path) as reopened:
        assert [r.topic for r in reopened.list_scripts()] == ["kept"]


def test_a_hold_ended_twice_counts_once(store: Store) -> None:
    outer = store.writes_held()
    inner = store.writes_held()
    inner.end()
    inner.end()  # the service ends it on the loop's next turn; a blocking script_id may have already
    created = store.later(lambda: store.create_script("Tides", None, "groq", "m", None))
    threading.Event().wait(0.1)
    assert not created.done()  # the outer hold still keeps it
    outer.end()
    assert created.result(10) > 0

"""WAL + busy_timeout + BEGIN IMMEDIATE: writers on one file wait for each other instead of failing."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from app.store import RequestRecord, Store

ROUNDS = 150


def run_together(workers: list[Callable[[], None]]) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(workers))

    def wrap(work: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                barrier.wait()
                work()
            except BaseException as error:
                errors.append(error)

        return run

    threads = [threading.Thread(target=wrap(work)) for work in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def writer(store: Store, name: str) -> Callable[[], None]:
    def work() -> None:
        for i in range(ROUNDS):
            script_id = store.create_script(f"{name} {i}", None, name, "m", None)
            store.record_request(RequestRecord(provider=name, model="m", started_at=float(i), outcome="ok"))
            store.set_settings({f"{name}.count": i, f"{name}.last": script_id})  # explicit transaction
            store.finish_script(script_id, text="done", status="complete", provider=name, model="m")
            if i % 10 == 0:
                record = store.delete_script(script_id)  # read-then-write transaction
                assert record is not None
                store.restore_script(record)

    return work


def test_two_stores_on_one_file_do_not_lock_each_other_out(db_path: Path) -> None:
    first, second = Store.open(db_path), Store.open(db_path)
    try:
        assert run_together([writer(first, "groq"), writer(second, "gemini")]) == []
        for store, other in ((first, "gemini"), (second, "groq")):
            assert len(store.request_times(other, None, 0.0)) == ROUNDS  # each sees the other's writes
            assert store.get_setting(f"{other}.count") == ROUNDS - 1
        assert len(first.list_scripts(limit=1000)) == 2 * ROUNDS
    finally:
        first.close()
        second.close()


def test_one_store_shared_by_threads(store: Store) -> None:
    assert run_together([writer(store, f"p{n}") for n in range(4)]) == []
    assert len(store.list_requests(limit=10_000)) == 4 * ROUNDS
    assert all(s.status == "complete" for s in store.list_scripts(limit=10_000))

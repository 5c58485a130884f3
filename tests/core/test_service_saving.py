"""A generation's rows are written behind the reply: the caller never waits for SQLite, and loses nothing."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator

import pytest

from app.core import service as service_module
from app.core.providers.base import ProviderChunk, ProviderRequest
from app.core.service import ScriptRequest
from app.store import Store, StoreError
from tests.core.guards.guard_fakes import MESSAGES, FakeGroq, Reply
from tests.support.services import ServiceFactory

PRICES = {"groq/llama-3.3-70b-versatile": {"input_per_mtok": 0.59, "output_per_mtok": 0.79}}


def park_writer(store: Store) -> threading.Event:
    release, parked = threading.Event(), threading.Event()
    store.later(lambda: (parked.set(), release.wait(10)))
    assert parked.wait(10)
    return release


@pytest.fixture
def fake_groq(monkeypatch: pytest.MonkeyPatch) -> None:
    reply = Reply(chunks=["Tides ", "follow ", "the moon."])
    monkeypatch.setattr(
        service_module,
        "create_provider",
        lambda name, settings, **k: FakeGroq([reply] * 3, model=settings.model),
    )


async def test_generate_returns_while_its_rows_are_still_queued_then_they_land(
    make_service: ServiceFactory, fake_groq: None
) -> None:
    service = make_service()
    service.store.set_setting("usage.prices", PRICES)
    service.apply_settings()
    # The first generation reads what it needs (persona, today's usage) once; later ones read nothing.
    await (await service.generate(ScriptRequest("Warm-up", provider="groq", use_cache=False))).wait_saved()
    release = park_writer(service.store)
    outcome = await service.generate(ScriptRequest("Tides", provider="groq", use_cache=False))
    # The reply is complete and its cost known, though nothing of it is in the database yet.
    assert outcome.status == "complete" and outcome.text == "Tides follow the moon."
    assert not outcome.saved.done()
    release.set()
    script_id = await outcome.wait_saved()
    record = service.store.get_script(script_id)
    assert record is not None and (record.status, record.text) == ("complete", outcome.text)
    ledger = service.store.list_requests(limit=1)
    assert [(r.script_id, r.outcome) for r in ledger] == [(script_id, "ok")]
    assert outcome.cost_usd is not None and outcome.cost_usd > 0
    assert outcome.cost_usd == pytest.approx(service.store.script_cost(script_id))


async def test_a_cost_is_unknown_when_a_call_has_no_price(
    make_service: ServiceFactory, fake_groq: None
) -> None:
    service = make_service()
    request = ScriptRequest("Tides", provider="groq", model="a-model-without-a-price", use_cache=False)
    outcome = await service.generate(request)
    script_id = await outcome.wait_saved()
    assert outcome.cost_usd is None and service.store.script_cost(script_id) is None


async def test_a_script_the_database_refuses_is_an_error_on_the_outcome_not_a_crash(
    make_service: ServiceFactory,
    fake_groq: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    service = make_service()

    def refuse(*args: object, **kwargs: object) -> None:
        raise StoreError("The disk is full.")

    monkeypatch.setattr(service.store, "finish_script", refuse)
    outcome = await service.generate(ScriptRequest("Tides", provider="groq", use_cache=False))
    assert outcome.status == "complete" and outcome.text == "Tides follow the moon."  # the text is kept
    with pytest.raises(StoreError, match="disk is full"):
        await outcome.wait_saved()
    assert "could not save the script" in caplog.text


@pytest.mark.parametrize(
    ("refused", "logged"),
    [("record_request", "could not write a call to the ledger"), ("cache", "could not cache the answer")],
)
async def test_a_refused_ledger_row_or_cache_entry_still_leaves_the_script_saved(
    make_service: ServiceFactory,
    fake_groq: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    refused: str,
    logged: str,
) -> None:
    service = make_service()

    def refuse(*args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    if refused == "cache":
        monkeypatch.setattr(service.cache, "save", refuse)
    else:
        monkeypatch.setattr(service.store, refused, refuse)
    outcome = await service.generate(ScriptRequest("Tides", provider="groq", use_cache=False))
    script_id = await outcome.wait_saved()  # one write carries them all, yet only the refused part is lost
    record = service.store.get_script(script_id)
    assert record is not None and (record.status, record.text) == ("complete", "Tides follow the moon.")
    assert logged in caplog.text and "disk is full" in caplog.text


async def test_a_call_made_outside_a_generation_still_gets_its_ledger_row(
    make_service: ServiceFactory, fake_groq: None
) -> None:
    service = make_service()
    # The guarded provider used on its own (no script): its call has no script's write to go with.
    result = await service._guarded("groq").chat(MESSAGES)
    assert result.provider == "groq" and result.text
    service.store._db.writes.flush()
    [row] = service.store.list_requests(limit=5)
    assert (row.provider, row.outcome, row.script_id) == ("groq", "ok", None)


async def test_a_new_request_does_not_wait_for_the_last_ones_rows(
    make_service: ServiceFactory, fake_groq: None
) -> None:
    service = make_service()
    await (await service.generate(ScriptRequest("Warm-up", use_cache=False))).wait_saved()
    release = park_writer(service.store)
    first = await service.generate(ScriptRequest("Tides", use_cache=False))
    second = await service.generate(ScriptRequest("Tides again", use_cache=False))
    assert first.status == second.status == "complete"
    assert not first.saved.done() and not second.saved.done()  # both answered with the writer held
    release.set()
    assert await second.wait_saved() > await first.wait_saved()


async def test_a_new_services_first_request_reads_nothing_behind_the_writer(
    make_service: ServiceFactory, fake_groq: None
) -> None:
    service = make_service()  # today's usage is loaded here, not at the first request's admission
    service.store.default_persona()
    release, parked = threading.Event(), threading.Event()
    held = service.store.later(lambda: (parked.set(), release.wait(10)))
    assert parked.wait(10)
    try:
        outcome = await service.generate(ScriptRequest("Tides", provider="groq", use_cache=False))
        # Had the request read the ledger, it would have waited for the held write to end first.
        assert not held.done()
    finally:
        release.set()
    assert outcome.status == "complete" and outcome.waited_ms < 1.0


async def test_the_rows_wait_for_the_end_of_the_reply(make_service: ServiceFactory, fake_groq: None) -> None:
    service = make_service()
    await (await service.generate(ScriptRequest("Warm-up", provider="groq", use_cache=False))).wait_saved()
    outside = sqlite3.connect(service.store.path)  # reads the file without waiting for the writer
    rows_while_streaming: list[int] = []

    def on_delta(_text: str) -> None:
        threading.Event().wait(0.05)  # time enough for an idle writer to write a row queued now
        rows_while_streaming.append(outside.execute("SELECT count(*) FROM scripts").fetchone()[0])

    outcome = await service.generate(
        ScriptRequest("Tides", provider="groq", use_cache=False), on_delta=on_delta
    )
    assert rows_while_streaming == [1, 1, 1]  # the warm-up's only: nothing is written while the reply streams
    assert service.store._db.writes.pending == 1  # the script, its call, its cache entry: one write
    assert (await outcome.wait_saved()) > 0
    assert outside.execute("SELECT count(*) FROM scripts").fetchone()[0] == 2
    assert (
        outside.execute("SELECT count(*) FROM requests WHERE script_id = ?", (outcome.script_id,)).fetchone()[
            0
        ]
        == 1
    )
    outside.close()


class SlowGroq(FakeGroq):
    """Tokens that arrive over the network: the stream waits between them, as a real one does."""

    async def _stream(self, request: ProviderRequest) -> AsyncIterator[ProviderChunk]:
        async for chunk in super()._stream(request):
            yield chunk
            await asyncio.sleep(0.05)


async def test_a_long_reply_lets_its_rows_go_after_the_hold_limit(
    make_service: ServiceFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    reply = Reply(chunks=["Tides ", "follow ", "the ", "moon."])
    monkeypatch.setattr(
        service_module,
        "create_provider",
        lambda name, settings, **k: SlowGroq([reply] * 2, model=settings.model),
    )
    service = make_service()
    await (await service.generate(ScriptRequest("Warm-up", provider="groq", use_cache=False))).wait_saved()
    monkeypatch.setattr(service_module, "HELD_WRITES_MAX_S", 0.01)
    outside = sqlite3.connect(service.store.path)  # reads the file without waiting for the writer
    seen_while_streaming: list[list[tuple[str, int]]] = []

    def on_delta(_text: str) -> None:
        threading.Event().wait(0.02)  # time enough for an idle writer to write a row queued now
        seen_while_streaming.append(
            outside.execute(
                "SELECT s.status, count(r.id) FROM scripts s LEFT JOIN requests r ON r.script_id = s.id"
                " WHERE s.topic = 'Tides' GROUP BY s.id"
            ).fetchall()
        )

    outcome = await service.generate(
        ScriptRequest("Tides", provider="groq", use_cache=False), on_delta=on_delta
    )
    # Held at first; once the limit passed, the script's row went to the database mid-stream, so a crash
    # from then on still leaves it (marked as still being written).
    assert seen_while_streaming[0] == [] and seen_while_streaming[-1] == [("generating", 0)]
    assert (await outcome.wait_saved()) > 0
    assert outside.execute("SELECT status FROM scripts WHERE topic = 'Tides'").fetchall() == [("complete",)]
    outside.close()


async def test_the_rows_go_to_the_writer_once_the_caller_has_its_outcome(
    make_service: ServiceFactory, fake_groq: None
) -> None:
    service = make_service()
    await (await service.generate(ScriptRequest("Warm-up", provider="groq", use_cache=False))).wait_saved()
    writes = service.store._db.writes
    outcome = await service.generate(ScriptRequest("Tides", provider="groq", use_cache=False))
    # Still kept: waking the writer thread is left to the event loop's next turn, after the caller's code.
    assert outcome.status == "complete" and writes.pending > 0 and writes._queue.empty()
    await asyncio.sleep(0)
    assert not writes._queue.empty() or writes.pending == 0  # handed over (and maybe already written)
    assert (await outcome.wait_saved()) > 0


async def test_a_blocking_script_id_on_the_event_loop_hands_the_rows_over_itself(
    make_service: ServiceFactory, fake_groq: None
) -> None:
    service = make_service()
    another_reply = service.store.writes_held()  # another generation, still streaming, holds the writes
    outcome = await service.generate(ScriptRequest("Tides", provider="groq", use_cache=False))
    stuck: list[bool] = []

    def unblock() -> None:  # had script_id waited for the loop's next turn, it would wait for ever
        stuck.append(True)
        another_reply.end()
        service.store.release_held_writes()

    watchdog = threading.Timer(10, unblock)
    watchdog.start()
    try:
        script_id = outcome.script_id  # blocks the event loop until the rows are saved
    finally:
        watchdog.cancel()
        another_reply.end()
    assert not stuck and script_id > 0

"""A fast stream whose bytes are already buffered must not starve the event loop the window runs on."""

from __future__ import annotations

import asyncio
import time

import pytest

from app.core import service as service_module
from app.core.service import ScriptRequest
from tests.core.guards.guard_fakes import FakeGroq, Reply
from tests.support.services import ServiceFactory


async def test_a_buffered_stream_lets_other_tasks_run_while_it_is_consumed(
    make_service: ServiceFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 5,000 deltas that never suspend on their own, each costing a little CPU, as SDK parsing does.
    deltas = [f"w{i} " for i in range(5000)]
    monkeypatch.setattr(service_module, "create_provider", lambda *a, **k: FakeGroq([Reply(chunks=deltas)]))
    service = make_service()
    ticks = 0
    seen_at: list[int] = []

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    def on_delta(text: str) -> None:
        deadline = time.perf_counter() + 0.00002
        while time.perf_counter() < deadline:  # busy, like parsing a chunk
            pass
        seen_at.append(ticks)

    other = asyncio.create_task(ticker())
    try:
        outcome = await service.generate(
            ScriptRequest("Tides", provider="groq"), on_delta=on_delta, yield_every_s=0.004
        )
    finally:
        other.cancel()
    assert outcome.status == "complete" and outcome.text == "".join(deltas)
    # The other task ran many times between the first and the last delta: the loop was never held for long.
    assert seen_at[-1] - seen_at[0] >= 10

"""The fake clock the limiter tests run on: sleeps resolve only when time is moved."""

from __future__ import annotations

import asyncio

import pytest

from app.core.ratelimit.clock import FakeClock, SystemClock


async def test_sleepers_wake_in_deadline_order_and_see_their_own_deadline() -> None:
    clock = FakeClock(100.0)
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.now()))

    tasks = [asyncio.create_task(sleeper(n, s)) for n, s in (("b", 20), ("a", 10), ("c", 30))]
    await clock.run_until_idle()
    assert clock.pending_sleepers == 3 and clock.next_deadline() == 110
    await clock.run_until(125)
    assert woke == [("a", 110), ("b", 120)]  # each ran at exactly its deadline
    assert clock.now() == 125
    await clock.run_for(5)
    assert woke[-1] == ("c", 130)
    await asyncio.gather(*tasks)
    assert clock.next_deadline() is None


async def test_advance_jumps_and_cancelled_sleepers_are_forgotten() -> None:
    clock = FakeClock(0.0)
    task = asyncio.create_task(clock.sleep(5))
    other = asyncio.create_task(clock.sleep(50))
    await clock.run_until_idle()
    task.cancel()
    await clock.run_until_idle()
    assert clock.pending_sleepers == 1 and clock.next_deadline() == 50
    clock.advance(60)
    await clock.run_until_idle()
    assert other.done()
    clock.advance_to(10)  # never backwards
    assert clock.now() == 60
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)
    await clock.sleep(0)  # a zero sleep just yields


async def test_the_system_clock() -> None:
    clock = SystemClock()
    assert clock.now() > 1_600_000_000
    await clock.sleep(-1)

"""Time is injected: production uses the system clock, tests a fake one that sleeps without waiting."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Epoch seconds."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class FakeClock:
    """A clock that only moves when told to; `sleep` resolves when `advance` passes its deadline.

    `advance`/`advance_to` jump straight to the new time and wake every sleeper that is due (they all see the
    final time). `run_for`/`run_until` step through each sleeper's deadline in turn, letting woken tasks run
    at exactly that moment, which is what a test of "released exactly when ..." needs.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._order), future))
        await future

    @property
    def pending_sleepers(self) -> int:
        return sum(1 for _, _, f in self._sleepers if not f.done())

    def next_deadline(self) -> float | None:
        self._drop_cancelled()
        return self._sleepers[0][0] if self._sleepers else None

    def advance(self, seconds: float) -> None:
        """Move time forward and wake every sleeper whose deadline has passed (they run at the next turn)."""
        if seconds < 0:
            raise ValueError("FakeClock cannot go backwards")
        self._now += seconds
        self._wake_due()

    def advance_to(self, when: float) -> None:
        """Move time to `when` (never backwards) and wake the sleepers that are due."""
        self._now = max(self._now, when)
        self._wake_due()

    async def run_until(self, when: float) -> None:
        """Step through each sleeper deadline up to `when`, running woken tasks at each; stop at `when`."""
        await self.run_until_idle()
        while True:
            deadline = self.next_deadline()
            if deadline is None or deadline > when:
                break
            self.advance_to(deadline)
            await self.run_until_idle()
        self.advance_to(when)
        await self.run_until_idle()

    async def run_for(self, seconds: float) -> None:
        await self.run_until(self._now + seconds)

    async def run_until_idle(self, step_limit: int = 1000) -> None:
        """Let woken tasks run until no task is runnable (a few loop turns, at most `step_limit`)."""
        loop = asyncio.get_running_loop()
        ready = getattr(loop, "_ready", None)  # the loop's run queue; CPython's loops all have it
        quiet_turns = 0
        for _ in range(step_limit):
            await asyncio.sleep(0)
            if ready is None:
                continue
            quiet_turns = quiet_turns + 1 if not ready else 0
            if quiet_turns >= 3:
                return

    def _wake_due(self) -> None:
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)

    def _drop_cancelled(self) -> None:
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)

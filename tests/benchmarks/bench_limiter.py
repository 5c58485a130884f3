"""Limiter benchmarks: admission cost with a free slot, and 10,000 queued waiters.

Run as a script (prints a table):   python tests/benchmarks/bench_limiter.py
or with pytest-benchmark:           pytest tests/benchmarks/bench_limiter.py
(tests/benchmarks is not collected by the default test run.)

1. Admission cost when a slot is free (target <= 20 µs): `try_acquire()` + `commit()`, and the
   `await acquire()` fast path, with and without the RateLimitState listening (what the app runs).
2. 10,000 waiters held back (a provider hold of 2 s on the system clock), then released: in FIFO order, and
   with the process idle while they wait (process CPU time over wall time during the wait).
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.core.ratelimit.clock import FakeClock, SystemClock
from app.core.ratelimit.limiter import SlidingWindowLimiter
from app.core.ratelimit.settings import RateLimitConfig
from app.core.ratelimit.state import RateLimitState

BIG = RateLimitConfig(requests_per_minute=10**9, tokens_per_minute=10**12, requests_per_day=10**9)


def _limiter(*, with_state: bool, clock: Any = None) -> tuple[SlidingWindowLimiter, FakeClock]:
    clock = clock or FakeClock()
    limiter = SlidingWindowLimiter("groq", "llama-3.3-70b-versatile", BIG, clock=clock)
    if with_state:
        RateLimitState(clock).track(limiter)
    return limiter, clock


def admission_sync(n: int, *, with_state: bool) -> float:
    """Seconds per try_acquire() + commit(), the clock moving 1 ms per call (so old entries are pruned)."""
    limiter, clock = _limiter(with_state=with_state)
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(n):
            clock._now += 0.001
            reservation = limiter.try_acquire(100)
            assert reservation is not None
            reservation.commit(120)
        return (time.perf_counter() - start) / n
    finally:
        gc.enable()


def admission_async(n: int, *, with_state: bool) -> float:
    """Seconds per `await acquire()` + commit() on the fast path (a slot is free: no suspension)."""
    limiter, clock = _limiter(with_state=with_state)

    async def run() -> float:
        start = time.perf_counter()
        for _ in range(n):
            clock._now += 0.001
            (await limiter.acquire(100)).commit(120)
        return (time.perf_counter() - start) / n

    gc.disable()
    try:
        return asyncio.run(run())
    finally:
        gc.enable()


def many_waiters(n: int = 10_000, hold: float = 2.0) -> dict[str, float]:
    """n callers queue behind a provider hold on the real clock; CPU while they wait, then the release."""

    async def run() -> dict[str, float]:
        clock = SystemClock()
        limiter = SlidingWindowLimiter("groq", "m", BIG, clock=clock)
        RateLimitState(clock).track(limiter)
        order: list[int] = []

        async def caller(i: int) -> None:
            (await limiter.acquire()).commit()
            order.append(i)

        t0 = time.perf_counter()
        limiter.hold_until(clock.now() + hold, "benchmark hold")
        tasks = [asyncio.create_task(caller(i)) for i in range(n)]
        await asyncio.sleep(0)
        while limiter.waiting < n:
            await asyncio.sleep(0)
        enqueued = time.perf_counter()
        # the wait: everybody is queued; measure how busy the process is until just before the hold ends
        hold_end = limiter.usage().hold_until or clock.now()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(max(0.0, hold_end - clock.now() - 0.1))
        cpu_wait, wall_wait = time.process_time() - cpu0, time.perf_counter() - wall0
        assert not order, "released before the hold ended"
        while not order:
            await asyncio.sleep(0.001)
        released_from = time.perf_counter()
        await asyncio.gather(*tasks)
        done = time.perf_counter()
        assert order == list(range(n)), "waiters were not released in FIFO order"
        return {
            "enqueue_s": enqueued - t0,
            "wait_wall_s": wall_wait,
            "wait_cpu_s": cpu_wait,
            "release_s": done - released_from,
            "release_per_waiter_us": (done - released_from) / n * 1e6,
        }

    return asyncio.run(run())


# --- pytest-benchmark -----------------------------------------------------------------------------------


def test_admission_free_slot(benchmark: Any) -> None:
    limiter, clock = _limiter(with_state=True)

    def admit() -> None:
        clock._now += 0.001
        reservation = limiter.try_acquire(100)
        assert reservation is not None
        reservation.commit(120)

    benchmark(admit)
    assert benchmark.stats.stats.median < 20e-6


def test_ten_thousand_waiters_released_in_order_while_idle() -> None:
    result = many_waiters()
    assert result["wait_cpu_s"] < 0.1 * result["wait_wall_s"]


# --- script -----------------------------------------------------------------------------------------------


def _best(fn: Callable[[], float], repeat: int = 5) -> tuple[float, float]:
    runs = [fn() for _ in range(repeat)]
    return min(runs), statistics.median(runs)


def main() -> None:
    n = 100_000
    print(f"Python {sys.version.split()[0]} on {sys.platform}")
    print()
    print("Admission with a free slot (RPM + TPM + RPD dimensions on), per call:")
    print(f"{'path':48} {'best µs':>9} {'median µs':>10}")
    for label, fn in (
        ("try_acquire()+commit(), no listener", lambda: admission_sync(n, with_state=False)),
        ("try_acquire()+commit(), RateLimitState listening", lambda: admission_sync(n, with_state=True)),
        ("await acquire()+commit(), no listener", lambda: admission_async(n, with_state=False)),
        ("await acquire()+commit(), RateLimitState listening", lambda: admission_async(n, with_state=True)),
    ):
        best, median = _best(fn)
        print(f"{label:48} {best * 1e6:9.2f} {median * 1e6:10.2f}")
    print()
    result = many_waiters()
    print("10,000 waiters behind a 2 s provider hold (system clock):")
    print(f"  enqueue all             {result['enqueue_s'] * 1000:8.1f} ms")
    print(f"  wait: wall              {result['wait_wall_s'] * 1000:8.1f} ms")
    print(f"  wait: process CPU       {result['wait_cpu_s'] * 1000:8.1f} ms  "
          f"({result['wait_cpu_s'] / result['wait_wall_s']:.1%} of wall: idle while waiting)")  # fmt: skip
    print(f"  release all, FIFO       {result['release_s'] * 1000:8.1f} ms  "
          f"({result['release_per_waiter_us']:.1f} µs per waiter)")  # fmt: skip


if __name__ == "__main__":
    main()

"""Properties of the limiter for any sequence of calls, clock moves and cancellations (hypothesis).

1. No 60 s window ever holds more than the limit, and requests keep the minimum spacing.
2. A blocked caller is released exactly when the slot frees (the oldest timestamp in the window expires, or
   the spacing runs out), in FIFO order: every admission time equals the reference
   `max(asked, previous admission, admission[i - limit] + 60, previous admission + spacing)`.
3. A cancelled waiter leaves no slot taken (the reference above ignores it, and still matches).
4. Admission decisions on every dimension match a plain reference model.
5. A limiter seeded from the ledger decides exactly as the one that never restarted.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.ratelimit.clock import FakeClock
from app.core.ratelimit.limiter import DAY_SECONDS, WINDOW_SECONDS, SlidingWindowLimiter
from app.core.ratelimit.settings import RateLimitConfig

START = 1_700_000_000.0

ADVANCES = st.sampled_from([0.0, 0.25, 1.0, 5.0, 7.5, 29.999, 30.0, 45.0, 59.999, 60.0, 61.0, 150.0])

call_ops = st.one_of(
    st.tuples(st.just("call"), st.just(0)),
    st.tuples(st.just("advance"), ADVANCES),
    st.tuples(st.just("cancel"), st.integers(min_value=0, max_value=50)),
)


@dataclass
class Caller:
    asked: float
    task: asyncio.Task[None] | None = None
    admitted: float | None = None
    cancelled: bool = False


async def _run_calls(rpm: int, spacing: float | None, ops: list[tuple[str, float]]) -> list[Caller]:
    clock = FakeClock(START)
    limiter = SlidingWindowLimiter(
        "groq", "m", RateLimitConfig(requests_per_minute=rpm, seconds_per_request=spacing), clock=clock
    )
    callers: list[Caller] = []

    async def call(caller: Caller) -> None:
        reservation = await limiter.acquire()
        assert reservation.admitted_at == clock.now()
        caller.admitted = clock.now()
        reservation.commit()

    for op, value in ops:
        if op == "call":
            caller = Caller(clock.now())
            caller.task = asyncio.create_task(call(caller))
            callers.append(caller)
            await clock.run_until_idle()
        elif op == "advance":
            await clock.run_for(value)
        else:
            pending = [c for c in callers if c.admitted is None and not c.cancelled]
            if pending:
                victim = pending[int(value) % len(pending)]
                victim.cancelled = True
                assert victim.task is not None
                victim.task.cancel()
                await clock.run_until_idle()
    await clock.run_for(WINDOW_SECONDS * (len(callers) + 2) + (spacing or 0) * len(callers))
    assert limiter.waiting == 0
    assert clock.pending_sleepers == 0  # nothing left sleeping: no stray timers
    return callers


@settings(max_examples=150, deadline=None)
@given(
    rpm=st.integers(min_value=1, max_value=4),
    spacing=st.sampled_from([None, 5.0, 17.5, 30.0]),
    ops=st.lists(call_ops, min_size=1, max_size=30),
)
def test_admissions_follow_the_sliding_window_exactly(
    rpm: int, spacing: float | None, ops: list[tuple[str, float]]
) -> None:
    callers = asyncio.run(_run_calls(rpm, spacing, ops))
    admitted = [c for c in callers if c.admitted is not None]
    # a cancelled waiter took no slot; every other caller got one
    assert all(c.cancelled for c in callers if c.admitted is None)
    times = [c.admitted for c in admitted]
    assert all(t is not None for t in times)
    stamps = [float(t) for t in times if t is not None]
    # FIFO: admissions happen in the order callers asked
    assert stamps == sorted(stamps)
    # no 60 s window ever holds more than the limit; spacing is kept
    for i in range(len(stamps) - rpm):
        assert stamps[i + rpm] - stamps[i] >= WINDOW_SECONDS
    if spacing:
        for a, b in itertools.pairwise(stamps):
            assert b - a >= spacing
    # released exactly when the slot frees, never later
    expected: list[float] = []
    for i, caller in enumerate(admitted):
        t = caller.asked
        if expected:
            t = max(t, expected[-1])
            if spacing:
                t = max(t, expected[-1] + spacing)
        if i >= rpm:
            t = max(t, expected[i - rpm] + WINDOW_SECONDS)
        expected.append(t)
    assert stamps == expected


# --- synchronous decisions: every dimension, and seeding ------------------------------------------------


@dataclass
class Reference:
    """The plain model: what the limiter must decide, recomputed from the full history every time."""

    rpm: int
    spacing: float | None
    tpm: int | None
    rpd: int | None
    history: list[tuple[float, int]] = field(default_factory=list)

    def allows(self, now: float, tokens: int) -> bool:
        minute = [(t, n) for t, n in self.history if t + WINDOW_SECONDS > now]
        if len(minute) >= self.rpm:
            return False
        if self.spacing and self.history and now < self.history[-1][0] + self.spacing:
            return False
        if self.tpm is not None and sum(n for _, n in minute) + tokens > self.tpm:
            return False
        day = [t for t, _ in self.history if t + DAY_SECONDS > now]
        return not (self.rpd is not None and len(day) >= self.rpd)

    def earliest(self, now: float, tokens: int) -> float:
        """When a request of `tokens` could go, if nothing else is admitted meanwhile."""
        t = now
        minute = [(s, n) for s, n in self.history if s + WINDOW_SECONDS > now]
        if len(minute) >= self.rpm:
            t = max(t, minute[len(minute) - self.rpm][0] + WINDOW_SECONDS)
        if self.spacing and self.history:
            t = max(t, self.history[-1][0] + self.spacing)
        if self.tpm is not None:
            excess = sum(n for _, n in minute) + tokens - self.tpm
            freed = 0
            for s, n in minute:
                if excess <= 0:
                    break
                freed += n
                if freed >= excess:
                    t = max(t, s + WINDOW_SECONDS)
                    break
        day = [s for s, _ in self.history if s + DAY_SECONDS > now]
        if self.rpd is not None and len(day) >= self.rpd:
            t = max(t, day[len(day) - self.rpd] + DAY_SECONDS)
        return t


sync_ops = st.one_of(
    st.tuples(
        st.just("try"), st.integers(min_value=0, max_value=400), st.integers(min_value=0, max_value=400)
    ),
    st.tuples(st.just("jump"), st.integers(min_value=0, max_value=400), st.just(0)),
    st.tuples(
        st.just("advance"),
        st.sampled_from([0.0, 1.0, 10.0, 30.0, 59.5, 60.0, 3600.0, 6 * 3600.0]),
        st.just(0),
    ),
)


@settings(max_examples=200, deadline=None)
@given(
    rpm=st.integers(min_value=1, max_value=5),
    spacing=st.sampled_from([None, 10.0, 30.0]),
    tpm=st.sampled_from([None, 500, 1000]),
    rpd=st.sampled_from([None, 3, 8]),
    ops=st.lists(sync_ops, max_size=40),
)
def test_try_acquire_matches_the_reference_model(
    rpm: int, spacing: float | None, tpm: int | None, rpd: int | None, ops: list[tuple[str, float, int]]
) -> None:
    clock = FakeClock(START)
    config = RateLimitConfig(
        requests_per_minute=rpm, seconds_per_request=spacing, tokens_per_minute=tpm, requests_per_day=rpd
    )
    limiter = SlidingWindowLimiter("groq", "m", config, clock=clock)
    reference = Reference(rpm, spacing, tpm, rpd)
    for op, value, _actual in ops:
        if op == "advance":
            clock.advance(value)
            continue
        tokens = int(value)
        if tpm is not None and tokens > tpm:
            continue
        # the earliest moment matches the reference exactly...
        free_at = limiter.next_free_at(tokens)
        assert free_at == reference.earliest(clock.now(), tokens)
        if op == "jump" and free_at > clock.now():  # ...and the request goes exactly then, not before
            clock.advance_to(free_at - 1e-6)
            assert limiter.try_acquire(tokens) is None
            clock.advance_to(free_at)
        expected = reference.allows(clock.now(), tokens)
        reservation = limiter.try_acquire(tokens)
        assert (reservation is not None) == expected
        if op == "jump":
            assert reservation is not None
        if reservation is not None:
            reservation.commit(tokens)  # actual = estimate: the token window stays within the limit
            reference.history.append((clock.now(), tokens))
    # no window ever exceeded
    stamps = [t for t, _ in reference.history]
    for i in range(len(stamps) - rpm):
        assert stamps[i + rpm] - stamps[i] >= WINDOW_SECONDS
    if tpm is not None:
        for t, _ in reference.history:
            assert sum(n for s, n in reference.history if t - WINDOW_SECONDS < s <= t) <= tpm


@settings(max_examples=200, deadline=None)
@given(
    rpm=st.integers(min_value=1, max_value=5),
    spacing=st.sampled_from([None, 10.0, 90.0]),
    tpm=st.sampled_from([None, 500]),
    rpd=st.sampled_from([None, 4]),
    timezone=st.sampled_from([None, "America/Los_Angeles"]),
    before=st.lists(sync_ops, max_size=30),
    after=st.lists(sync_ops, max_size=30),
)
def test_seeding_from_the_ledger_decides_as_if_never_restarted(
    rpm: int,
    spacing: float | None,
    tpm: int | None,
    rpd: int | None,
    timezone: str | None,
    before: list[tuple[str, float, int]],
    after: list[tuple[str, float, int]],
) -> None:
    clock = FakeClock(START)
    config = RateLimitConfig(
        requests_per_minute=rpm,
        seconds_per_request=spacing,
        tokens_per_minute=tpm,
        requests_per_day=rpd,
        daily_reset_timezone=timezone,
    )
    original = SlidingWindowLimiter("gemini", "m", config, clock=clock)
    ledger: list[tuple[float, int]] = []  # what the guards write: (started_at, total_tokens)

    def apply(limiters: list[SlidingWindowLimiter], op: str, value: float, actual: int) -> None:
        if op == "advance":
            clock.advance(value)
            return
        tokens = int(value)
        if tpm is not None and tokens > tpm:
            return
        decisions = [limiter.try_acquire(tokens) for limiter in limiters]
        assert len({d is None for d in decisions}) == 1, "the restarted limiter decided differently"
        if decisions[0] is not None:
            for reservation in decisions:
                assert reservation is not None
                reservation.commit(actual)
            ledger.append((clock.now(), actual))

    for op, value, actual in before:
        apply([original], op, value, actual)
    restarted = SlidingWindowLimiter("gemini", "m", config, clock=clock)
    since = restarted.ledger_since()
    restarted.seed([t for t, _ in ledger if t >= since], [(t, n) for t, n in ledger if t >= since])
    for op, value, actual in after:
        apply([original, restarted], op, value, actual)
        for tokens in (0, 250):
            assert original.next_free_at(tokens) == restarted.next_free_at(tokens)
        assert original.usage().dimensions == restarted.usage().dimensions

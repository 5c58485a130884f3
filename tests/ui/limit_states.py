"""Real `RateLimitState`s on a fake clock, in the situations the panel must show (tests and screenshots)."""

from __future__ import annotations

from datetime import datetime, timedelta

from app.core.errors import ErrorCode, LLMProviderError
from app.core.ratelimit.clock import FakeClock
from app.core.ratelimit.limiter import SlidingWindowLimiter, WaitHandle
from app.core.ratelimit.settings import RateLimitConfig
from app.core.ratelimit.snapshot import LimitSource, RateLimitSnapshot, Window, WindowLimit
from app.core.ratelimit.state import CircuitState, CircuitView, RateLimitState

GROQ_MODEL = "llama-3.3-70b-versatile"
GEMINI_MODEL = "gemini-2.5-flash"
# A local morning, so "resets at 09:00" reads the same wherever the tests run.
RETRY_REASON = "after Groq rate limit hit; attempt 2 of 4"  # app.core.guards.guarded's wording
START = datetime(2026, 3, 3, 8, 20, 0).astimezone().timestamp()


def groq_limiter(clock: FakeClock, rpm: int = 2) -> SlidingWindowLimiter:
    return SlidingWindowLimiter(
        "groq", GROQ_MODEL, RateLimitConfig(enabled=True, requests_per_minute=rpm), clock=clock
    )


def groq_at_limit(clock: FakeClock | None = None) -> tuple[RateLimitState, SlidingWindowLimiter, FakeClock]:
    """Groq with 2 RPM, both used (45 s and 30 s ago): the next request is free in 15 s."""
    clock = clock or FakeClock(START)
    state = RateLimitState(clock)
    limiter = groq_limiter(clock)
    state.track(limiter)
    first = limiter.try_acquire()
    assert first is not None
    first.commit()
    clock.advance(15)
    second = limiter.try_acquire()
    assert second is not None
    second.commit()
    clock.advance(30)
    return state, limiter, clock


def groq_reported(clock: FakeClock, *, age: float = 3.0, rpd_left: int = 988) -> RateLimitSnapshot:
    """What Groq's headers said `age` seconds ago: requests/day and tokens/minute."""
    seen = clock.now() - age
    return RateLimitSnapshot(
        provider="groq",
        model=GROQ_MODEL,
        windows=(
            WindowLimit(Window.REQUESTS_PER_DAY, 1000, rpd_left, seen + 179.56, LimitSource.PROVIDER, seen),
            WindowLimit(Window.TOKENS_PER_MINUTE, 12000, 11_200, seen + 4.0, LimitSource.PROVIDER, seen),
        ),
        observed_at=seen,
    )


def start_wait(state: RateLimitState, clock: FakeClock, seconds: float = 37.0) -> WaitHandle:
    """A 429 countdown: the pause before the retry, worded as the retry guard words it."""
    now = clock.now()
    handle = WaitHandle("groq", GROQ_MODEL, "retry", RETRY_REASON, now, now + seconds)
    state.wait_started(handle)
    return handle


def gemini_daily_used(state: RateLimitState, clock: FakeClock) -> float:
    """Gemini reports its free-tier requests per day used up; returns the reset time (09:00 local)."""
    now = datetime.fromtimestamp(clock.now()).astimezone()
    reset = now.replace(hour=9, minute=0, second=0, microsecond=0)
    if reset <= now:
        reset += timedelta(days=1)
    limiter = SlidingWindowLimiter(
        "gemini", GEMINI_MODEL, RateLimitConfig(enabled=True, requests_per_minute=5), clock=clock
    )
    state.track(limiter)
    state.observe_snapshot(
        RateLimitSnapshot(
            provider="gemini",
            model=GEMINI_MODEL,
            windows=(
                WindowLimit(
                    Window.REQUESTS_PER_DAY, 20, 0, reset.timestamp(), LimitSource.PROVIDER, clock.now() - 120
                ),
            ),
            observed_at=clock.now() - 120,
        )
    )
    state.record_error(
        "gemini",
        GEMINI_MODEL,
        LLMProviderError(
            ErrorCode.QUOTA_EXHAUSTED,
            "Gemini's free-tier daily request limit for gemini-2.5-flash is used up; it resets at 09:00.",
            provider="gemini",
        ),
    )
    return reset.timestamp()


def ollama_circuit_open(state: RateLimitState, clock: FakeClock, *, in_seconds: float = 90.0) -> float:
    limiter = SlidingWindowLimiter("ollama", None, RateLimitConfig(enabled=False), clock=clock)
    state.track(limiter)
    probe = clock.now() + in_seconds
    state.set_circuit(
        "ollama",
        CircuitView(
            CircuitState.OPEN,
            next_probe_at=probe,
            consecutive_failures=3,
            reason="Cannot reach Ollama at http://127.0.0.1:11434. Is `ollama serve` running?",
        ),
    )
    return probe


def showcase() -> tuple[RateLimitState, FakeClock, WaitHandle]:
    """Everything at once: Groq at its limit and in a 429 countdown, Gemini's day used up, Ollama down."""
    state, _limiter, clock = groq_at_limit()
    state.observe_snapshot(groq_reported(clock))
    handle = start_wait(state, clock)
    gemini_daily_used(state, clock)
    ollama_circuit_open(state, clock)
    return state, clock, handle

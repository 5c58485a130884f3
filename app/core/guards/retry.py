"""When a failed call is tried again, and after how long (tenacity, on the injected clock).

- RATE_LIMIT_EXCEEDED (a per-minute 429): wait the retry-after the provider gave (or a backoff when it gave
  none) and retry, within `max_attempts` and the total wait budget. A wait longer than the budget left is not
  waited: the guard raises QUOTA_EXHAUSTED naming the reset time instead.
- NETWORK_ERROR, PROVIDER_UNAVAILABLE (500/502/503/504), timeouts: exponential backoff with jitter (or the
  retry-after when the provider sent one), same bounds.
- Never retried: QUOTA_EXHAUSTED (per day / never fits), AUTHENTICATION_FAILED, INVALID_REQUEST,
  MODEL_NOT_FOUND, INVALID_RESPONSE, an open circuit, a cancelled wait.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from tenacity import AsyncRetrying, RetryCallState

from app.core.errors import ErrorCode, LLMProviderError
from app.core.guards.breaker import CircuitOpenError
from app.core.ratelimit.settings import RetryConfig

RETRYABLE_CODES = frozenset(
    {ErrorCode.RATE_LIMIT_EXCEEDED, ErrorCode.NETWORK_ERROR, ErrorCode.PROVIDER_UNAVAILABLE}
)


@dataclass(frozen=True, slots=True)
class GiveUp:
    """Why the retrying stopped: the last error, and whether the attempts or the wait budget ran out."""

    error: BaseException
    reason: Literal["attempts", "budget"]
    attempts: int
    waited: float  # seconds already spent pausing between attempts
    next_wait: float  # the pause the next attempt would have needed


def hinted_delay(error: BaseException) -> float | None:
    """The wait the provider asked for (retry-after, RetryInfo, "try again in"), if any."""
    if not isinstance(error, LLMProviderError):
        return None
    if error.retry_after is not None and error.retry_after >= 0:
        return float(error.retry_after)
    snapshot = error.snapshot
    if snapshot is not None and snapshot.retry_after is not None and snapshot.retry_after >= 0:
        return float(snapshot.retry_after)
    return None


class RetryPolicy:
    def __init__(self, config: RetryConfig | None = None, *, rng: random.Random | None = None) -> None:
        self.config = config or RetryConfig()
        self._rng = rng or random.Random()

    def configure(self, config: RetryConfig) -> None:
        self.config = config

    def is_retryable(self, error: BaseException) -> bool:
        if isinstance(error, CircuitOpenError):
            return False
        if isinstance(error, LLMProviderError):
            return error.code in RETRYABLE_CODES
        return isinstance(error, TimeoutError)

    def backoff(self, attempt_number: int) -> float:
        """Exponential backoff with jitter for the pause after attempt `attempt_number` (1-based)."""
        config = self.config
        base = min(config.max_delay, config.base_delay * 2 ** max(0, attempt_number - 1))
        return base + self._rng.uniform(0, config.jitter) if config.jitter > 0 else base

    def delay_for(self, error: BaseException, attempt_number: int) -> float:
        hinted = hinted_delay(error)
        return hinted if hinted is not None else self.backoff(attempt_number)

    def retrying(
        self,
        *,
        sleep: Callable[[float], Awaitable[None]],
        on_give_up: Callable[[GiveUp], Any],
    ) -> AsyncRetrying:
        """A tenacity AsyncRetrying for one call. `on_give_up` must raise the error the call ends with."""
        config = self.config

        def failure(state: RetryCallState) -> BaseException | None:
            outcome = state.outcome
            return outcome.exception() if outcome is not None and outcome.failed else None

        def retry(state: RetryCallState) -> bool:
            error = failure(state)
            return error is not None and self.is_retryable(error)

        def wait(state: RetryCallState) -> float:
            error = failure(state)
            return self.delay_for(error, state.attempt_number) if error is not None else 0.0

        def stop(state: RetryCallState) -> bool:
            return state.attempt_number >= config.max_attempts or (
                state.idle_for + state.upcoming_sleep > config.budget_seconds
            )

        def give_up(state: RetryCallState) -> Any:
            error = failure(state)
            assert error is not None  # tenacity only stops after a failed attempt that it would retry
            reason: Literal["attempts", "budget"] = (
                "budget" if state.idle_for + state.upcoming_sleep > config.budget_seconds else "attempts"
            )
            return on_give_up(
                GiveUp(error, reason, state.attempt_number, state.idle_for, state.upcoming_sleep)
            )

        return AsyncRetrying(sleep=sleep, stop=stop, wait=wait, retry=retry, retry_error_callback=give_up)

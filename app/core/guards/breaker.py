"""A circuit breaker per provider: stop sending to a provider that keeps failing, and test it again later.

closed --(K consecutive transient failures, or at once when the connection is refused)--> open
open --(cooldown passed; the next call is the single probe)--> half-open
half-open --(probe succeeds)--> closed;  half-open --(probe fails)--> open (a new cooldown)

While open, `before_call()` raises CircuitOpenError (PROVIDER_UNAVAILABLE) naming the time of the next
probe, and nothing touches the network. Only transient failures count (NETWORK_ERROR, PROVIDER_UNAVAILABLE,
timeouts): a provider that answers, even with a 401 or a 429, is up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import tzinfo

from app.core.errors import ErrorCode, LLMProviderError, describe_wait
from app.core.ratelimit.clock import Clock, SystemClock
from app.core.ratelimit.limiter import format_clock_time, provider_label
from app.core.ratelimit.settings import BreakerConfig
from app.core.ratelimit.state import CircuitState, CircuitView

logger = logging.getLogger(__name__)

_REFUSED_WORDS = ("connection refused", "failed to connect", "connect call failed", "actively refused")


class CircuitOpenError(LLMProviderError):
    """The provider's circuit is open: the call failed fast, without touching the network."""

    def __init__(self, message: str, *, provider: str, next_probe_at: float | None, now: float) -> None:
        super().__init__(
            ErrorCode.PROVIDER_UNAVAILABLE,
            message,
            provider=provider,
            retry_after=max(0.0, next_probe_at - now) if next_probe_at is not None else None,
        )
        self.next_probe_at = next_probe_at


def is_outage(error: BaseException) -> bool:
    """Does this failure say the provider is down or unreachable (as opposed to answering with a refusal)?"""
    if isinstance(error, CircuitOpenError):
        return False
    if isinstance(error, LLMProviderError):
        return error.code in (ErrorCode.NETWORK_ERROR, ErrorCode.PROVIDER_UNAVAILABLE)
    return isinstance(error, TimeoutError)


def is_connection_refused(error: BaseException) -> bool:
    """Was nothing listening (connection refused / could not connect)? Looks through the exception chain."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError) or type(current) is ConnectionError:
            return True
        if type(current).__name__ == "ConnectError":  # httpx / httpx2: the TCP connection could not be made
            return True
        parts = (getattr(current, "detail", None), getattr(current, "message", None), current)
        text = " ".join(str(part) for part in parts if part).lower()
        if any(word in text for word in _REFUSED_WORDS):
            return True
        current = current.__cause__ or current.__context__
    return False


class CircuitBreaker:
    def __init__(
        self,
        provider: str,
        config: BreakerConfig | None = None,
        *,
        clock: Clock | None = None,
        local_tz: tzinfo | None = None,
        listener: Callable[[CircuitBreaker], None] | None = None,
    ) -> None:
        self.provider = provider
        self.config = config or BreakerConfig()
        self.clock: Clock = clock or SystemClock()
        self._local_tz = local_tz
        self._listener = listener
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._next_probe_at: float | None = None
        self._probing = False
        self._reason: str | None = None

    @property
    def state(self) -> CircuitState:
        return self._state

    @property
    def next_probe_at(self) -> float | None:
        return self._next_probe_at

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def view(self) -> CircuitView:
        return CircuitView(self._state, self._next_probe_at, self._failures, self._reason)

    def configure(self, config: BreakerConfig) -> None:
        self.config = config

    def blocked(self) -> CircuitOpenError | None:
        """The error `before_call()` would raise now, without taking the probe; None if a call may go."""
        now = self.clock.now()
        if self._state is CircuitState.OPEN and self._next_probe_at is not None and now < self._next_probe_at:
            return self._open_error(now)
        if self._state is CircuitState.HALF_OPEN and self._probing:
            return self._probe_busy_error(now)
        return None

    def before_call(self) -> bool:
        """Let a call through or raise CircuitOpenError. True when this call is the half-open probe."""
        if self._state is CircuitState.CLOSED:
            return False
        error = self.blocked()
        if error is not None:
            raise error
        self._probing = True
        if self._state is CircuitState.OPEN:
            self._state = CircuitState.HALF_OPEN
            logger.info("[CircuitBreaker] %s half-open: sending one test request", self.provider)
            self._changed()
        return True

    def record_success(self) -> None:
        self._failures = 0
        self._probing = False
        if self._state is not CircuitState.CLOSED:
            self._state = CircuitState.CLOSED
            self._next_probe_at = None
            self._reason = None
            logger.info("[CircuitBreaker] %s closed: the provider answered again", self.provider)
            self._changed()

    def record_failure(self, error: BaseException) -> None:
        """Count a failed call. Failures that are not outages (the provider answered) count as success."""
        if not is_outage(error):
            self.record_success()
            return
        self._failures += 1
        refused = is_connection_refused(error)
        if self._state is CircuitState.HALF_OPEN:
            self._open("the test request failed too")
        elif self._state is CircuitState.CLOSED:
            if refused:
                self._open("the connection was refused")
            elif self._failures >= self.config.failure_threshold:
                self._open(f"{self._failures} failures in a row")

    def release_probe(self) -> None:
        """The probe never reached the provider (cancelled, or stopped by the limiter): others may probe."""
        if self._probing:
            self._probing = False
            self._changed()

    def reset(self) -> None:
        self._failures = 0
        self._probing = False
        if self._state is not CircuitState.CLOSED:
            self._state = CircuitState.CLOSED
            self._next_probe_at = None
            self._reason = None
            self._changed()

    def _open(self, reason: str) -> None:
        now = self.clock.now()
        self._state = CircuitState.OPEN
        self._probing = False
        self._reason = reason
        self._next_probe_at = now + self.config.cooldown_seconds
        logger.warning(
            "[CircuitBreaker] %s opened (%s); next probe in %.1fs",
            self.provider,
            reason,
            self.config.cooldown_seconds,
        )
        self._changed()

    def _open_error(self, now: float) -> CircuitOpenError:
        label = provider_label(self.provider)
        probe_at = self._next_probe_at if self._next_probe_at is not None else now
        when = format_clock_time(probe_at, now, self._local_tz, seconds=True)
        message = (
            f"{label} is unavailable ({self._reason}), so the app has paused requests to it; it will try "
            f"again {when} (in {describe_wait(probe_at - now, 'words')}). Switch provider or wait."
        )
        return CircuitOpenError(message, provider=self.provider, next_probe_at=probe_at, now=now)

    def _probe_busy_error(self, now: float) -> CircuitOpenError:
        label = provider_label(self.provider)
        message = f"A test request to {label} is in progress after it was unavailable; try again in a moment."
        return CircuitOpenError(message, provider=self.provider, next_probe_at=None, now=now)

    def _changed(self) -> None:
        if self._listener is not None:
            try:
                self._listener(self)
            except Exception:
                logger.exception("[CircuitBreaker] listener failed")

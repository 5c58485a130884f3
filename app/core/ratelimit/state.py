"""What the rate-limit panel and the CLI show: one observable object, no Qt.

`RateLimitState` holds, per provider (and per model where the provider counts per model): the local limiter's
window, the latest limits the provider reported (headers and 429 bodies merged, each with source and time),
the waits in progress (each cancellable), the circuit breaker and the last error. `subscribe(callback)` calls
`callback(key)` on every change, where key is (provider, model) or (provider, None) for a provider-wide change
(the circuit). `snapshot()` returns immutable `ProviderLimitView` rows ready to render. Time passing changes
countdowns without any event: a view re-renders them from `snapshot()` on its own timer.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import tzinfo
from enum import StrEnum
from typing import Any

from app.core.catalogue import CATALOGUE
from app.core.errors import LLMProviderError, describe_wait
from app.core.ratelimit.clock import Clock, SystemClock
from app.core.ratelimit.limiter import (
    WINDOW_SECONDS,
    DimensionUsage,
    LimiterEvent,
    LimiterEventKind,
    LimitKey,
    SlidingWindowLimiter,
    WaitHandle,
    WaitKind,
    format_clock_time,
    limit_key,
    provider_label,
)
from app.core.ratelimit.snapshot import RateLimitSnapshot, Window, WindowLimit

logger = logging.getLogger(__name__)

Subscriber = Callable[[LimitKey], None]


class CircuitState(StrEnum):
    CLOSED = "closed"  # calls flow
    OPEN = "open"  # calls fail fast until the next probe
    HALF_OPEN = "half_open"  # one probe call decides


@dataclass(frozen=True, slots=True)
class CircuitView:
    state: CircuitState = CircuitState.CLOSED
    next_probe_at: float | None = None
    consecutive_failures: int = 0
    reason: str | None = None  # why it opened

    @property
    def is_open(self) -> bool:
        return self.state is not CircuitState.CLOSED


@dataclass(frozen=True, slots=True)
class ErrorView:
    code: str
    message: str
    at: float


@dataclass(frozen=True, slots=True)
class ActiveWaitView:
    provider: str
    model: str | None
    kind: WaitKind  # "rate_limit" (waiting for a slot) or "retry" (pausing before another attempt)
    reason: str
    started_at: float
    until: float
    remaining_seconds: float
    handle: WaitHandle

    def cancel(self) -> None:
        """Cancel this wait: the call it belongs to fails with WaitCancelled and sends nothing more."""
        self.handle.cancel()

    @property
    def text(self) -> str:
        what = "Retrying" if self.kind == "retry" else "Waiting for a free slot"
        return f"{what} in {describe_wait(self.remaining_seconds, 'words')} ({self.reason})"


@dataclass(frozen=True, slots=True)
class ProviderLimitView:
    provider: str
    model: str | None
    label: str
    enabled: bool  # local limiting on?
    rpm_used: int
    rpm_limit: int | None
    dimensions: tuple[DimensionUsage, ...]  # local limiter: used/limit per window
    next_free_at: float | None  # None: a request could go now
    hold_until: float | None  # a pause the provider imposed
    hold_reason: str | None
    reported: tuple[WindowLimit, ...]  # what the provider said, merged; each with source and observed_at
    violations: tuple[Any, ...]  # the latest 429's quota violations, as the wire parser reports them
    active_waits: tuple[ActiveWaitView, ...]
    circuit: CircuitView
    last_error: ErrorView | None
    headline: str  # "Groq: 2 requests used in last 60s (limit: 2 RPM)"
    next_available_text: str  # "Next request available in: 15 seconds"
    observed_at: float

    @property
    def key(self) -> LimitKey:
        return (self.provider, self.model)

    @property
    def active_wait(self) -> ActiveWaitView | None:
        """The wait that ends last (the one the user is most likely to cancel), if any."""
        return max(self.active_waits, key=lambda w: w.until) if self.active_waits else None

    def reported_window(self, window: Window) -> WindowLimit | None:
        return next((w for w in self.reported if w.window is window), None)

    def dimension(self, window: Window) -> DimensionUsage | None:
        return next((d for d in self.dimensions if d.window is window), None)


class _Row:
    __slots__ = ("last_error", "limiter", "violations", "waits", "windows")

    def __init__(self) -> None:
        self.limiter: SlidingWindowLimiter | None = None
        self.windows: dict[Window, WindowLimit] = {}
        self.violations: tuple[Any, ...] = ()
        self.waits: list[WaitHandle] = []
        self.last_error: ErrorView | None = None


class RateLimitState:
    def __init__(self, clock: Clock | None = None, *, local_tz: tzinfo | None = None) -> None:
        self.clock: Clock = clock or SystemClock()
        self._local_tz = local_tz
        self._rows: dict[LimitKey, _Row] = {}
        self._circuits: dict[str, CircuitView] = {}
        self._subscribers: list[Subscriber] = []

    # --- subscribing ----------------------------------------------------------------------------------

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call `callback(key)` on every change; returns the function that unsubscribes."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def _notify(self, key: LimitKey) -> None:
        for callback in tuple(self._subscribers):
            try:
                callback(key)
            except Exception:
                logger.exception("[RateLimitState] a subscriber failed")

    def _row(self, key: LimitKey) -> _Row:
        row = self._rows.get(key)
        if row is None:
            row = self._rows[key] = _Row()
        return row

    # --- feeding ----------------------------------------------------------------------------------------

    def track(self, limiter: SlidingWindowLimiter) -> None:
        """Show this limiter's window in its row and follow its events."""
        self._row(limiter.key).limiter = limiter
        limiter.add_listener(self.on_limiter_event)
        self._notify(limiter.key)

    def retain(self, providers: Collection[str]) -> None:
        """Drop the rows of every provider not in `providers` (a named instance the user removed)."""
        for key in [k for k in self._rows if k[0] not in providers]:
            del self._rows[key]
            self._circuits.pop(key[0], None)
            self._notify(key)

    def on_limiter_event(self, event: LimiterEvent) -> None:
        """A limiter listener (see `RateLimiterRegistry.add_listener`)."""
        key = event.limiter.key
        row = self._row(key)
        row.limiter = event.limiter
        if event.handle is not None:
            if event.kind is LimiterEventKind.WAIT_STARTED:
                row.waits.append(event.handle)
            elif event.kind is LimiterEventKind.WAIT_ENDED and event.handle in row.waits:
                row.waits.remove(event.handle)
        self._notify(key)

    def wait_started(self, handle: WaitHandle) -> None:
        """A wait outside the limiter (a pause before a retry) began."""
        key = limit_key(handle.provider, handle.model)
        self._row(key).waits.append(handle)
        self._notify(key)

    def wait_ended(self, handle: WaitHandle) -> None:
        key = limit_key(handle.provider, handle.model)
        row = self._row(key)
        if handle in row.waits:
            row.waits.remove(handle)
        self._notify(key)

    def observe_snapshot(self, snapshot: RateLimitSnapshot | None) -> None:
        """Merge what the provider reported: a newer observation of a window replaces the older one."""
        if snapshot is None:
            return
        key = limit_key(snapshot.provider, snapshot.model)
        row = self._row(key)
        for limit in snapshot.windows:
            known = row.windows.get(limit.window)
            if known is None or limit.observed_at >= known.observed_at:
                row.windows[limit.window] = limit
        violations = tuple(getattr(snapshot, "violations", ()) or ())
        if violations:
            row.violations = violations
        self._log_snapshot(snapshot)
        self._notify(key)

    def set_circuit(self, provider: str, view: CircuitView) -> None:
        self._circuits[provider] = view
        self._notify((provider, None))

    def record_error(self, provider: str, model: str | None, error: BaseException) -> None:
        key = limit_key(provider, model)
        if isinstance(error, LLMProviderError):
            view = ErrorView(error.code.value, error.message, self.clock.now())
        else:
            view = ErrorView(type(error).__name__, str(error), self.clock.now())
        self._row(key).last_error = view
        self._notify(key)

    def clear_error(self, provider: str, model: str | None) -> None:
        row = self._rows.get(limit_key(provider, model))
        if row is not None and row.last_error is not None:
            row.last_error = None
            self._notify(limit_key(provider, model))

    # --- reading ---------------------------------------------------------------------------------------

    def keys(self) -> list[LimitKey]:
        order = {name: index for index, name in enumerate(CATALOGUE)}
        return sorted(self._rows, key=lambda k: (order.get(k[0], len(order)), k[0], k[1] or ""))

    def circuit(self, provider: str) -> CircuitView:
        return self._circuits.get(provider, CircuitView())

    def snapshot(self, now: float | None = None) -> tuple[ProviderLimitView, ...]:
        now = self.clock.now() if now is None else now
        return tuple(self._view(key, now) for key in self.keys())

    def view(self, provider: str, model: str | None = None, now: float | None = None) -> ProviderLimitView:
        now = self.clock.now() if now is None else now
        return self._view(limit_key(provider, model), now)

    def _view(self, key: LimitKey, now: float) -> ProviderLimitView:
        provider, model = key
        row = self._rows.get(key) or _Row()
        label = provider_label(provider)
        limiter = row.limiter
        if limiter is not None:
            usage = limiter.usage(now)
            enabled = usage.enabled
            dimensions = usage.dimensions
            rpm = usage.get(Window.REQUESTS_PER_MINUTE)
            rpm_used, rpm_limit = (rpm.used, rpm.limit) if rpm is not None else (0, None)
            next_free: float | None = usage.next_free_at if usage.next_free_at > now else None
            hold_until, hold_reason = usage.hold_until, usage.hold_reason
        else:
            enabled, dimensions, rpm_used, rpm_limit = False, (), 0, None
            next_free, hold_until, hold_reason = None, None, None
        waits = tuple(
            ActiveWaitView(
                provider=h.provider,
                model=h.model,
                kind=h.kind,
                reason=h.reason,
                started_at=h.started_at,
                until=h.until,
                remaining_seconds=h.remaining(now),
                handle=h,
            )
            for h in row.waits
            if not h.cancelled
        )
        return ProviderLimitView(
            provider=provider,
            model=model,
            label=label,
            enabled=enabled,
            rpm_used=rpm_used,
            rpm_limit=rpm_limit,
            dimensions=dimensions,
            next_free_at=next_free,
            hold_until=hold_until,
            hold_reason=hold_reason,
            reported=tuple(sorted(row.windows.values(), key=lambda w: list(Window).index(w.window))),
            violations=row.violations,
            active_waits=waits,
            circuit=self.circuit(provider),
            last_error=row.last_error,
            headline=headline(label, rpm_used, rpm_limit),
            next_available_text=next_available_text(next_free, now, self._local_tz),
            observed_at=now,
        )

    def _log_snapshot(self, snapshot: RateLimitSnapshot) -> None:
        label = provider_label(snapshot.provider)
        for limit in snapshot.windows:
            if limit.remaining is None or limit.limit is None:
                continue
            unit = (
                "requests"
                if limit.window in (Window.REQUESTS_PER_MINUTE, Window.REQUESTS_PER_DAY)
                else "tokens"
            )
            logger.info(
                "[%sProvider] Rate limit: %d/%d %s remaining", label, limit.remaining, limit.limit, unit
            )


def headline(label: str, used: int, limit: int | None) -> str:
    """The one-line summary: "Groq: 2 requests used in last 60s (limit: 2 RPM)"."""
    noun = "request" if used == 1 else "requests"
    window = f"{WINDOW_SECONDS:g}s"
    if limit is None:
        return f"{label}: {used} {noun} in last {window} (no local limit)"
    return f"{label}: {used} {noun} used in last {window} (limit: {limit} RPM)"


def next_available_text(next_free_at: float | None, now: float, tz: tzinfo | None = None) -> str:
    """The countdown: "Next request available in: 15 seconds", "...: now", or a clock time for long waits."""
    if next_free_at is None or next_free_at <= now:
        return "Next request available: now"
    if math.isinf(next_free_at):
        return "Next request available: not until the limit is raised"
    wait = next_free_at - now
    if wait < 3600:
        return f"Next request available in: {describe_wait(wait, 'words')}"
    return f"Next request available {format_clock_time(next_free_at, now, tz)}"

"""The sliding-window limiter: one per provider, or per provider and model where the provider counts per
model.

Dimensions: requests per minute (always, when enabled), an optional minimum spacing between requests,
tokens per minute (reserved from an estimate before the call, corrected from the real usage after it) and
requests per day (a rolling 24 h, or calendar days in the catalogue's `daily_reset_timezone`). On top of
them, a "hold" that the provider imposes (a 429's retry-after, a snapshot saying nothing is left until T)
keeps every caller back until T.

Callers that cannot go at once queue in FIFO order. Only the head of the queue sleeps, on the injected clock,
until the moment the window frees (the seed's rule: `wait = oldest + 60 - now`); the others await a future, so
nothing polls. A waiter that is cancelled (its task, or `WaitHandle.cancel()` from the panel) leaves the queue
and takes no slot.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

from app.core.catalogue import CATALOGUE, catalogue_entry
from app.core.deferred import DeferredWork
from app.core.errors import ErrorCode, LLMProviderError, describe_wait
from app.core.logs import log_soon
from app.core.ratelimit.clock import Clock, SystemClock
from app.core.ratelimit.settings import RateLimitConfig
from app.core.ratelimit.snapshot import LimitSource, RateLimitSnapshot, Window

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60.0
DAY_SECONDS = 86_400.0
_DAY_HORIZON = 25 * 3600.0  # how far back the ledger is read: a calendar day is at most 25 h long
_SAME_MOMENT = 0.001  # holds this close together are the same hold

LimitKey = tuple[str, str | None]  # (provider, model) or (provider, None) where limits are per provider
WaitKind = Literal["rate_limit", "retry"]


# --- words ------------------------------------------------------------------------------------------------

_WINDOW_PHRASES = {
    Window.REQUESTS_PER_MINUTE: "per-minute request limit",
    Window.REQUESTS_PER_DAY: "daily request limit",
    Window.TOKENS_PER_MINUTE: "per-minute token limit",
    Window.TOKENS_PER_DAY: "daily token limit",
}


def provider_label(provider: str) -> str:
    entry = CATALOGUE.get(provider)
    return entry.label if entry is not None else provider.capitalize()


def window_phrase(window: Window) -> str:
    """The phrase for a window: "daily request limit" for RPD, and so on."""
    return _WINDOW_PHRASES[window]


def _local(ts: float, tz: tzinfo | None) -> datetime:
    return datetime.fromtimestamp(ts, tz) if tz is not None else datetime.fromtimestamp(ts).astimezone()


def format_clock_time(ts: float, now: float, tz: tzinfo | None = None, *, seconds: bool = False) -> str:
    """When `ts` is, seen from `now`: "at 09:00", "tomorrow at 09:00" or "on Tue 3 Mar at 09:00"."""
    target = _local(ts, tz)
    today = _local(now, tz).date()
    clock_text = target.strftime("%H:%M:%S" if seconds else "%H:%M")
    if target.date() == today:
        return f"at {clock_text}"
    if target.date() == today + timedelta(days=1):
        return f"tomorrow at {clock_text}"
    return f"on {target:%a} {target.day} {target:%b} at {clock_text}"


def quota_sentence(
    provider: str, window: Window | None, reset_at: float, now: float, tz: tzinfo | None = None
) -> str:
    """The sentence for a used-up quota: "Groq's daily request limit is used up; it resets at 09:00."."""
    precise = reset_at - now < 3600 and not (window is not None and window.is_daily)
    when = format_clock_time(reset_at, now, tz, seconds=precise)
    what = window_phrase(window) if window is not None else "quota"
    return f"{provider_label(provider)}'s {what} is used up; it resets {when}."


# --- errors ---------------------------------------------------------------------------------------------


class WaitCancelled(Exception):
    """Someone cancelled a wait (for a rate-limit slot, or a pause before a retry); nothing was sent."""

    outcome = "cancelled"

    def __init__(self, provider: str, model: str | None, reason: str) -> None:
        self.provider = provider
        self.model = model
        self.reason = reason
        self.message = f"Cancelled while waiting for {provider_label(provider)} ({reason}); nothing was sent."
        super().__init__(self.message)


class LimitWaitTooLong(LLMProviderError):
    """No slot frees within the caller's longest acceptable wait: fail now (QUOTA_EXHAUSTED), send nothing."""

    def __init__(
        self, message: str, *, provider: str, free_at: float, now: float, window: Window | None
    ) -> None:
        super().__init__(
            ErrorCode.QUOTA_EXHAUSTED,
            message,
            provider=provider,
            retry_after=max(0.0, free_at - now),
            reset_at=datetime.fromtimestamp(free_at).astimezone(),
            window=window,
        )
        self.free_at = free_at


# --- waits, usage, events -------------------------------------------------------------------------------


class WaitHandle:
    """One caller's wait, as the panel shows it. `cancel()` ends it; the call then raises WaitCancelled."""

    __slots__ = ("_cancelled", "_on_cancel", "kind", "model", "provider", "reason", "started_at", "until")

    def __init__(
        self,
        provider: str,
        model: str | None,
        kind: WaitKind,
        reason: str,
        started_at: float,
        until: float,
    ) -> None:
        self.provider = provider
        self.model = model
        self.kind = kind
        self.reason = reason
        self.started_at = started_at
        self.until = until
        self._cancelled = False
        self._on_cancel: Callable[[], None] | None = None

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def cancel(self) -> None:
        if self._cancelled:
            return
        self._cancelled = True
        if self._on_cancel is not None:
            self._on_cancel()

    def remaining(self, now: float) -> float:
        return max(0.0, self.until - now)

    def __repr__(self) -> str:
        return f"WaitHandle({self.provider}/{self.model}, {self.kind}, until={self.until}, {self.reason!r})"


async def cancellable_sleep(clock: Clock, handle: WaitHandle, seconds: float) -> None:
    """Sleep on `clock`, unless `handle.cancel()` comes first (then raise WaitCancelled)."""
    if handle.cancelled:
        raise WaitCancelled(handle.provider, handle.model, handle.reason)
    loop = asyncio.get_running_loop()
    cancelled: asyncio.Future[None] = loop.create_future()

    def on_cancel() -> None:
        if not cancelled.done():
            cancelled.set_result(None)

    handle._on_cancel = on_cancel
    sleeper = asyncio.ensure_future(clock.sleep(seconds))
    try:
        await asyncio.wait((sleeper, cancelled), return_when=asyncio.FIRST_COMPLETED)
    finally:
        handle._on_cancel = None
        if not sleeper.done():
            sleeper.cancel()
    if handle.cancelled:
        raise WaitCancelled(handle.provider, handle.model, handle.reason)


@dataclass(frozen=True, slots=True)
class DimensionUsage:
    window: Window
    used: int
    limit: int | None  # None: counted but not enforced
    frees_at: float | None  # when the oldest counted request (or token) leaves the window

    @property
    def full(self) -> bool:
        return self.limit is not None and self.used >= self.limit


@dataclass(frozen=True, slots=True)
class LimiterUsage:
    provider: str
    model: str | None
    enabled: bool
    dimensions: tuple[DimensionUsage, ...]
    next_free_at: float
    hold_until: float | None  # a pause the provider imposed, while it lasts
    hold_reason: str | None
    waiting: int  # callers queued
    observed_at: float
    seconds_per_request: float | None = None

    def get(self, window: Window) -> DimensionUsage | None:
        return next((d for d in self.dimensions if d.window is window), None)


class LimiterEventKind(StrEnum):
    CREATED = "created"
    ADMITTED = "admitted"
    RELEASED = "released"
    WAIT_STARTED = "wait_started"
    WAIT_UPDATED = "wait_updated"
    WAIT_ENDED = "wait_ended"
    HELD = "held"
    CONFIGURED = "configured"
    SEEDED = "seeded"


@dataclass(frozen=True, slots=True)
class LimiterEvent:
    kind: LimiterEventKind
    limiter: SlidingWindowLimiter
    handle: WaitHandle | None = None


LimiterListener = Callable[[LimiterEvent], None]


# --- internals ------------------------------------------------------------------------------------------


class _Slot:
    __slots__ = ("live", "ts")

    def __init__(self, ts: float) -> None:
        self.ts = ts
        self.live = True


class _Tokens:
    __slots__ = ("live", "tokens", "ts")

    def __init__(self, ts: float, tokens: int) -> None:
        self.ts = ts
        self.tokens = tokens
        self.live = True


@dataclass(frozen=True, slots=True)
class _Block:
    """Why a request cannot go now."""

    source: LimitSource  # PROVIDER for a hold, LOCAL for our own dimensions
    window: Window | None
    text: str


class _Waiter:
    __slots__ = ("gone", "handle", "signal", "tokens")

    def __init__(self, tokens: int, handle: WaitHandle) -> None:
        self.tokens = tokens
        self.handle = handle
        self.signal: asyncio.Future[None] | None = None
        self.gone = False

    def poke(self) -> None:
        if self.signal is not None and not self.signal.done():
            self.signal.set_result(None)


class Reservation:
    """An admitted request: its slot in the window and its token estimate.

    `commit(actual_tokens)` once the call is done (the request counts; tokens corrected to the real usage);
    `release()` if nothing was sent after all (slot and tokens given back). `waited`: seconds it queued for
    its slot (0 when admitted at once, however long the admission itself took).
    """

    __slots__ = ("_limiter", "_slot", "_tokens", "admitted_at", "estimated_tokens", "settled", "waited")

    def __init__(self, limiter: SlidingWindowLimiter, slot: _Slot, tokens: _Tokens) -> None:
        self._limiter = limiter
        self._slot = slot
        self._tokens = tokens
        self.admitted_at = slot.ts
        self.estimated_tokens = tokens.tokens
        self.settled = False
        self.waited = 0.0

    @property
    def limiter(self) -> SlidingWindowLimiter:
        return self._limiter

    def commit(self, actual_tokens: int | None = None) -> None:
        if self.settled:
            return
        self.settled = True
        self._limiter._in_flight -= 1
        if actual_tokens is not None:
            self._limiter._correct_tokens(self._tokens, max(0, int(actual_tokens)))

    def release(self) -> None:
        if self.settled:
            return
        self.settled = True
        self._limiter._release(self._slot, self._tokens)

    def __repr__(self) -> str:
        return f"Reservation(at={self.admitted_at}, tokens={self._tokens.tokens}, settled={self.settled})"


# --- the limiter ----------------------------------------------------------------------------------------


class SlidingWindowLimiter:
    def __init__(
        self,
        provider: str,
        model: str | None = None,
        config: RateLimitConfig | None = None,
        *,
        clock: Clock | None = None,
        local_tz: tzinfo | None = None,
    ) -> None:
        self.provider = provider
        self.model = model
        self._clock: Clock = clock or SystemClock()
        self._local_tz = local_tz
        self._config = config or RateLimitConfig()
        self._day_tz: tzinfo | None = None
        self._minute: deque[_Slot] = deque()
        self._day: deque[_Slot] = deque()
        self._tokens: deque[_Tokens] = deque()
        self._token_sum = 0
        self._last: float | None = None
        self._day_start = -math.inf
        self._day_end = -math.inf
        self._hold_until: float | None = None
        self._hold_block: _Block | None = None
        self._queue: deque[_Waiter] = deque()
        self._waiting = 0
        self._listeners: list[LimiterListener] = []
        self._daily: DailyRequestCount | None = None
        self._in_flight = 0  # admitted, not yet committed or released
        # What a finished reply tells this limiter (its tokens, the limits it reported), taken in on the
        # loop's next turn, or before anything reads the windows: every reader prunes first, which settles it.
        self.after_reply = DeferredWork()
        self._apply_config(self._config)

    # --- public API -----------------------------------------------------------------------------------

    @property
    def config(self) -> RateLimitConfig:
        return self._config

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def key(self) -> LimitKey:
        return (self.provider, self.model)

    @property
    def waiting(self) -> int:
        return self._waiting

    @property
    def name(self) -> str:
        return self.provider if self.model is None else f"{self.provider}/{self.model}"

    def add_listener(self, listener: LimiterListener) -> Callable[[], None]:
        """Call `listener(event)` on every change (adding the same listener twice has no effect)."""
        if listener not in self._listeners:
            self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    def use_daily_count(self, daily: DailyRequestCount | None) -> None:
        """Count the requests-per-day dimension from `daily` (the app's usage counters)."""
        self._daily = daily
        self._wake_head()

    def _day_usage(self, now: float) -> tuple[int, float | None]:
        """(requests counted today, when the oldest of them stops counting) for the requests-per-day limit."""
        if self._daily is not None:
            count, day_end = self._daily.requests_in_day(self.provider, self.model, now)
            return count + self._in_flight, day_end
        day = self._day
        if not day:
            return 0, None
        if self._day_tz is not None:
            return len(day), self._day_end
        return len(day), day[0].ts + DAY_SECONDS

    def configure(self, config: RateLimitConfig) -> None:
        """Apply new limits now; queued callers re-check at once."""
        self._apply_config(config)
        self._emit(LimiterEventKind.CONFIGURED)
        self._wake_head()

    def try_acquire(self, estimated_tokens: int = 0) -> Reservation | None:
        """A reservation if a request may go now (and nobody is queued), else None. Never waits."""
        now = self._clock.now()
        self._prune(now)
        if self._queue:
            self._check_fits(estimated_tokens)
            return None
        free_at, _ = self._earliest(now, estimated_tokens)
        return self._admit(now, estimated_tokens) if free_at <= now else None

    async def acquire(self, estimated_tokens: int = 0, *, max_wait: float | None = None) -> Reservation:
        """Wait (FIFO, cancellable) until the request fits every dimension, then reserve its slot.

        `max_wait`: when the slot would free later than that many seconds from the moment this caller is first
        in line, raise LimitWaitTooLong (QUOTA_EXHAUSTED) instead of waiting. A request bigger than the token
        limit raises INVALID_REQUEST at once: waiting cannot help it.
        """
        now = self._clock.now()
        self._prune(now)
        if not self._queue:
            free_at, block = self._earliest(now, estimated_tokens)
            if free_at <= now:
                return self._admit(now, estimated_tokens)
        else:
            self._check_fits(estimated_tokens)
            free_at, block = self._earliest(now, estimated_tokens)
        reason = block.text if block is not None else "waiting for earlier requests"
        handle = WaitHandle(self.provider, self.model, "rate_limit", reason, now, free_at)
        waiter = _Waiter(estimated_tokens, handle)
        handle._on_cancel = waiter.poke
        self._queue.append(waiter)
        self._waiting += 1
        self._emit(LimiterEventKind.WAIT_STARTED, handle)
        try:
            reservation = await self._wait_turn(waiter, max_wait)
            reservation.waited = self._clock.now() - now
            return reservation
        finally:
            handle._on_cancel = None
            self._waiting -= 1
            if not waiter.gone:
                waiter.gone = True
                if self._queue and self._queue[0] is waiter:
                    self._wake_head()
            self._emit(LimiterEventKind.WAIT_ENDED, handle)

    def next_free_at(self, estimated_tokens: int = 0) -> float:
        """The earliest time a new request of this size could be admitted (now if it could go now)."""
        now = self._clock.now()
        self._prune(now)
        try:
            free_at, _ = self._earliest(now, estimated_tokens)
        except LLMProviderError:
            return math.inf
        return free_at

    def check(self, estimated_tokens: int = 0, *, max_wait: float) -> LimitWaitTooLong | None:
        """The error `acquire(max_wait=...)` would raise at once for lack of a slot soon enough, if any."""
        now = self._clock.now()
        self._prune(now)
        free_at, block = self._earliest(now, estimated_tokens)
        return self._too_long(free_at, block, now) if free_at - now > max_wait else None

    def usage(self, now: float | None = None) -> LimiterUsage:
        now = self._clock.now() if now is None else now
        self._prune(now)
        config = self._config
        enabled = config.enabled
        dimensions = [
            DimensionUsage(
                Window.REQUESTS_PER_MINUTE,
                len(self._minute),
                config.requests_per_minute if enabled else None,
                self._minute[0].ts + WINDOW_SECONDS if self._minute else None,
            )
        ]
        if config.tokens_per_minute is not None or self._token_sum:
            first = next((t for t in self._tokens if t.tokens), None)
            dimensions.append(
                DimensionUsage(
                    Window.TOKENS_PER_MINUTE,
                    self._token_sum,
                    config.tokens_per_minute if enabled else None,
                    first.ts + WINDOW_SECONDS if first is not None else None,
                )
            )
        if config.requests_per_day is not None or self._daily is not None:
            day_used, day_frees = self._day_usage(now)
            dimensions.append(
                DimensionUsage(
                    Window.REQUESTS_PER_DAY,
                    day_used,
                    config.requests_per_day if enabled else None,
                    day_frees if day_used else None,
                )
            )
        try:
            free_at, _ = self._earliest(now, 0)
        except LLMProviderError:  # pragma: no cover - a zero-token request always fits
            free_at = math.inf
        hold = self._hold_until if self._hold_until is not None and self._hold_until > now else None
        return LimiterUsage(
            provider=self.provider,
            model=self.model,
            enabled=enabled,
            dimensions=tuple(dimensions),
            next_free_at=free_at,
            hold_until=hold,
            hold_reason=self._hold_block.text if hold is not None and self._hold_block else None,
            waiting=self._waiting,
            observed_at=now,
            seconds_per_request=config.seconds_per_request if enabled else None,
        )

    def hold_until(self, until: float, reason: str, window: Window | None = None) -> None:
        """Keep every caller back until `until` (a pause the provider imposed). Only ever extends a hold."""
        if self._hold_until is not None and until <= self._hold_until + _SAME_MOMENT:
            return  # already held at least that long (a 429 reports its wait twice: header and body)
        if until <= self._clock.now():
            return
        self._hold_until = until
        self._hold_block = _Block(LimitSource.PROVIDER, window, reason)
        logger.info(
            "[RateLimiter] %s held by the provider for %.1fs: %s",
            self.name,
            until - self._clock.now(),
            reason,
        )
        self._emit(LimiterEventKind.HELD)
        self._wake_head()

    def clear_hold(self) -> None:
        if self._hold_until is None:
            return
        self._hold_until = None
        self._hold_block = None
        self._emit(LimiterEventKind.HELD)
        self._wake_head()

    def observe(self, snapshot: RateLimitSnapshot | None) -> None:
        """Hold callers while the provider reports a window with nothing left (until its reset)."""
        if snapshot is None:
            return
        now = self._clock.now()
        label = provider_label(self.provider)
        for limit in snapshot.windows:
            if (
                limit.remaining is not None
                and limit.remaining <= 0
                and limit.reset_at
                and limit.reset_at > now
            ):
                self.hold_until(
                    limit.reset_at, f"{label} reports its {window_phrase(limit.window)} used up", limit.window
                )
        if snapshot.retry_after:
            start = snapshot.observed_at if snapshot.observed_at is not None else now
            self.hold_until(
                start + snapshot.retry_after,
                f"{label} asked to wait {describe_wait(snapshot.retry_after, 'words')}",
            )

    def seed(self, times: Iterable[float], token_events: Iterable[tuple[float, int | None]] = ()) -> None:
        """Replace the windows with what the ledger says was sent (epoch seconds; (time, total tokens))."""
        now = self._clock.now()
        stamps = sorted(t for t in times if t <= now)
        self._minute.clear()
        self._day.clear()
        for entry in self._tokens:  # a call in flight (or its reply's deferred commit) corrects them no more
            entry.live = False
        self._tokens.clear()
        self._token_sum = 0
        self._last = stamps[-1] if stamps else None
        self._day_end = -math.inf
        for ts in stamps:
            slot = _Slot(ts)
            self._minute.append(slot)
            self._day.append(slot)
        for ts, tokens in sorted((t, n or 0) for t, n in token_events if t <= now):
            self._tokens.append(_Tokens(ts, tokens))
            self._token_sum += tokens
        self._prune(now)
        self._emit(LimiterEventKind.SEEDED)
        self._wake_head()

    def ledger_since(self) -> float:
        """How far back `seed` needs the ledger: the longest window, or the spacing if longer."""
        spacing = self._config.seconds_per_request or 0.0
        return self._clock.now() - max(_DAY_HORIZON, spacing)

    # --- internals ------------------------------------------------------------------------------------

    def _apply_config(self, config: RateLimitConfig) -> None:
        self._config = config
        tz_name = config.daily_reset_timezone
        self._day_tz = ZoneInfo(tz_name) if tz_name else None
        self._day_end = -math.inf  # recompute the calendar day

    def _emit(self, kind: LimiterEventKind, handle: WaitHandle | None = None) -> None:
        if not self._listeners:
            return
        event = LimiterEvent(kind, self, handle)
        for listener in tuple(self._listeners):
            try:
                listener(event)
            except Exception:
                logger.exception("[RateLimiter] a listener failed on %s", kind)

    def _prune(self, now: float) -> None:
        if self.after_reply:
            self.after_reply.settle()
        minute = self._minute
        while minute and minute[0].ts + WINDOW_SECONDS <= now:
            minute.popleft()
        tokens = self._tokens
        while tokens and tokens[0].ts + WINDOW_SECONDS <= now:
            entry = tokens.popleft()
            entry.live = False
            self._token_sum -= entry.tokens
        day = self._day
        if self._day_tz is None:
            while day and day[0].ts + DAY_SECONDS <= now:
                day.popleft().live = False
        else:
            if now >= self._day_end or now < self._day_start:
                self._day_start, self._day_end = _calendar_day(now, self._day_tz)
            start = self._day_start
            while day and day[0].ts < start:
                day.popleft().live = False

    def _check_fits(self, tokens: int) -> None:
        limit = self._config.tokens_per_minute
        if self._config.enabled and limit is not None and tokens > limit:
            label = provider_label(self.provider)
            raise LLMProviderError(
                ErrorCode.INVALID_REQUEST,
                f"This request needs about {tokens:,} tokens, more than the {limit:,} tokens per minute set "
                f"for {label}; waiting cannot help. Shorten it, raise the limit, or choose another provider.",
                provider=self.provider,
                window=Window.TOKENS_PER_MINUTE,
            )

    def _earliest(self, now: float, tokens: int) -> tuple[float, _Block | None]:
        """When a request of `tokens` could go, given only what is already admitted, and what blocks it."""
        free_at = now
        block: _Block | None = None
        hold = self._hold_until
        if hold is not None and hold > free_at:
            free_at, block = hold, self._hold_block
        config = self._config
        if not config.enabled:
            return free_at, block
        minute = self._minute
        used = len(minute)
        rpm = config.requests_per_minute
        if used >= rpm:
            t = minute[used - rpm].ts + WINDOW_SECONDS
            if t > free_at:
                free_at = t
                block = _Block(
                    LimitSource.LOCAL, Window.REQUESTS_PER_MINUTE, f"limit: {_requests(rpm)} per minute"
                )
        spacing = config.seconds_per_request
        if spacing and self._last is not None:
            t = self._last + spacing
            if t > free_at:
                free_at = t
                block = _Block(LimitSource.LOCAL, None, f"one request every {spacing:g} seconds")
        tpm = config.tokens_per_minute
        if tpm is not None:
            self._check_fits(tokens)
            excess = self._token_sum + tokens - tpm
            if excess > 0:
                freed = 0
                for entry in self._tokens:
                    freed += entry.tokens
                    if freed >= excess:
                        t = entry.ts + WINDOW_SECONDS
                        if t > free_at:
                            free_at = t
                            block = _Block(
                                LimitSource.LOCAL,
                                Window.TOKENS_PER_MINUTE,
                                f"limit: {tpm:,} tokens per minute",
                            )
                        break
        rpd = config.requests_per_day
        if rpd is not None:
            count, day_frees = self._day_usage(now)
            if count >= rpd:
                if self._daily is not None or self._day_tz is not None:
                    t = day_frees if day_frees is not None else now
                else:
                    t = self._day[count - rpd].ts + DAY_SECONDS
                if t > free_at:
                    free_at = t
                    block = _Block(
                        LimitSource.LOCAL, Window.REQUESTS_PER_DAY, f"limit: {_requests(rpd)} per day"
                    )
        return free_at, block

    def _admit(self, now: float, tokens: int) -> Reservation:
        slot = _Slot(now)
        entry = _Tokens(now, tokens)
        self._minute.append(slot)
        self._day.append(slot)
        self._tokens.append(entry)
        self._token_sum += tokens
        self._last = now
        self._in_flight += 1
        if self._config.enabled:
            log_soon(
                logger,
                logging.INFO,
                "[RateLimiter] %s rate limit check passed (%d/%d used)",
                self.provider,
                len(self._minute),
                self._config.requests_per_minute,
            )
        self._emit(LimiterEventKind.ADMITTED)
        return Reservation(self, slot, entry)

    def _correct_tokens(self, entry: _Tokens, actual: int) -> None:
        if entry.live:
            self._token_sum += actual - entry.tokens
        entry.tokens = actual
        if entry.live and self._queue:
            self._wake_head()

    def _release(self, slot: _Slot, entry: _Tokens) -> None:
        self._in_flight -= 1
        for window in (self._minute, self._day):
            if window and slot in window:
                window.remove(slot)
        slot.live = False
        if entry.live:
            self._tokens.remove(entry)
            self._token_sum -= entry.tokens
            entry.live = False
        if self._last == slot.ts:
            newest = self._minute[-1] if self._minute else (self._day[-1] if self._day else None)
            self._last = newest.ts if newest is not None else None
        self._emit(LimiterEventKind.RELEASED)
        self._wake_head()

    def _wake_head(self) -> None:
        queue = self._queue
        while queue and queue[0].gone:
            queue.popleft()
        if queue:
            queue[0].poke()

    async def _wait_turn(self, waiter: _Waiter, max_wait: float | None) -> Reservation:
        loop = asyncio.get_running_loop()
        handle = waiter.handle
        logged_until: float | None = None
        while True:
            if handle.cancelled:
                raise WaitCancelled(self.provider, self.model, handle.reason)
            if self._queue[0] is not waiter:
                waiter.signal = loop.create_future()
                try:
                    await waiter.signal
                finally:
                    waiter.signal = None
                continue
            now = self._clock.now()
            self._prune(now)
            free_at, block = self._earliest(now, waiter.tokens)
            if free_at <= now:
                self._queue.popleft()
                waiter.gone = True
                reservation = self._admit(now, waiter.tokens)
                self._wake_head()
                return reservation
            if max_wait is not None and free_at - now > max_wait:
                raise self._too_long(free_at, block, now)
            reason = block.text if block is not None else handle.reason
            if free_at != handle.until or reason != handle.reason:
                handle.until, handle.reason = free_at, reason
                self._emit(LimiterEventKind.WAIT_UPDATED, handle)
            if logged_until != free_at:
                logged_until = free_at
                logger.info("[RateLimiter] %s rate limit hit, waiting %.1fs", self.provider, free_at - now)
            await self._sleep_or_poke(waiter, free_at - now)

    async def _sleep_or_poke(self, waiter: _Waiter, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        signal: asyncio.Future[None] = loop.create_future()
        waiter.signal = signal
        sleeper = asyncio.ensure_future(self._clock.sleep(seconds))
        try:
            await asyncio.wait((sleeper, signal), return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.signal = None
            if not sleeper.done():
                sleeper.cancel()

    def _too_long(self, free_at: float, block: _Block | None, now: float) -> LimitWaitTooLong:
        label = provider_label(self.provider)
        window = block.window if block is not None else None
        when = format_clock_time(free_at, now, self._local_tz, seconds=free_at - now < 3600)
        if block is not None and block.source is LimitSource.PROVIDER:
            if window is not None:
                message = quota_sentence(self.provider, window, free_at, now, self._local_tz)
            else:
                message = (
                    f"{label} asked the app to pause until {when.removeprefix('at ')}, longer than it "
                    "waits on its own. Try again then, or switch provider."
                )
        else:
            limit = block.text.removeprefix("limit: ") if block is not None else "the limit"
            message = (
                f"The limit set for {label} ({limit}) is reached; the next request can go {when}. "
                "Change the limit in Settings or switch provider."
            )
        return LimitWaitTooLong(message, provider=self.provider, free_at=free_at, now=now, window=window)

    def __repr__(self) -> str:
        return f"SlidingWindowLimiter({self.name}, {self._config})"


def _requests(n: int) -> str:
    return "1 request" if n == 1 else f"{n:,} requests"


def _calendar_day(now: float, tz: tzinfo) -> tuple[float, float]:
    """(start, end) of the calendar day containing `now` in `tz`, as epoch seconds (DST-aware)."""
    today: date = datetime.fromtimestamp(now, tz).date()
    start = datetime.combine(today, time(0), tzinfo=tz).timestamp()
    end = datetime.combine(today + timedelta(days=1), time(0), tzinfo=tz).timestamp()
    return start, end


def limit_key(provider: str, model: str | None) -> LimitKey:
    """The key limits are counted under: per model where the catalogue says so, else per provider."""
    entry = CATALOGUE.get(provider)
    per_model = entry.limits_per_model if entry is not None else True
    return (provider, model if per_model else None)


class DailyRequestCount(Protocol):
    """Requests sent today, on the provider's own day (`app.core.usage.counters.UsageCounters`).

    When a limiter has one, its requests-per-day dimension counts these (plus its own requests in flight,
    until their ledger row is written) instead of its own window.
    """

    def requests_in_day(self, provider: str, model: str | None, now: float) -> tuple[int, float]:
        """(requests sent in the day that contains `now`, when that day ends)."""
        ...


# --- registry ---------------------------------------------------------------------------------------------


class RequestLedger(Protocol):
    """What the limiter reads from the store's `requests` ledger at start.

    `model` is None for a provider whose limits are per provider (all its models count).
    """

    def request_times(self, provider: str, model: str | None, since: float) -> Sequence[float]: ...

    def request_tokens_since(
        self, provider: str, model: str | None, since: float
    ) -> Sequence[tuple[float, int | None]]: ...


class RateLimiterRegistry:
    """Every limiter of the app, made on first use: one per provider, or per (provider, model)."""

    def __init__(
        self,
        clock: Clock | None = None,
        configs: Mapping[str, RateLimitConfig] | None = None,
        *,
        local_tz: tzinfo | None = None,
        ledger: RequestLedger | None = None,
        daily: DailyRequestCount | None = None,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.daily = daily
        self._configs: dict[str, RateLimitConfig] = dict(configs or {})
        self._local_tz = local_tz
        self._ledger = ledger
        self._limiters: dict[LimitKey, SlidingWindowLimiter] = {}
        self._listeners: list[LimiterListener] = []

    def config_for(self, provider: str) -> RateLimitConfig:
        config = self._configs.get(provider)
        if config is None:
            config = RateLimitConfig.from_catalogue(catalogue_entry(provider))
        return config

    def limiter(self, provider: str, model: str | None = None) -> SlidingWindowLimiter:
        key = limit_key(provider, model)
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = SlidingWindowLimiter(
                provider, key[1], self.config_for(provider), clock=self.clock, local_tz=self._local_tz
            )
            for listener in self._listeners:
                limiter.add_listener(listener)
            if self.daily is not None:
                limiter.use_daily_count(self.daily)
            self._limiters[key] = limiter
            if self._ledger is not None:
                self._seed(limiter, self._ledger)
            limiter._emit(LimiterEventKind.CREATED)
        return limiter

    def limiters(self) -> list[SlidingWindowLimiter]:
        return list(self._limiters.values())

    def configure(self, provider: str, config: RateLimitConfig) -> None:
        self._configs[provider] = config
        for limiter in self._limiters.values():
            if limiter.provider == provider:
                limiter.configure(config)

    def add_listener(self, listener: LimiterListener) -> None:
        """Listen to every limiter, present and future."""
        self._listeners.append(listener)
        for limiter in self._limiters.values():
            limiter.add_listener(listener)

    def seed_from(self, ledger: RequestLedger) -> None:
        """Seed every limiter from the ledger now, and each one made later when it is made."""
        self._ledger = ledger
        for limiter in self._limiters.values():
            self._seed(limiter, ledger)

    @staticmethod
    def _seed(limiter: SlidingWindowLimiter, ledger: RequestLedger) -> None:
        since = limiter.ledger_since()
        try:
            times = ledger.request_times(limiter.provider, limiter.model, since)
            tokens = ledger.request_tokens_since(limiter.provider, limiter.model, since)
        except Exception:
            logger.exception(
                "[RateLimiter] could not read the request ledger for %s; starting empty", limiter.name
            )
            return
        limiter.seed(times, tokens)

"""Today's and this month's usage per provider and model, on each provider's own day boundary.

The ledger is the truth; these counters are its running sums, so the limiter's requests-per-day dimension, the
budgets and the panel never scan it per call. A period is loaded from the ledger the first time it is asked
for (so a restart, or a new day, starts from what was really sent) and then kept up to date by `record()`,
which the service calls right after it writes each ledger row. A record only adds to a period already loaded:
a period loaded later reads that row from the ledger anyway.

Counted: every attempt that reached a provider (failed and cancelled ones too: the provider may have counted
them), their tokens and cost. Cache hits never reached the provider: they are counted apart (`cached`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import tzinfo
from typing import Literal, Protocol

from app.core.ratelimit.clock import Clock, SystemClock
from app.core.usage.periods import day_bounds, month_bounds, usage_timezone
from app.store.records import RequestRecord
from app.store.usage import UsageTotals

logger = logging.getLogger(__name__)

PeriodKind = Literal["day", "month"]
Listener = Callable[[str, str], None]


class UsageSource(Protocol):
    """What the counters read from the store: totals per model of `provider`, calls started in [lo, hi)."""

    def usage_by_model(self, provider: str, since: float, until: float) -> Mapping[str, UsageTotals]: ...


@dataclass(frozen=True, slots=True)
class PeriodUsage:
    provider: str
    model: str | None  # None: every model of the provider
    kind: PeriodKind
    start: float
    end: float  # when the period resets (epoch seconds)
    totals: UsageTotals


class UsageCounters:
    def __init__(
        self,
        source: UsageSource | None = None,
        *,
        clock: Clock | None = None,
        zone_for: Callable[[str], tzinfo] = usage_timezone,
    ) -> None:
        self.source = source
        self.clock: Clock = clock or SystemClock()
        self._zone_for = zone_for
        # (provider, kind, period start) -> model -> totals
        self._periods: dict[tuple[str, PeriodKind, float], dict[str, UsageTotals]] = {}
        self._listeners: list[Listener] = []
        self._last_bounds: dict[tuple[tzinfo, PeriodKind], tuple[float, float]] = {}

    # --- reading -------------------------------------------------------------------------------------------

    def bounds(self, provider: str, kind: PeriodKind, now: float | None = None) -> tuple[float, float]:
        now = self.clock.now() if now is None else now
        zone = self._zone_for(provider)
        # Every call lands in the period the last one computed, until it ends: calendar arithmetic in a
        # time zone is most of what counting a call costs.
        last = self._last_bounds.get((zone, kind))
        if last is not None and last[0] <= now < last[1]:
            return last
        bounds = day_bounds(now, zone) if kind == "day" else month_bounds(now, zone)
        self._last_bounds[(zone, kind)] = bounds
        return bounds

    def period(
        self, provider: str, model: str | None = None, kind: PeriodKind = "day", now: float | None = None
    ) -> PeriodUsage:
        start, end = self.bounds(provider, kind, now)
        models = self._load(provider, kind, start, end)
        if model is not None:
            totals = models.get(model) or UsageTotals()  # read at every admission: no default built in vain
        else:
            totals = sum(models.values(), UsageTotals())
        return PeriodUsage(provider, model, kind, start, end, totals)

    def day(self, provider: str, model: str | None = None, now: float | None = None) -> PeriodUsage:
        return self.period(provider, model, "day", now)

    def month(self, provider: str, model: str | None = None, now: float | None = None) -> PeriodUsage:
        return self.period(provider, model, "month", now)

    def requests_in_day(self, provider: str, model: str | None, now: float) -> tuple[int, float]:
        """(requests sent to the provider today, when its day ends): the limiter's requests-per-day count."""
        usage = self.day(provider, model, now)
        return usage.totals.requests, usage.end

    # --- feeding -------------------------------------------------------------------------------------------

    def record(self, record: RequestRecord) -> None:
        """Count one ledger row (already written to the ledger) in the loaded periods it belongs to."""
        added = UsageTotals.of(record)
        for kind in ("day", "month"):
            start, _ = self.bounds(record.provider, kind, record.started_at)
            models = self._periods.get((record.provider, kind, start))
            if models is not None:
                counted = models.get(record.model)  # no empty default built per call (the reply waits)
                models[record.model] = added if counted is None else counted + added
        for listener in tuple(self._listeners):
            try:
                listener(record.provider, record.model)
            except Exception:
                logger.exception("[UsageCounters] a listener failed")

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(provider, model)` after each recorded call."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def reload(self) -> None:
        """Forget the loaded periods: the next read loads them from the ledger again."""
        self._periods.clear()

    def _load(self, provider: str, kind: PeriodKind, start: float, end: float) -> dict[str, UsageTotals]:
        key = (provider, kind, start)
        models = self._periods.get(key)
        if models is None:
            models = {}
            if self.source is not None:
                try:
                    models = dict(self.source.usage_by_model(provider, start, end))
                except Exception:
                    logger.exception(
                        "[UsageCounters] could not read the ledger for %s; counting from 0", provider
                    )
            # Drop the periods this one replaces (yesterday, last month): they are never added to again.
            for stale in [k for k in self._periods if k[0] == provider and k[1] == kind and k[2] < start]:
                del self._periods[stale]
            self._periods[key] = models
        return models

"""Daily and monthly spending caps per provider, checked before a call is sent (a guard, like the limiter).

A budget caps one provider's USD, tokens or requests per day or per month, on the provider's own day (see
`periods`). At the alert threshold (80% unless the user says otherwise) an alert goes to the subscribers (the
window's status bar, the CLI's stderr), once per budget and period. At 100% the provider refuses new calls
with QUOTA_EXHAUSTED until the period resets or the cap is raised, and nothing is sent; a fallback chain moves
on as it does for any used-up quota.

Saved settings: `usage.budgets` = [{"provider": "groq", "period": "day", "unit": "usd", "cap": 0.5}, ...] and
`usage.budget_alert_threshold` = 0.8.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from enum import StrEnum
from typing import Any, Literal

from app.core.catalogue import CATALOGUE
from app.core.errors import ErrorCode, LLMProviderError
from app.core.ratelimit.clock import Clock, SystemClock
from app.core.ratelimit.limiter import provider_label
from app.core.usage.counters import PeriodKind, PeriodUsage, UsageCounters
from app.core.usage.periods import reset_phrase

logger = logging.getLogger(__name__)

BUDGETS_KEY = "usage.budgets"
THRESHOLD_KEY = "usage.budget_alert_threshold"
DEFAULT_THRESHOLD = 0.8


class BudgetPeriod(StrEnum):
    DAY = "day"
    MONTH = "month"

    @property
    def adjective(self) -> str:
        return "daily" if self is BudgetPeriod.DAY else "monthly"


class BudgetUnit(StrEnum):
    USD = "usd"
    TOKENS = "tokens"
    REQUESTS = "requests"


@dataclass(frozen=True, slots=True)
class Budget:
    provider: str
    period: BudgetPeriod
    unit: BudgetUnit
    cap: float

    def amount(self, value: float) -> str:
        """ "$0.50", "100,000 tokens", "50 requests"."""
        if self.unit is BudgetUnit.USD:
            return f"${value:,.2f}" if value >= 0.01 or value == 0 else f"${value:.4f}"
        noun = "tokens" if self.unit is BudgetUnit.TOKENS else "requests"
        return f"{value:,.0f} {noun}"

    def used(self, usage: PeriodUsage) -> float:
        totals = usage.totals
        if self.unit is BudgetUnit.USD:
            return totals.cost_usd  # the known part: a call at an unknown price counts 0 here
        if self.unit is BudgetUnit.TOKENS:
            return float(totals.tokens)
        return float(totals.requests)

    def as_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "period": self.period.value,
            "unit": self.unit.value,
            "cap": self.cap,
        }


@dataclass(frozen=True, slots=True)
class BudgetSettings:
    budgets: tuple[Budget, ...] = ()
    alert_threshold: float = DEFAULT_THRESHOLD
    warnings: tuple[str, ...] = ()

    def for_provider(self, provider: str) -> tuple[Budget, ...]:
        return tuple(b for b in self.budgets if b.provider == provider)


Level = Literal["ok", "warning", "reached"]


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    budget: Budget
    used: float
    period_start: float
    resets_at: float
    level: Level
    threshold: float

    @property
    def fraction(self) -> float:
        return self.used / self.budget.cap if self.budget.cap > 0 else math.inf

    def text(self, now: float, tz: tzinfo | None = None) -> str:
        """ "Groq: 85% of its daily budget used ($0.43 of $0.50); it resets on 22 Nov." """
        b = self.budget
        label = provider_label(b.provider)
        when = reset_phrase(self.resets_at, now, tz)
        if self.level == "reached":
            return f"{label}'s {b.period.adjective} budget of {b.amount(b.cap)} is reached; it resets {when}."
        return (
            f"{label} has used {self.fraction:.0%} of its {b.period.adjective} budget "
            f"({b.amount(self.used)} of {b.amount(b.cap)}); it resets {when}."
        )


@dataclass(frozen=True, slots=True)
class BudgetAlert:
    status: BudgetStatus
    message: str

    @property
    def level(self) -> Level:
        return self.status.level


class BudgetReachedError(LLMProviderError):
    """A budget of the provider is used up: the call failed before anything was sent."""

    def __init__(self, message: str, *, status: BudgetStatus) -> None:
        super().__init__(
            ErrorCode.QUOTA_EXHAUSTED,
            message,
            provider=status.budget.provider,
            reset_at=datetime.fromtimestamp(status.resets_at, UTC),
        )
        self.status = status


AlertListener = Callable[[BudgetAlert], None]


@dataclass
class BudgetGuard:
    """Checks every budget of a provider before a call; raises BudgetReachedError at 100%."""

    counters: UsageCounters
    settings: BudgetSettings = field(default_factory=BudgetSettings)
    clock: Clock = field(default_factory=SystemClock)
    local_tz: tzinfo | None = None
    _listeners: list[AlertListener] = field(default_factory=list)
    _alerted: dict[tuple[Budget, float], Level] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.counters.subscribe(self._on_usage)

    def _on_usage(self, provider: str, _model: str) -> None:
        self.evaluate(provider)

    def configure(self, settings: BudgetSettings) -> None:
        self.settings = settings

    def status(self, budget: Budget, now: float | None = None) -> BudgetStatus:
        now = self.clock.now() if now is None else now
        kind: PeriodKind = "day" if budget.period is BudgetPeriod.DAY else "month"
        usage = self.counters.period(budget.provider, None, kind, now)
        used = budget.used(usage)
        threshold = self.settings.alert_threshold
        level: Level = "ok"
        if used >= budget.cap:
            level = "reached"
        elif used >= budget.cap * threshold:
            level = "warning"
        return BudgetStatus(budget, used, usage.start, usage.end, level, threshold)

    def statuses(self, provider: str | None = None, now: float | None = None) -> list[BudgetStatus]:
        budgets = self.settings.budgets if provider is None else self.settings.for_provider(provider)
        return [self.status(b, now) for b in budgets]

    def blocked(self, provider: str) -> BudgetReachedError | None:
        """The error a call to `provider` fails with now for a budget reached, or None."""
        now = self.clock.now()
        for status in self.statuses(provider, now):
            if status.level == "reached":
                message = (
                    status.text(now, self.local_tz)
                    + " Raise it in Settings → Usage & costs, or use another provider."
                )
                return BudgetReachedError(message, status=status)
        return None

    def check(self, provider: str) -> None:
        """Before sending: raise BudgetReachedError (QUOTA_EXHAUSTED) when a budget is reached."""
        error = self.blocked(provider)
        if error is not None:
            logger.info("[BudgetGuard] %s refused before sending: %s", provider, error.message)
            self._alert(error.status, self.clock.now())
            raise error

    # --- alerts -----------------------------------------------------------------------------------------

    def subscribe(self, listener: AlertListener) -> Callable[[], None]:
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def evaluate(self, provider: str) -> list[BudgetAlert]:
        """Alert for each budget of `provider` that reached a higher level in its period since last said."""
        now = self.clock.now()
        return [alert for status in self.statuses(provider, now) if (alert := self._alert(status, now))]

    def alerts(self, provider: str | None = None) -> list[BudgetAlert]:
        """The budgets at or above the threshold now, as alerts (for a status bar or stderr at start)."""
        now = self.clock.now()
        return [
            BudgetAlert(s, s.text(now, self.local_tz))
            for s in self.statuses(provider, now)
            if s.level != "ok"
        ]

    def _alert(self, status: BudgetStatus, now: float) -> BudgetAlert | None:
        if status.level == "ok":
            return None
        key = (status.budget, status.period_start)
        order = ("ok", "warning", "reached")
        said = self._alerted.get(key, "ok")
        if order.index(status.level) <= order.index(said):
            return None
        self._alerted[key] = status.level
        alert = BudgetAlert(status, status.text(now, self.local_tz))
        logger.info("[BudgetGuard] %s", alert.message)
        for listener in tuple(self._listeners):
            try:
                listener(alert)
            except Exception:
                logger.exception("[BudgetGuard] an alert listener failed")
        return alert


# --- settings ---------------------------------------------------------------------------------------------


def load_budget_settings(saved: Mapping[str, Any]) -> BudgetSettings:
    """Budgets and threshold from saved settings; invalid entries are dropped with a warning each."""
    warnings: list[str] = []
    budgets: list[Budget] = []
    raw = saved.get(BUDGETS_KEY) or []
    for item in raw if isinstance(raw, list) else []:
        parsed = parse_budget(item)
        if isinstance(parsed, str):
            warnings.append(parsed)
        else:
            budgets.append(parsed)
    threshold = DEFAULT_THRESHOLD
    raw_threshold = saved.get(THRESHOLD_KEY)
    if raw_threshold is not None:
        try:
            value = float(raw_threshold)
        except (TypeError, ValueError):
            value = math.nan
        if 0 < value <= 1:
            threshold = value
        else:
            warnings.append(
                f"The budget alert threshold {raw_threshold!r} is not between 0 and 1; using 80%."
            )
    for warning in warnings:
        logger.warning("[BudgetSettings] %s", warning)
    return BudgetSettings(tuple(budgets), threshold, tuple(warnings))


def parse_budget(item: Any) -> Budget | str:
    if not isinstance(item, Mapping):
        return f"Ignoring a saved budget that is not an entry: {item!r}."
    provider = str(item.get("provider") or "").strip().lower()
    if provider not in CATALOGUE:
        return f"Ignoring a budget for an unknown provider {provider!r}."
    try:
        period = BudgetPeriod(str(item.get("period")))
        unit = BudgetUnit(str(item.get("unit")))
        cap = float(item.get("cap"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return f"Ignoring an unreadable budget for {provider}: {dict(item)!r}."
    if not math.isfinite(cap) or cap <= 0:
        return f"Ignoring a budget for {provider} whose cap is not above 0."
    return Budget(provider, period, unit, cap)


def budgets_to_saved(budgets: tuple[Budget, ...] | list[Budget]) -> list[dict[str, Any]]:
    return [b.as_dict() for b in budgets]


__all__ = [
    "BUDGETS_KEY",
    "THRESHOLD_KEY",
    "Budget",
    "BudgetAlert",
    "BudgetGuard",
    "BudgetPeriod",
    "BudgetReachedError",
    "BudgetSettings",
    "BudgetStatus",
    "BudgetUnit",
    "budgets_to_saved",
    "load_budget_settings",
    "parse_budget",
]

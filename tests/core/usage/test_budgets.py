"""Budgets: alerts at the threshold once per period, QUOTA_EXHAUSTED at 100% before anything is sent."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from app.core.errors import ErrorCode
from app.core.ratelimit.clock import FakeClock
from app.core.usage.budgets import (
    BUDGETS_KEY,
    THRESHOLD_KEY,
    Budget,
    BudgetAlert,
    BudgetGuard,
    BudgetPeriod,
    BudgetReachedError,
    BudgetSettings,
    BudgetUnit,
    budgets_to_saved,
    load_budget_settings,
)
from app.core.usage.counters import UsageCounters
from app.store import Store
from tests.core.usage.usage_records import PARIS, call

NOON = datetime.fromisoformat("2025-11-21T12:00:00+00:00").timestamp()


def make(
    store: Store, *budgets: Budget, threshold: float = 0.8
) -> tuple[BudgetGuard, UsageCounters, FakeClock]:
    clock = FakeClock(NOON)
    counters = UsageCounters(store, clock=clock)
    guard = BudgetGuard(counters, BudgetSettings(budgets, threshold), clock=clock, local_tz=PARIS)
    return guard, counters, clock


def spend(store: Store, counters: UsageCounters, at: float, cost: float, provider: str = "groq") -> None:
    record = call(provider, "m", at, cost_usd=cost)
    store.record_request(record)
    counters.record(record)


def test_daily_usd_budget_alerts_at_80_percent_then_refuses_until_the_day_resets(store: Store) -> None:
    guard, counters, clock = make(store, Budget("groq", BudgetPeriod.DAY, BudgetUnit.USD, 0.50))
    alerts: list[BudgetAlert] = []
    guard.subscribe(alerts.append)
    spend(store, counters, clock.now(), 0.30)
    assert alerts == [] and guard.blocked("groq") is None
    spend(store, counters, clock.now(), 0.13)  # 86%
    assert [a.level for a in alerts] == ["warning"]
    assert alerts[0].message == (
        "Groq has used 86% of its daily budget ($0.43 of $0.50); it resets on 22 Nov at 01:00."
    )
    spend(store, counters, clock.now(), 0.01)  # still a warning: said once
    assert len(alerts) == 1
    spend(store, counters, clock.now(), 0.10)
    assert [a.level for a in alerts] == ["warning", "reached"]
    with pytest.raises(BudgetReachedError) as raised:
        guard.check("groq")
    error = raised.value
    assert error.code is ErrorCode.QUOTA_EXHAUSTED and error.provider == "groq"
    assert error.message.startswith("Groq's daily budget of $0.50 is reached; it resets on 22 Nov at 01:00.")
    assert error.reset_at is not None
    guard.check("gemini")  # other providers are not concerned
    clock.advance_to(datetime.fromisoformat("2025-11-22T00:00:00+00:00").timestamp())  # Groq's UTC day
    guard.check("groq")
    assert guard.alerts() == []


def test_raising_the_cap_lets_calls_through_again(store: Store) -> None:
    budget = Budget("groq", BudgetPeriod.MONTH, BudgetUnit.REQUESTS, 2)
    guard, counters, clock = make(store, budget)
    spend(store, counters, clock.now(), 0.0)
    spend(store, counters, clock.now(), 0.0)
    assert guard.blocked("groq") is not None
    assert "monthly budget of 2 requests is reached; it resets on 1 Dec" in guard.blocked("groq").message  # type: ignore[union-attr]
    guard.configure(BudgetSettings((Budget("groq", BudgetPeriod.MONTH, BudgetUnit.REQUESTS, 3),)))
    assert guard.blocked("groq") is None
    [status] = guard.statuses("groq")
    assert status.level == "ok" and status.fraction == pytest.approx(2 / 3)  # under 80%


def test_token_budgets_and_gemini_days(store: Store) -> None:
    guard, counters, clock = make(store, Budget("gemini", BudgetPeriod.DAY, BudgetUnit.TOKENS, 100))
    spend(store, counters, clock.now(), 0.0, provider="gemini")  # 30 tokens
    assert guard.statuses()[0].used == 30
    assert (
        guard.statuses()[0].resets_at
        == datetime(2025, 11, 22, tzinfo=ZoneInfo("America/Los_Angeles")).timestamp()
    )
    failing = []
    guard.subscribe(lambda alert: failing.append(1 / 0))  # a failing listener is only logged
    for _ in range(3):
        spend(store, counters, clock.now(), 0.0, provider="gemini")
    assert guard.statuses()[0].level == "reached"
    assert "100 tokens" in guard.alerts("gemini")[0].message


def test_settings_load_and_save() -> None:
    saved = {
        BUDGETS_KEY: [
            {"provider": "groq", "period": "day", "unit": "usd", "cap": 0.5},
            {"provider": "groq", "period": "week", "unit": "usd", "cap": 0.5},
            {"provider": "nobody", "period": "day", "unit": "usd", "cap": 1},
            {"provider": "groq", "period": "day", "unit": "usd", "cap": 0},
            "junk",
        ],
        THRESHOLD_KEY: 0.9,
    }
    settings = load_budget_settings(saved)
    assert settings.budgets == (Budget("groq", BudgetPeriod.DAY, BudgetUnit.USD, 0.5),)
    assert settings.alert_threshold == 0.9 and len(settings.warnings) == 4
    assert budgets_to_saved(settings.budgets) == [saved[BUDGETS_KEY][0]]  # type: ignore[index]
    assert load_budget_settings({THRESHOLD_KEY: 5}).alert_threshold == 0.8
    assert load_budget_settings({THRESHOLD_KEY: "x"}).warnings
    assert Budget("groq", BudgetPeriod.DAY, BudgetUnit.USD, 1).amount(0.004) == "$0.0040"

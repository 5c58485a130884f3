"""The main window's usage hooks: a dashboard action in the View menu, budget alerts in the status bar."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QMainWindow

from app.core.ratelimit.clock import FakeClock
from app.core.usage.budgets import Budget, BudgetGuard, BudgetPeriod, BudgetSettings, BudgetUnit
from app.core.usage.counters import UsageCounters
from app.store import RequestRecord, Store
from app.ui.usage_hooks import attach_usage


class Service:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.clock = FakeClock(1_763_700_000.0)
        self.counters = UsageCounters(store, clock=self.clock)
        budget = Budget("groq", BudgetPeriod.DAY, BudgetUnit.REQUESTS, 2)
        self.budgets = BudgetGuard(self.counters, BudgetSettings((budget,)), clock=self.clock)

    def spend(self) -> None:
        record = RequestRecord(provider="groq", model="m", started_at=self.clock.now(), outcome="ok")
        self.store.record_request(record)
        self.counters.record(record)


async def test_menu_action_dashboard_and_budget_alerts(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "h.db")
    service: Any = Service(store)
    service.spend()
    service.spend()  # the budget is reached before the window exists: shown at once
    window = QMainWindow()
    window.menuBar().addMenu("&View")
    hooks = attach_usage(window, service)
    assert "daily budget of 2 requests is reached" in hooks.budget_label.text()
    view = window.menuBar().actions()[0].menu()
    assert hooks.action in view.actions()  # type: ignore[union-attr]
    hooks.action.trigger()
    dashboard = hooks.dashboard
    assert dashboard is not None and dashboard.isVisible()
    assert hooks.open_dashboard() is dashboard  # one at a time
    for _ in range(200):
        if dashboard.data is not None:
            break
        await asyncio.sleep(0.02)
    assert dashboard.data is not None and dashboard.data.rows[0]["requests"] == 2
    dashboard.close()
    await asyncio.sleep(0)
    hooks.detach()
    window.deleteLater()
    other = QMainWindow()
    assert attach_usage(other, object()).action in other.menuBar().actions()[0].menu().actions()  # type: ignore[union-attr]
    other.deleteLater()
    await asyncio.sleep(0.05)
    store.close()

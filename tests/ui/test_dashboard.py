"""The dashboard shows exactly what the ledger holds for a seeded data set; sorting, charts, CSV export."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from app.core.ratelimit.clock import FakeClock
from app.core.usage.report import read_csv, report_rows
from app.store import Store
from app.ui.dashboard import COLUMNS, UsageDashboard, period_days
from tests.store.test_usage_store import START, TZ, expected, seeded


@dataclass
class FakeService:
    store: Store
    clock: FakeClock


@pytest.fixture
def service(tmp_path: Path) -> Any:
    store = Store.open(tmp_path / "d.db", usage_tz=TZ)
    for record in seeded(3000):
        store.record_request(record)
    yield FakeService(store, FakeClock(START + 9.5 * 86400))  # 6 Nov 2025, New York
    store.close()


async def closed(dashboard: UsageDashboard) -> None:
    """Close and delete the window, and let its last load finish, before the store goes."""
    if dashboard._task is not None and not dashboard._task.done():
        await asyncio.wait({dashboard._task}, timeout=10)
    dashboard.close()
    dashboard.deleteLater()
    await asyncio.sleep(0)


async def loaded(dashboard: UsageDashboard) -> None:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def done() -> None:
        if not future.done():
            future.set_result(None)

    dashboard.refreshed.connect(done)
    try:
        await asyncio.wait_for(future, 10)
    finally:
        dashboard.refreshed.disconnect(done)


def column(key: str) -> int:
    return next(i for i, c in enumerate(COLUMNS) if c.key == key)


async def test_figures_equal_the_ledger_and_export_round_trips(service: FakeService, tmp_path: Path) -> None:
    dashboard = UsageDashboard(service)
    await loaded(dashboard)  # "Last 30 days" by default: every seeded call
    data = dashboard.data
    assert data is not None and data.last == date(2025, 11, 6)
    want = expected(seeded(3000), data.first, data.last)
    assert len(dashboard.model.rows) == len(want) == dashboard.proxy.rowCount()
    for row in dashboard.model.rows:
        e = want[(row["provider"], row["model"])]
        assert (row["requests"], row["errors"], row["cached"]) == (e["requests"], e["errors"], e["cached"])
        assert (row["prompt_tokens"], row["completion_tokens"]) == (e["prompt"], e["completion"])
        assert row["errors_by_code"] == dict(e["codes"])
        assert (row["cost_usd"] is None) == e["unknown"]
        assert row["cache_hit_ratio"] == e["cached"] / (e["cached"] + e["requests"])
    assert dashboard.model.rows == report_rows(service.store.usage_report(data.first, data.last))
    # Unknown prices show nothing; known ones show dollars.
    groq = next(i for i, r in enumerate(dashboard.model.rows) if r["provider"] == "groq")
    ollama = next(i for i, r in enumerate(dashboard.model.rows) if r["provider"] == "ollama")
    assert dashboard.model.index(groq, column("cost_usd")).data() == ""
    assert dashboard.model.index(ollama, column("cost_usd")).data() == "$0.00"
    assert "3,000" not in dashboard.summary.text() and "requests" in dashboard.summary.text()
    # Sorting by a numeric column sorts by value.
    dashboard.table.sortByColumn(column("prompt_tokens"), Qt.SortOrder.AscendingOrder)
    values = [
        dashboard.proxy.index(r, column("prompt_tokens")).data(Qt.ItemDataRole.UserRole) for r in range(3)
    ]
    assert values == sorted(values)
    # Charts: one category per model, one cost series per provider with a known cost.
    assert len(dashboard.requests_chart.chart().series()) == 1
    cost_sets = dashboard.cost_chart.chart().series()[0].barSets()  # type: ignore[attr-defined]
    assert {s.label() for s in cost_sets} == {"Gemini"}  # Groq has unknown prices; Ollama costs nothing
    path = tmp_path / "usage.csv"
    await dashboard.export_csv(path)
    with path.open(encoding="utf-8") as stream:
        back = read_csv(stream)
    assert back == [{k: v for k, v in row.items() if k in back[0]} for row in dashboard.model.rows]
    assert "Exported 3 rows" in dashboard.footnote.text()
    await dashboard.export_csv(tmp_path / "missing" / "x.csv")
    assert "Could not export" in dashboard.footnote.text()
    await closed(dashboard)


async def test_changing_the_period_reloads(service: FakeService) -> None:
    dashboard = UsageDashboard(service)
    await loaded(dashboard)
    dashboard.period_combo.setCurrentIndex(0)  # today
    await loaded(dashboard)
    assert dashboard.data is not None and dashboard.data.first == dashboard.data.last == date(2025, 11, 6)
    assert dashboard.data.exact
    await closed(dashboard)


def test_periods() -> None:
    today = date(2025, 11, 22)
    assert period_days("today", today) == (today, today)
    assert period_days("7d", today) == (date(2025, 11, 16), today)
    assert period_days("month", today) == (date(2025, 11, 1), today)
    assert period_days("365d", today)[0] == date(2024, 11, 23)

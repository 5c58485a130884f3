"""Settings → Usage & costs: prices, budgets, threshold and cache settings load, validate and save."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from app.core.keys import KeyStore
from app.core.usage.budgets import Budget, BudgetPeriod, BudgetUnit
from app.store.response_cache import CacheStats
from app.ui.settings_dialog import SettingsDialog
from tests.ui.settings_fakes import FakeSettingsService, make_fake_service

pytestmark = pytest.mark.usefixtures("qasync_loop")


class FakeCache:
    def __init__(self) -> None:
        self.entries = 3

    def stats(self) -> CacheStats:
        return CacheStats(self.entries, 4096, 5, 5, 0)

    def clear(self) -> int:
        removed, self.entries = self.entries, 0
        return removed


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[FakeSettingsService, KeyStore]]:
    service, key_store = make_fake_service(tmp_path)
    service.cache = FakeCache()  # type: ignore[attr-defined]
    service.store.set_setting(
        "usage.budgets", [{"provider": "gemini", "period": "month", "unit": "usd", "cap": 5}]
    )
    yield service, key_store
    service.store.close()


def open_page(qtbot: QtBot, service: Any, key_store: Any) -> SettingsDialog:
    dialog = SettingsDialog(service, key_store)
    qtbot.addWidget(dialog)
    dialog.open()
    qtbot.waitUntil(lambda: dialog.is_loaded, timeout=3000)
    dialog.nav.setCurrentRow(1)
    assert dialog.pages.currentWidget() is dialog.usage_page
    return dialog


def find_row(dialog: SettingsDialog, model: str) -> int:
    table = dialog.usage_page.price_table
    return next(r for r in range(table.rowCount()) if table.item(r, 1).text() == model)


def test_loads_defaults_budgets_and_cache(qtbot: QtBot, setup: Any) -> None:
    dialog = open_page(qtbot, *setup)
    page = dialog.usage_page
    flash = find_row(dialog, "gemini-2.5-flash")
    assert page.price_table.item(flash, 2).text() == "0.3"
    assert "ai.google.dev" in page.price_table.item(flash, 4).text()
    assert page.budgets() == [{"provider": "gemini", "period": "month", "unit": "usd", "cap": 5.0}]
    assert page.threshold_spin.value() == 80 and page.ttl_spin.value() == 24
    assert "3 cached responses" in page.cache_label.text()
    assert dialog.changes()[0] == {}  # nothing edited: nothing to write
    page.clear_cache_button.click()
    qtbot.waitUntil(lambda: "Cleared 3 cached answers" in page.cache_label.text(), timeout=3000)


def test_edits_are_saved_and_applied(qtbot: QtBot, setup: Any) -> None:
    service, key_store = setup
    dialog = open_page(qtbot, service, key_store)
    page = dialog.usage_page
    page.price_table.item(find_row(dialog, "gemini-2.5-pro"), 2).setText("2")
    row = page.add_price_row("groq", "", None, None, "user")
    page.price_table.item(row, 1).setText("llama-3.1-8b-instant")
    page.price_table.item(row, 2).setText("0.05")
    page.price_table.item(row, 3).setText("0.08")
    page.add_budget_row(Budget("groq", BudgetPeriod.DAY, BudgetUnit.REQUESTS, 100))
    page.budget_table.setCurrentCell(0, 0)
    page.remove_budget_button.click()
    page.threshold_spin.setValue(90)
    page.ttl_spin.setValue(0)
    page.size_spin.setValue(20)
    dialog.save()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=3000)
    saved = service.store.settings_with_prefix("usage.")
    prices = {(p["provider"], p["model"]): p for p in saved["usage.prices"]}
    assert prices[("gemini", "gemini-2.5-pro")]["input_per_million"] == 2.0
    assert prices[("gemini", "gemini-2.5-pro")]["source"] == "user"
    assert prices[("groq", "llama-3.1-8b-instant")]["output_per_million"] == 0.08
    assert saved["usage.budgets"] == [{"provider": "groq", "period": "day", "unit": "requests", "cap": 100.0}]
    assert saved["usage.budget_alert_threshold"] == 0.9
    assert (saved["usage.cache_ttl_hours"], saved["usage.cache_max_mb"]) == (0, 20)
    assert service.applied == 1


@pytest.mark.parametrize(
    ("column", "text", "problem"),
    [
        (2, "cheap", "is not a number"),
        (3, "", "Give both prices"),
        (0, "no-such-provider", "is not a provider"),
    ],
)
def test_an_invalid_price_blocks_saving(
    qtbot: QtBot, setup: Any, column: int, text: str, problem: str
) -> None:
    service, key_store = setup
    dialog = open_page(qtbot, service, key_store)
    page = dialog.usage_page
    row = page.add_price_row("groq", "new-model", 1, 1, "user")
    page.price_table.item(row, column).setText(text)
    dialog.nav.setCurrentRow(0)
    dialog.save()
    assert dialog.pages.currentWidget() is page
    assert problem in page.price_error.text()
    assert dialog.isVisible() and service.applied == 0
    assert "usage.prices" not in service.store.settings_with_prefix("usage.")

"""Settings → Usage & costs: the price table, daily and monthly budgets with their alert threshold, and the
response cache (TTL, size cap, clear).

The page only edits values; the dialog loads them (`load_usage_form`, on a worker thread) and writes what
`changes()` returns in the same transaction as its other settings. Settings keys: `usage.prices`,
`usage.budgets`, `usage.budget_alert_threshold`, `usage.cache_ttl_hours`, `usage.cache_max_mb`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.catalogue import CATALOGUE
from app.core.usage.budgets import (
    BUDGETS_KEY,
    THRESHOLD_KEY,
    Budget,
    BudgetPeriod,
    BudgetUnit,
    load_budget_settings,
)
from app.core.usage.cache import MAX_MB_KEY, TTL_KEY, CacheSettings, load_cache_settings
from app.core.usage.pricing import PRICES_KEY, ModelPrice, PriceTable
from app.ui.tasks import run_blocking, start_task
from app.ui.widgets.labels import MutedLabel, SectionHeading
from app.ui.widgets.settings_page import prepare_settings_page

log = logging.getLogger(__name__)


def cloud_providers() -> tuple[str, ...]:
    """The providers that send prompts away (read now: named instances come and go)."""
    return tuple(name for name, entry in CATALOGUE.items() if entry.leaves_machine)


_PERIODS = (("per day", BudgetPeriod.DAY), ("per month", BudgetPeriod.MONTH))
_UNITS = (("USD", BudgetUnit.USD), ("tokens", BudgetUnit.TOKENS), ("requests", BudgetUnit.REQUESTS))


@dataclass(slots=True)
class UsageForm:
    prices: list[ModelPrice]  # the table in force, plus a row (price unknown) for each current cloud model
    unknown: list[tuple[str, str]]  # current models without a price
    budgets: tuple[Budget, ...]
    threshold: float
    cache: CacheSettings
    cache_summary: str


def load_usage_form(service: Any) -> UsageForm:
    """Blocking (SQLite): runs on a worker thread."""
    store = service.store
    saved = store.settings_with_prefix("usage.")
    table = PriceTable.from_saved(saved.get(PRICES_KEY))
    prices = table.entries()
    unknown: list[tuple[str, str]] = []
    for name in cloud_providers():
        model = service.provider_settings(name).model if hasattr(service, "provider_settings") else None
        if model and table.price(name, model) is None:
            unknown.append((name, model))
    budgets = load_budget_settings(saved)
    cache = load_cache_settings(getattr(service, "env", {}) or {}, saved)
    summary = ""
    cache_service = getattr(service, "cache", None)
    if cache_service is not None:
        summary = cache_summary(cache_service.stats())
    return UsageForm(prices, unknown, budgets.budgets, budgets.alert_threshold, cache, summary)


def cache_summary(stats: Any) -> str:
    ratio = "no lookups yet" if stats.hit_ratio is None else f"{stats.hit_ratio:.0%} of lookups answered"
    return (
        f"{stats.entries} cached response{'s' if stats.entries != 1 else ''} "
        f"({stats.size_bytes / 1024:,.0f} KB); {stats.hits} hits, {stats.misses} misses, {ratio}."
    )


def _section(parent: QWidget, title: str, hint: str) -> tuple[QFrame, QVBoxLayout]:
    frame = QFrame(parent)
    frame.setObjectName("settingsSection")
    layout = QVBoxLayout(frame)
    layout.setContentsMargins(16, 14, 16, 14)
    layout.setSpacing(10)
    layout.addWidget(SectionHeading(title, frame))
    layout.addWidget(MutedLabel(hint, frame))
    return frame, layout


def _price_text(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


class UsageSettingsPage(QScrollArea):
    """The page widget. `set_values(form)` fills it; `changes()` -> settings to write; `validate()`."""

    def __init__(self, service: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.service = service
        self._form: UsageForm | None = None
        body, page = prepare_settings_page(self, "Usage & costs")
        page.addWidget(
            MutedLabel(
                "What each model costs, how much each provider may spend, and how long answers are kept "
                "so the same request is not paid for twice.",
                body,
            )
        )

        # prices
        frame, box = _section(
            body,
            "Prices",
            "US dollars per million tokens. A model without a price shows no cost rather than a wrong one; "
            "Ollama runs on this computer and costs nothing. Defaults are list prices of the paid tiers, "
            "with their source.",
        )
        self.price_table = QTableWidget(0, 5, frame)
        self.price_table.setObjectName("priceTable")
        self.price_table.setAccessibleName("Prices per million tokens")
        self.price_table.setHorizontalHeaderLabels(["Provider", "Model", "Input $/M", "Output $/M", "Source"])
        self.price_table.verticalHeader().hide()
        self.price_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.price_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.price_table.setMinimumHeight(150)
        box.addWidget(self.price_table)
        self.price_error = QLabel(frame)
        self.price_error.setObjectName("fieldError")
        self.price_error.hide()
        box.addWidget(self.price_error)
        row = QHBoxLayout()
        self.add_price_button = QPushButton("Add a &model", frame)
        self.add_price_button.setObjectName("addPriceButton")
        self.add_price_button.setAccessibleName("Add a model to the price table")
        self.add_price_button.clicked.connect(lambda: self.add_price_row("groq", "", None, None, "user"))
        row.addWidget(self.add_price_button)
        row.addStretch(1)
        box.addLayout(row)
        page.addWidget(frame)

        # budgets
        frame, box = _section(
            body,
            "Budgets",
            "Caps per provider, on the provider's own day (Gemini's resets at midnight Pacific). At the "
            "alert threshold the window and the command line warn; at 100% the provider refuses new calls "
            "until the period resets or you raise the cap, and the fallback order applies.",
        )
        self.budget_table = QTableWidget(0, 4, frame)
        self.budget_table.setObjectName("budgetTable")
        self.budget_table.setAccessibleName("Budgets")
        self.budget_table.setHorizontalHeaderLabels(["Provider", "Cap", "Unit", "Period"])
        self.budget_table.verticalHeader().hide()
        self.budget_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.budget_table.setMinimumHeight(110)
        box.addWidget(self.budget_table)
        row = QHBoxLayout()
        self.add_budget_button = QPushButton("Add a &budget", frame)
        self.add_budget_button.setObjectName("addBudgetButton")
        self.add_budget_button.setAccessibleName("Add a budget")
        self.add_budget_button.clicked.connect(
            lambda: self.add_budget_row(Budget("groq", BudgetPeriod.DAY, BudgetUnit.USD, 0.5))
        )
        self.remove_budget_button = QPushButton("&Remove", frame)
        self.remove_budget_button.setObjectName("removeBudgetButton")
        self.remove_budget_button.setAccessibleName("Remove the selected budget")
        self.remove_budget_button.clicked.connect(self.remove_budget_row)
        row.addWidget(self.add_budget_button)
        row.addWidget(self.remove_budget_button)
        row.addStretch(1)
        box.addLayout(row)
        form = QFormLayout()
        self.threshold_spin = QSpinBox(frame)
        self.threshold_spin.setObjectName("thresholdSpin")
        self.threshold_spin.setRange(1, 100)
        self.threshold_spin.setSuffix(" %")
        self.threshold_spin.setAccessibleName("Alert threshold")
        form.addRow("&Alert at:", self.threshold_spin)
        box.addLayout(form)
        page.addWidget(frame)

        # cache
        frame, box = _section(
            body,
            "Response cache",
            "The same request within this time is answered from this computer: no request, no cost. "
            "Regenerate always asks the provider again. 0 hours turns the cache off.",
        )
        form = QFormLayout()
        self.ttl_spin = QDoubleSpinBox(frame)
        self.ttl_spin.setObjectName("cacheTtlSpin")
        self.ttl_spin.setRange(0, 24 * 365)
        self.ttl_spin.setDecimals(1)
        self.ttl_spin.setSuffix(" h")
        self.ttl_spin.setAccessibleName("Keep answers for (hours)")
        form.addRow("&Keep answers for:", self.ttl_spin)
        self.size_spin = QDoubleSpinBox(frame)
        self.size_spin.setObjectName("cacheSizeSpin")
        self.size_spin.setRange(1, 10_000)
        self.size_spin.setDecimals(0)
        self.size_spin.setSuffix(" MB")
        self.size_spin.setAccessibleName("Cache size cap (MB)")
        form.addRow("Si&ze cap:", self.size_spin)
        box.addLayout(form)
        row = QHBoxLayout()
        self.cache_label = MutedLabel("", frame)
        self.cache_label.setObjectName("cacheSummary")
        self.clear_cache_button = QPushButton("&Clear cache", frame)
        self.clear_cache_button.setObjectName("clearCacheButton")
        self.clear_cache_button.setAccessibleName("Clear the response cache")
        self.clear_cache_button.setAccessibleDescription("Deletes every cached answer now.")
        self.clear_cache_button.clicked.connect(lambda: start_task(self._clear_cache(), name="cache-clear"))
        row.addWidget(self.cache_label, 1)
        row.addWidget(self.clear_cache_button)
        box.addLayout(row)
        page.addWidget(frame)
        page.addStretch(1)
        for table in (self.price_table, self.budget_table):
            table.setCornerButtonEnabled(False)
            for button in table.findChildren(QAbstractButton):
                button.setAccessibleName("Select every row")

    # --- filling ------------------------------------------------------------------------------------------

    def set_values(self, form: UsageForm) -> None:
        self._form = form
        self.price_table.setRowCount(0)
        for price in form.prices:
            self.add_price_row(
                price.provider,
                price.model,
                price.input_per_million,
                price.output_per_million,
                price.source or "",
                as_of=price.as_of,
                fixed=True,
            )
        for provider, model in form.unknown:
            self.add_price_row(provider, model, None, None, "unknown: add the price to see costs", fixed=True)
        self.budget_table.setRowCount(0)
        for budget in form.budgets:
            self.add_budget_row(budget)
        self.threshold_spin.setValue(round(form.threshold * 100))
        self.ttl_spin.setValue(form.cache.ttl_hours)
        self.size_spin.setValue(form.cache.max_mb)
        self.cache_label.setText(form.cache_summary)

    def add_price_row(
        self,
        provider: str,
        model: str,
        input_price: float | None,
        output_price: float | None,
        source: str,
        *,
        as_of: str | None = None,
        fixed: bool = False,
    ) -> int:
        row = self.price_table.rowCount()
        self.price_table.insertRow(row)
        cells = [
            provider,
            model,
            _price_text(input_price),
            _price_text(output_price),
            f"{source} ({as_of})" if as_of else source,
        ]
        for column, text in enumerate(cells):
            item = QTableWidgetItem(text)
            editable = column in (2, 3) or (not fixed and column in (0, 1))
            if not editable:
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
            if column == 4:
                item.setData(Qt.ItemDataRole.UserRole, (source, as_of, input_price, output_price))
            self.price_table.setItem(row, column, item)
        return row

    def add_budget_row(self, budget: Budget) -> int:
        row = self.budget_table.rowCount()
        self.budget_table.insertRow(row)
        provider = QComboBox(self.budget_table)
        for name in CATALOGUE:
            provider.addItem(CATALOGUE[name].label, name)
        provider.setCurrentIndex(max(0, provider.findData(budget.provider)))
        cap = QDoubleSpinBox(self.budget_table)
        cap.setRange(0.0001, 1e9)
        cap.setDecimals(4)
        cap.setValue(budget.cap)
        unit = QComboBox(self.budget_table)
        for text, unit_value in _UNITS:
            unit.addItem(text, unit_value.value)
        unit.setCurrentIndex(max(0, unit.findData(budget.unit.value)))
        period = QComboBox(self.budget_table)
        for text, period_value in _PERIODS:
            period.addItem(text, period_value.value)
        period.setCurrentIndex(max(0, period.findData(budget.period.value)))
        names = ("Budget provider", "Budget cap", "Budget unit", "Budget period")
        for column, widget in enumerate((provider, cap, unit, period)):
            widget.setAccessibleName(f"{names[column]}, row {row + 1}")
            self.budget_table.setCellWidget(row, column, widget)
        return row

    def remove_budget_row(self) -> None:
        row = self.budget_table.currentRow()
        if row < 0:
            row = self.budget_table.rowCount() - 1
        if row >= 0:
            self.budget_table.removeRow(row)

    # --- reading ------------------------------------------------------------------------------------------

    def prices(self) -> list[dict[str, Any]] | None:
        """The price rows as saved, or None (with the error shown) when one is not a number."""
        rows: list[dict[str, Any]] = []
        self.price_error.hide()
        for row in range(self.price_table.rowCount()):
            texts = [(self.price_table.item(row, c) or QTableWidgetItem("")).text().strip() for c in range(4)]
            provider, model = texts[0].lower(), texts[1]
            if not model:
                continue
            values: list[float | None] = []
            for text in texts[2:]:
                try:
                    value = float(text) if text else None
                except ValueError:
                    value = math.nan
                if value is not None and (not math.isfinite(value) or value < 0):
                    self._price_problem(f"The price '{text}' for {model} is not a number of 0 or more.")
                    return None
                values.append(value)
            if provider not in CATALOGUE:
                self._price_problem(f"'{texts[0]}' is not a provider: use one of {', '.join(CATALOGUE)}.")
                return None
            source_item = self.price_table.item(row, 4)
            source, as_of, before_in, before_out = (
                source_item.data(Qt.ItemDataRole.UserRole)
                if source_item is not None
                else ("user", None, None, None)
            ) or ("user", None, None, None)
            if values[0] is None or values[1] is None:
                if values[0] is None and values[1] is None:
                    rows.append(
                        {
                            "provider": provider,
                            "model": model,
                            "input_per_million": None,
                            "output_per_million": None,
                        }
                    )
                    continue
                self._price_problem(f"Give both prices for {model}, or neither.")
                return None
            changed = (values[0], values[1]) != (before_in, before_out)
            rows.append(
                {
                    "provider": provider,
                    "model": model,
                    "input_per_million": values[0],
                    "output_per_million": values[1],
                    "source": "user" if changed else source,
                    "as_of": None if changed else as_of,
                }
            )
        return rows

    def _price_problem(self, message: str) -> None:
        self.price_error.setText(message)
        self.price_error.show()

    def budgets(self) -> list[dict[str, Any]]:
        rows = []
        for row in range(self.budget_table.rowCount()):
            provider, cap, unit, period = (self.budget_table.cellWidget(row, c) for c in range(4))
            rows.append(
                {
                    "provider": provider.currentData(),  # type: ignore[attr-defined]
                    "period": period.currentData(),  # type: ignore[attr-defined]
                    "unit": unit.currentData(),  # type: ignore[attr-defined]
                    "cap": cap.value(),  # type: ignore[attr-defined]
                }
            )
        return rows

    def validate(self) -> QWidget | None:
        return self.price_table if self.prices() is None else None

    def changes(self) -> dict[str, Any]:
        """The usage settings that differ from what was loaded."""
        form = self._form
        if form is None:
            return {}
        result: dict[str, Any] = {}
        prices = self.prices()
        if prices is not None:
            now = PriceTable.from_saved(prices).to_saved()
            if now != PriceTable(form.prices).to_saved():
                result[PRICES_KEY] = now
        budgets = self.budgets()
        if budgets != [b.as_dict() for b in form.budgets]:
            result[BUDGETS_KEY] = budgets
        threshold = self.threshold_spin.value() / 100
        if round(threshold * 100) != round(form.threshold * 100):
            result[THRESHOLD_KEY] = threshold
        if self.ttl_spin.value() != form.cache.ttl_hours:
            result[TTL_KEY] = self.ttl_spin.value()
        if self.size_spin.value() != form.cache.max_mb:
            result[MAX_MB_KEY] = self.size_spin.value()
        return result

    async def _clear_cache(self) -> None:
        cache = getattr(self.service, "cache", None)
        if cache is None:
            return
        self.clear_cache_button.setEnabled(False)
        try:
            removed = await run_blocking(cache.clear)
            stats = await run_blocking(cache.stats)
        except Exception:
            log.exception("[Settings] clearing the cache failed")
            self.cache_label.setText("Could not clear the cache; the log has the details.")
        else:
            self.cache_label.setText(
                f"Cleared {removed} cached answer{'s' if removed != 1 else ''}. " + cache_summary(stats)
            )
        finally:
            self.clear_cache_button.setEnabled(True)

"""The usage dashboard: for a chosen period, per provider and model, requests, errors by code, p50/p95 latency
and time to first token, tokens, cost and cache hit ratio, as charts (QtCharts) and a sortable table, with a
CSV export.

Queries run on a worker thread (`run_blocking`): the daily sums make a year of history a few thousand rows,
so a refresh is quick, but never on the GUI thread. Costs show only where every price is known.

Contract with the core: `service.store.usage_report(first_day, last_day, group_by)` and `service.clock`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCharts import (
    QBarCategoryAxis,
    QBarSet,
    QChart,
    QChartView,
    QStackedBarSeries,
    QValueAxis,
)
from PySide6.QtCore import (
    QAbstractTableModel,
    QMargins,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.core.catalogue import CATALOGUE
from app.core.usage.pricing import format_usd
from app.core.usage.report import report_rows, write_csv
from app.ui.tasks import run_blocking, start_task
from app.ui.widgets.labels import MutedLabel

log = logging.getLogger(__name__)

PERIODS: tuple[tuple[str, str], ...] = (
    ("today", "Today"),
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
    ("month", "This month"),
    ("90d", "Last 90 days"),
    ("365d", "Last 12 months"),
)
PROVIDER_COLORS = {"groq": QColor("#f55036"), "gemini": QColor("#4285f4"), "ollama": QColor("#7a7a7a")}


def period_days(period: str, today: date) -> tuple[date, date]:
    """(first, last) local days of a named period ending today."""
    if period == "today":
        return today, today
    if period == "month":
        return today.replace(day=1), today
    days = int(period.rstrip("d"))
    return today - timedelta(days=days - 1), today


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    title: str
    kind: str  # "text" | "int" | "ms" | "usd" | "ratio" | "codes"
    tip: str = ""


COLUMNS: tuple[Column, ...] = (
    Column("provider", "Provider", "text"),
    Column("model", "Model", "text"),
    Column("requests", "Requests", "int", "Calls sent to the provider (failed and cancelled included)"),
    Column("errors", "Errors", "int", "Calls that failed"),
    Column("latency_p50_ms", "p50 latency", "ms", "Median time for a complete answer"),
    Column("latency_p95_ms", "p95 latency", "ms", "95% of answers were at least this fast"),
    Column("ttft_p50_ms", "TTFT p50", "ms", "Median time to the first words"),
    Column("prompt_tokens", "Tokens in", "int"),
    Column("completion_tokens", "Tokens out", "int"),
    Column("cost_usd", "Cost", "usd", "Blank where a model's price is unknown (Settings → Usage & costs)"),
    Column("cache_hit_ratio", "Cache hits", "ratio", "Answers from the cache, of all answers"),
    Column("errors_by_code", "Errors by code", "codes", "Failed and cancelled calls per error code"),
)


def cell_text(column: Column, value: Any) -> str:
    if value is None:
        return "—" if column.kind in ("ms", "ratio") else ""
    if column.kind == "int":
        return f"{value:,}"
    if column.kind == "ms":
        return f"{value:,.0f} ms"
    if column.kind == "usd":
        return format_usd(value)
    if column.kind == "ratio":
        return f"{value:.0%}"
    if column.kind == "codes":
        return " · ".join(f"{_SHORT_CODES.get(code, code.lower())} {count}" for code, count in value.items())
    return str(value)


_SHORT_CODES = {
    "RATE_LIMIT_EXCEEDED": "rate limit",
    "QUOTA_EXHAUSTED": "quota",
    "NETWORK_ERROR": "network",
    "PROVIDER_UNAVAILABLE": "unavailable",
    "AUTHENTICATION_FAILED": "key",
    "MODEL_NOT_FOUND": "model",
    "INVALID_REQUEST": "request",
    "INVALID_RESPONSE": "reply",
    "CANCELLED": "cancelled",
}


class UsageTableModel(QAbstractTableModel):
    """The report rows; DisplayRole is formatted text, UserRole the raw value (what sorting uses)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[dict[str, Any]] = []

    def set_rows(self, rows: list[dict[str, Any]]) -> None:
        self.beginResetModel()
        self.rows = rows
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if not index.isValid():
            return None
        column = COLUMNS[index.column()]
        value = self.rows[index.row()].get(column.key)
        if role == Qt.ItemDataRole.DisplayRole:
            if column.key == "provider" and value in CATALOGUE:
                return CATALOGUE[value].label
            return cell_text(column, value)
        if role == Qt.ItemDataRole.UserRole:
            if column.kind == "codes":
                return sum((value or {}).values())
            if value is None:
                return -1.0 if column.kind != "text" else ""
            return value
        if role == Qt.ItemDataRole.TextAlignmentRole and column.kind not in ("text", "codes"):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column.kind == "codes" and value:
                return "\n".join(f"{code}: {count}" for code, count in value.items())
            return column.tip or None
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal:
            if role == Qt.ItemDataRole.DisplayRole:
                return COLUMNS[section].title
            if role == Qt.ItemDataRole.ToolTipRole:
                return COLUMNS[section].tip or None
        return None


@dataclass(frozen=True, slots=True)
class DashboardData:
    first: date
    last: date
    rows: list[dict[str, Any]]  # per provider and model
    daily: list[dict[str, Any]]  # per provider and day
    exact: bool


def load_dashboard_data(store: Any, first: date, last: date) -> DashboardData:
    """Blocking (SQLite): runs on a worker thread."""
    report = store.usage_report(first, last, ("provider", "model"))
    daily = store.usage_report(first, last, ("provider", "day"), with_latency=False)
    return DashboardData(first, last, report_rows(report), report_rows(daily), report.exact_percentiles)


class UsageDashboard(QWidget):
    """A window of its own, opened from the main window. `refreshed` fires after each load."""

    refreshed = Signal()

    def __init__(self, service: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.service = service
        self.setObjectName("usageDashboard")
        self.setWindowTitle("Usage dashboard — Scriptwright")
        self.resize(1100, 720)
        self.data: DashboardData | None = None
        self._generation = 0
        self._task: asyncio.Task[None] | None = None

        root = QVBoxLayout(self)
        root.setContentsMargins(16, 14, 16, 12)
        root.setSpacing(10)
        bar = QHBoxLayout()
        title = QLabel("Usage", self)
        font = title.font()
        font.setBold(True)
        if font.pointSizeF() > 0:
            font.setPointSizeF(font.pointSizeF() + 5)
        title.setFont(font)
        bar.addWidget(title)
        bar.addSpacing(12)
        self.period_combo = QComboBox(self)
        self.period_combo.setObjectName("periodCombo")
        self.period_combo.setAccessibleName("Period")
        for key, text in PERIODS:
            self.period_combo.addItem(text, key)
        self.period_combo.setCurrentIndex(2)
        self.period_combo.currentIndexChanged.connect(lambda _i: self.refresh())
        period_label = QLabel("&Period:", self)
        period_label.setBuddy(self.period_combo)
        bar.addWidget(period_label)
        bar.addWidget(self.period_combo)
        bar.addStretch(1)
        self.refresh_button = QPushButton("&Refresh", self)
        self.refresh_button.setObjectName("refreshButton")
        self.refresh_button.setAccessibleName("Refresh the figures")
        self.refresh_button.clicked.connect(self.refresh)
        self.export_button = QPushButton("&Export CSV…", self)
        self.export_button.setObjectName("exportButton")
        self.export_button.setAccessibleName("Export the table as CSV")
        self.export_button.clicked.connect(self.choose_export_path)
        bar.addWidget(self.refresh_button)
        bar.addWidget(self.export_button)
        root.addLayout(bar)
        self.summary = MutedLabel("Loading…", self)
        self.summary.setObjectName("dashboardSummary")
        root.addWidget(self.summary)

        splitter = QSplitter(Qt.Orientation.Vertical, self)
        charts = QWidget(splitter)
        chart_row = QHBoxLayout(charts)
        chart_row.setContentsMargins(0, 0, 0, 0)
        self.requests_chart = self._chart_view("Requests by model", charts)
        self.cost_chart = self._chart_view("Cost per day (USD)", charts)
        chart_row.addWidget(self.requests_chart, 1)
        chart_row.addWidget(self.cost_chart, 1)
        splitter.addWidget(charts)
        self.model = UsageTableModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(Qt.ItemDataRole.UserRole)
        self.table = QTableView(splitter)
        self.table.setObjectName("usageTable")
        self.table.setAccessibleName("Usage per provider and model")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(
            COLUMNS.index(next(c for c in COLUMNS if c.key == "requests")), Qt.SortOrder.DescendingOrder
        )
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        splitter.addWidget(self.table)
        splitter.setSizes([340, 300])
        root.addWidget(splitter, 1)
        self.footnote = MutedLabel("", self)
        root.addWidget(self.footnote)
        self.refresh()

    # --- loading ----------------------------------------------------------------------------------------

    def today(self) -> date:
        tz = getattr(self.service.store, "usage_tz", None)
        now = self.service.clock.now()
        return datetime.fromtimestamp(now, tz).date() if tz is not None else date.fromtimestamp(now)

    def period(self) -> tuple[date, date]:
        return period_days(str(self.period_combo.currentData()), self.today())

    def refresh(self) -> None:
        self._generation += 1
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self.summary.setText("Loading…")
        self._task = start_task(self._load(self._generation, *self.period()), name="dashboard-load")

    async def _load(self, generation: int, first: date, last: date) -> None:
        try:
            data = await run_blocking(load_dashboard_data, self.service.store, first, last)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("[Dashboard] could not read the usage")
            self.summary.setText("Could not read the usage; the log has the details.")
            return
        if generation == self._generation:
            self.show_data(data)

    def show_data(self, data: DashboardData) -> None:
        self.data = data
        self.model.set_rows(data.rows)
        total_requests = sum(r["requests"] for r in data.rows)
        cached = sum(r["cached"] for r in data.rows)
        errors = sum(r["errors"] for r in data.rows)
        costs = [r["cost_usd"] for r in data.rows]
        known = [c for c in costs if c is not None]
        cost = format_usd(sum(known)) if known else ""
        partial = " (some prices unknown)" if any(c is None for c in costs) and known else ""
        span = (
            data.first.isoformat()
            if data.first == data.last
            else f"{data.first.isoformat()} – {data.last.isoformat()}"
        )
        parts = [
            f"{span}:",
            f"{total_requests:,} requests",
            f"{errors:,} errors",
            f"{cached:,} from the cache",
        ]
        if cost:
            parts.append(f"{cost} spent{partial}")
        self.summary.setText("  ·  ".join([parts[0] + " " + parts[1], *parts[2:]]))
        self.footnote.setText(
            "Percentiles are exact."
            if data.exact
            else "Percentiles come from 5% histograms (within 2.5% of the exact values)."
        )
        self._draw_requests(data.rows)
        self._draw_costs(data)
        self.refreshed.emit()

    # --- charts -----------------------------------------------------------------------------------------

    def _chart_view(self, title: str, parent: QWidget) -> QChartView:
        chart = QChart()
        chart.setTitle(title)
        chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        chart.setMargins(QMargins(4, 4, 4, 4))
        chart.setBackgroundRoundness(6)
        view = QChartView(chart, parent)
        view.setRenderHint(QPainter.RenderHint.Antialiasing)
        view.setMinimumHeight(240)
        view.setAccessibleName(title)
        return view

    def _draw_requests(self, rows: list[dict[str, Any]]) -> None:
        chart = self.requests_chart.chart()
        chart.removeAllSeries()
        for axis in chart.axes():
            chart.removeAxis(axis)
        ordered = sorted(rows, key=lambda r: (r["provider"], r["model"]))
        series = QStackedBarSeries()
        parts = (("Answered", "#3a9a5b"), ("Errors", "#d64848"), ("From cache", "#8aa4c8"))
        values = {
            "Answered": [r["requests"] - r["errors"] for r in ordered],
            "Errors": [r["errors"] for r in ordered],
            "From cache": [r["cached"] for r in ordered],
        }
        for name, color in parts:
            bar = QBarSet(name)
            bar.setColor(QColor(color))
            bar.append([float(v) for v in values[name]])
            series.append(bar)
        chart.addSeries(series)
        categories = QBarCategoryAxis()
        categories.append([r["model"] or r["provider"] for r in ordered] or [""])
        categories.setTruncateLabels(False)
        chart.addAxis(categories, Qt.AlignmentFlag.AlignBottom)
        series.attachAxis(categories)
        axis = QValueAxis()
        top = max((r["requests"] + r["cached"] for r in ordered), default=0)
        axis.setRange(0, max(4, top))
        axis.applyNiceNumbers()
        axis.setLabelFormat("%d")
        chart.addAxis(axis, Qt.AlignmentFlag.AlignLeft)
        series.attachAxis(axis)

    def _draw_costs(self, data: DashboardData) -> None:
        chart = self.cost_chart.chart()
        chart.removeAllSeries()
        for axis in chart.axes():
            chart.removeAxis(axis)
        days = [
            (data.first + timedelta(days=i)).isoformat() for i in range((data.last - data.first).days + 1)
        ]
        by_provider: dict[str, dict[str, float]] = {}
        for row in data.daily:
            if row["cost_usd"] is not None:
                by_provider.setdefault(row["provider"], {})[row["day"]] = row["cost_usd"]
        by_provider = {p: costs for p, costs in by_provider.items() if any(costs.values())}  # local: free
        series = QStackedBarSeries()
        for provider in (p for p in CATALOGUE if p in by_provider):
            bar = QBarSet(CATALOGUE[provider].label)
            bar.setColor(PROVIDER_COLORS.get(provider, QColor("#999999")))
            bar.append([by_provider[provider].get(day, 0.0) for day in days])
            series.append(bar)
        series.setBarWidth(0.7)
        chart.addSeries(series)
        categories = QBarCategoryAxis()
        categories.append(
            [str(int(day[8:])) for day in days]
        )  # the day of the month: short enough for 31 bars
        small = categories.labelsFont()
        small.setPointSizeF(max(6.0, small.pointSizeF() - 2))
        categories.setLabelsFont(small)
        categories.setTruncateLabels(False)
        if len(days) > 16:
            categories.setLabelsAngle(-90)
        chart.addAxis(categories, Qt.AlignmentFlag.AlignBottom)
        series.attachAxis(categories)
        axis = QValueAxis()
        totals = [sum(costs.get(day, 0.0) for costs in by_provider.values()) for day in days]
        top = max(totals, default=0.0)
        axis.setRange(0, top if top > 0 else 0.01)
        axis.applyNiceNumbers()
        axis.setLabelFormat("$%.2f" if top >= 0.1 else "$%.3f")
        chart.addAxis(axis, Qt.AlignmentFlag.AlignLeft)
        series.attachAxis(axis)
        chart.legend().setVisible(bool(by_provider))

    # --- export -----------------------------------------------------------------------------------------

    def choose_export_path(self) -> None:
        dialog = QFileDialog(self, "Export usage as CSV")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilter("CSV files (*.csv)")
        dialog.setDefaultSuffix("csv")
        first, last = self.period()
        dialog.selectFile(f"scriptwright-usage-{first.isoformat()}-{last.isoformat()}.csv")
        dialog.fileSelected.connect(
            lambda path: start_task(self.export_csv(Path(path)), name="dashboard-export")
        )
        dialog.open()  # never exec(): it would nest an event loop under qasync

    async def export_csv(self, path: Path) -> None:
        rows = list(self.model.rows)

        def write() -> None:
            with path.open("w", encoding="utf-8", newline="") as stream:
                write_csv(rows, stream)

        try:
            await run_blocking(write)
        except OSError as error:
            self.footnote.setText(f"Could not export to {path}: {error.strerror or error}.")
            return
        self.footnote.setText(f"Exported {len(rows)} rows to {path}.")

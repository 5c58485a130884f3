"""What the main window needs from the usage feature, in one call: `attach_usage(window, service)`.

- a "Usage dashboard…" action (Ctrl+Shift+U) in the window's View menu (or its own menu when there is none)
  that opens the dashboard window, one at a time;
- a permanent status-bar label with the latest budget alert ("Groq has used 85% of its daily budget ...";
  at 100%: "Groq's daily budget of $0.50 is reached; it resets on 22 Nov."), shown at once for budgets
  already over their threshold and updated as alerts come (the service's `budgets.subscribe`).
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QMainWindow, QMenu

log = logging.getLogger(__name__)


class UsageHooks(QObject):
    """Owns the dashboard action, the dashboard window and the budget label of one main window."""

    def __init__(self, window: QMainWindow, service: Any) -> None:
        super().__init__(window)
        self.window = window
        self.service = service
        self.dashboard: Any = None
        self.action = QAction("Usage dashboard…", window)
        self.action.setObjectName("usageDashboardAction")
        self.action.setShortcut(QKeySequence("Ctrl+Shift+U"))
        self.action.setStatusTip("Requests, errors, latency, tokens and cost per provider and model")
        self.action.triggered.connect(lambda _checked=False: self.open_dashboard())
        window.addAction(self.action)
        self._menu(window).addAction(self.action)
        self.budget_label = QLabel(window.statusBar())
        self.budget_label.setObjectName("budgetAlertLabel")
        self.budget_label.setAccessibleName("Budget alert")
        self.budget_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.budget_label.hide()
        window.statusBar().addPermanentWidget(self.budget_label)
        budgets = getattr(service, "budgets", None)
        self._unsubscribe = budgets.subscribe(self.show_alert) if budgets is not None else None
        for alert in budgets.alerts() if budgets is not None else ():
            self.show_alert(alert)
        self.destroyed.connect(lambda *_: self.detach())

    @staticmethod
    def _menu(window: QMainWindow) -> QMenu:
        for action in window.menuBar().actions():
            menu = action.menu()
            if isinstance(menu, QMenu) and action.text().replace("&", "") == "View":
                menu.addSeparator()
                return menu
        return window.menuBar().addMenu("&Usage")

    def show_alert(self, alert: Any) -> None:
        """Called on the GUI thread (alerts come from the service, which runs on the qasync loop)."""
        reached = getattr(alert, "level", "") == "reached"
        self.budget_label.setText(("⛔ " if reached else "⚠ ") + alert.message)
        self.budget_label.setToolTip(alert.message)
        self.budget_label.show()

    def open_dashboard(self) -> Any:
        from app.ui.dashboard import UsageDashboard

        if self.dashboard is None:
            self.dashboard = UsageDashboard(self.service, self.window)
            self.dashboard.destroyed.connect(lambda *_: setattr(self, "dashboard", None))
            self.dashboard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        else:
            self.dashboard.refresh()
        self.dashboard.show()
        self.dashboard.raise_()
        self.dashboard.activateWindow()
        return self.dashboard

    def detach(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None


def attach_usage(window: QMainWindow, service: Any) -> UsageHooks:
    return UsageHooks(window, service)

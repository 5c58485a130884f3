"""The live rate-limit panel: where the user sees, per provider (and model), what they may send and when.

It renders `app.core.ratelimit.state.RateLimitState` and holds no rule of its own:

- one card per state row: the headline ("Groq: 2 requests used in last 60s (limit: 2 RPM)"), the countdown
  ("Next request available in: 15 seconds"), one gauge per limit window (what the provider reported, or what
  we count locally, always labelled which), the waits in progress with [Switch provider] and [Cancel wait],
  the circuit breaker ("Unavailable — next try at 14:32") and the last error;
- a compact mode (one line per row) for the dock, the detailed mode for the settings page;
- every state is spelt out in words; the accent colour of the status chip only repeats it.

Threading: the state calls its subscribers synchronously from wherever it changed (the asyncio loop, which
under qasync is the GUI thread). The callback only emits a Qt signal, delivered queued, so rendering always
happens in the GUI thread at a later event-loop turn; bursts are coalesced to one render per
`RENDER_INTERVAL_MS`. Countdowns move with time alone, without any event: one 1 s timer for the whole panel
re-renders from a fresh `snapshot()` while anything counts down, and stops when nothing does.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.core.catalogue import CATALOGUE
from app.core.errors import describe_wait
from app.core.ratelimit.limiter import format_clock_time
from app.core.ratelimit.snapshot import LimitSource, Window
from app.ui.widgets.labels import ElidedLabel, MutedLabel

log = logging.getLogger(__name__)

RENDER_INTERVAL_MS = 100  # at most one render per this many ms, whatever the burst of events
TICK_INTERVAL_MS = 1000

_WINDOW_ORDER = (
    Window.REQUESTS_PER_MINUTE,
    Window.REQUESTS_PER_DAY,
    Window.TOKENS_PER_MINUTE,
    Window.TOKENS_PER_DAY,
)
_WINDOW_TITLES = {
    Window.REQUESTS_PER_MINUTE: "Requests / minute",
    Window.REQUESTS_PER_DAY: "Requests / day",
    Window.TOKENS_PER_MINUTE: "Tokens / minute",
    Window.TOKENS_PER_DAY: "Tokens / day",
}


class LimitStateSource(Protocol):
    """The part of `RateLimitState` the panel reads: `subscribe(callback) -> unsubscribe`, `snapshot(now)`."""

    def subscribe(self, callback: Callable[[Any], None]) -> Callable[[], None]: ...

    def snapshot(self, now: float | None = None) -> Sequence[Any]: ...


# --- words ------------------------------------------------------------------------------------------------


def age_text(seconds: float) -> str:
    """ "just now", "3 s ago", "2 m ago", "1 h ago"."""
    seconds = max(0.0, seconds)
    if seconds < 1:
        return "just now"
    if seconds < 60:
        return f"{int(seconds)} s ago"
    if seconds < 3600:
        return f"{int(seconds // 60)} m ago"
    return f"{int(seconds // 3600)} h ago"


def next_available_sentence(next_free_at: float | None, now: float) -> str:
    """The seed's countdown line, for rows that do not bring their own."""
    if next_free_at is None or next_free_at <= now:
        return "Next request available: now"
    if math.isinf(next_free_at):
        return "Next request available: not until the limit is raised"
    if next_free_at - now < 3600:
        return f"Next request available in: {describe_wait(next_free_at - now, 'words')}"
    return f"Next request available {format_clock_time(next_free_at, now)}"


def provider_label(provider: str) -> str:
    entry = CATALOGUE.get(provider)
    return entry.label if entry is not None else provider.capitalize()


# --- the rows, read defensively ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Gauge:
    """One limit window as the panel shows it, whichever source told us."""

    window: Window
    limit: int | None
    remaining: int | None
    reset_at: float | None
    source: LimitSource
    observed_at: float | None

    @property
    def used_up(self) -> bool:
        return self.remaining is not None and self.remaining <= 0

    @property
    def title(self) -> str:
        return _WINDOW_TITLES[self.window]

    def value_text(self) -> str:
        """Like "988 / 1,000 left"."""
        if self.limit is not None and self.remaining is not None:
            return f"{max(0, self.remaining):,} / {self.limit:,} left"
        if self.remaining is not None:
            return f"{max(0, self.remaining):,} left"
        return f"limit {self.limit:,}" if self.limit is not None else "unknown"

    def detail_text(self, label: str, now: float) -> str:
        """Like "resets in 2 m 59 s · reported by Groq 3 s ago" or "used up, resets at 09:00"."""
        parts: list[str] = []
        if self.reset_at is not None and self.reset_at > now:
            if self.used_up and (self.window.is_daily or self.reset_at - now >= 3600):
                parts.append(f"used up, resets {format_clock_time(self.reset_at, now)}")
            elif self.used_up:
                parts.append(f"used up, resets in {describe_wait(self.reset_at - now, 'compact')}")
            else:
                parts.append(f"resets in {describe_wait(self.reset_at - now, 'compact')}")
        elif self.used_up:
            parts.append("used up")
        if self.source is LimitSource.PROVIDER:
            when = f" {age_text(now - self.observed_at)}" if self.observed_at is not None else ""
            parts.append(f"reported by {label}{when}")
        else:
            parts.append("estimated locally")
        return " · ".join(parts)


@dataclass(frozen=True, slots=True)
class WaitInfo:
    """A wait in progress: a 429 countdown, a pause before a retry, or a queue for a free slot."""

    provider: str
    model: str | None
    kind: str  # "rate_limit" or "retry"
    reason: str
    until: float
    ident: int  # the same wait keeps its ident across snapshots
    source: Any  # the state's wait view (has `cancel()`)

    def cancel(self) -> None:
        for target in (self.source, getattr(self.source, "handle", None)):
            cancel = getattr(target, "cancel", None)
            if callable(cancel):
                cancel()
                return

    def sentence(self, now: float) -> str:
        verb = "Retrying" if self.kind == "retry" else "Waiting for a free slot"
        reason = f" — {self.reason}" if self.reason else ""
        return f"{verb} in {describe_wait(self.until - now, 'words')}{reason}"


@dataclass(frozen=True, slots=True)
class CircuitInfo:
    state: str = "closed"  # "closed" | "open" | "half_open"
    next_probe_at: float | None = None
    consecutive_failures: int = 0
    reason: str | None = None

    @property
    def is_open(self) -> bool:
        return self.state == "open"

    @property
    def is_half_open(self) -> bool:
        return self.state == "half_open"

    def sentence(self, now: float) -> str:
        if self.is_open:
            if self.next_probe_at is not None and self.next_probe_at > now:
                return f"Unavailable — next try {format_clock_time(self.next_probe_at, now)}"
            return "Unavailable — the next request is a test"
        if self.is_half_open:
            return "Checking whether it is back — the next request is a test"
        return ""


@dataclass(frozen=True, slots=True)
class RowView:
    """One row of the state in the panel's terms."""

    key: tuple[str, str | None]
    provider: str
    model: str | None
    label: str
    headline: str
    next_available_text: str
    rpm_used: int
    rpm_limit: int | None
    next_free_at: float | None
    hold_until: float | None
    hold_reason: str | None
    gauges: tuple[Gauge, ...]
    waits: tuple[WaitInfo, ...]
    circuit: CircuitInfo
    error_message: str | None
    error_at: float | None

    @property
    def title(self) -> str:
        return f"{self.label} · {self.model}" if self.model else self.label

    @property
    def active_wait(self) -> WaitInfo | None:
        """The wait that ends last: the one the user most likely wants to cancel."""
        return max(self.waits, key=lambda w: w.until) if self.waits else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _int(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None and math.isfinite(number) else None


def _gauges(reported: Iterable[Any], dimensions: Iterable[Any]) -> tuple[Gauge, ...]:
    """What the provider reported where it did, else what the local limiter counts (windows with a limit)."""
    by_window_reported = {getattr(w, "window", None): w for w in reported}
    by_window_local = {getattr(d, "window", None): d for d in dimensions}
    result: list[Gauge] = []
    for window in _WINDOW_ORDER:
        seen = by_window_reported.get(window)
        if seen is not None:
            limit, remaining = _int(getattr(seen, "limit", None)), _int(getattr(seen, "remaining", None))
            if limit is not None or remaining is not None:
                source = getattr(seen, "source", LimitSource.PROVIDER)
                result.append(
                    Gauge(
                        window,
                        limit,
                        remaining,
                        _number(getattr(seen, "reset_at", None)),
                        LimitSource.LOCAL if source == LimitSource.LOCAL else LimitSource.PROVIDER,
                        _number(getattr(seen, "observed_at", None)),
                    )
                )
                continue
        local = by_window_local.get(window)
        limit = _int(getattr(local, "limit", None))
        if local is not None and limit is not None:
            used = _int(getattr(local, "used", 0)) or 0
            frees_at = _number(getattr(local, "frees_at", None))
            result.append(
                Gauge(
                    window, limit, max(0, limit - used), frees_at if used else None, LimitSource.LOCAL, None
                )
            )
    return tuple(result)


def _waits(raw: Iterable[Any], provider: str, model: str | None) -> tuple[WaitInfo, ...]:
    result = []
    for wait in raw:
        until = _number(getattr(wait, "until", None))
        if until is None or getattr(wait, "cancelled", False):
            continue
        handle = getattr(wait, "handle", None)
        result.append(
            WaitInfo(
                provider=str(getattr(wait, "provider", provider) or provider),
                model=getattr(wait, "model", model),
                kind=str(getattr(wait, "kind", "rate_limit")),
                reason=str(getattr(wait, "reason", "") or ""),
                until=until,
                ident=id(handle if handle is not None else wait),
                source=wait,
            )
        )
    return tuple(result)


def _circuit(raw: Any) -> CircuitInfo:
    if raw is None:
        return CircuitInfo()
    state = getattr(raw, "state", None)
    state_text = str(getattr(state, "value", state) or "")
    if state_text not in ("open", "half_open", "closed"):
        state_text = "open" if getattr(raw, "is_open", False) else "closed"
    return CircuitInfo(
        state=state_text,
        next_probe_at=_number(getattr(raw, "next_probe_at", None)),
        consecutive_failures=_int(getattr(raw, "consecutive_failures", 0)) or 0,
        reason=getattr(raw, "reason", None),
    )


def read_row(row: Any, now: float) -> RowView:
    """A state row (`ProviderLimitView`) in the panel's terms; anything missing takes a neutral default."""
    provider = str(getattr(row, "provider", "") or "?")
    model = getattr(row, "model", None) or None
    label = str(getattr(row, "label", "") or provider_label(provider))
    rpm_used = _int(getattr(row, "rpm_used", 0)) or 0
    rpm_limit = _int(getattr(row, "rpm_limit", None))
    next_free_at = _number(getattr(row, "next_free_at", None))
    headline = getattr(row, "headline", None)
    if not headline:
        noun = "request" if rpm_used == 1 else "requests"
        limit_text = f"limit: {rpm_limit} RPM" if rpm_limit is not None else "no local limit"
        headline = f"{label}: {rpm_used} {noun} used in last 60s ({limit_text})"
    next_text = getattr(row, "next_available_text", None) or next_available_sentence(next_free_at, now)
    error = getattr(row, "last_error", None)
    error_message = getattr(error, "message", None) if error is not None else None
    return RowView(
        key=(provider, model),
        provider=provider,
        model=model,
        label=label,
        headline=str(headline),
        next_available_text=str(next_text),
        rpm_used=rpm_used,
        rpm_limit=rpm_limit,
        next_free_at=next_free_at,
        hold_until=_number(getattr(row, "hold_until", None)),
        hold_reason=getattr(row, "hold_reason", None),
        gauges=_gauges(getattr(row, "reported", ()) or (), getattr(row, "dimensions", ()) or ()),
        waits=_waits(getattr(row, "active_waits", ()) or (), provider, model),
        circuit=_circuit(getattr(row, "circuit", None)),
        error_message=str(error_message) if error_message else None,
        error_at=_number(getattr(error, "at", None)),
    )


class Status:
    """The one-word state of a row; the chip's colour only repeats it."""

    READY = "Ready"
    AT_LIMIT = "At limit"
    WAITING = "Waiting"
    CHECKING = "Checking"
    DAILY_USED = "Daily quota used"
    UNAVAILABLE = "Unavailable"

    TONE: ClassVar[dict[str, str]] = {
        READY: "ok",
        AT_LIMIT: "warn",
        WAITING: "warn",
        CHECKING: "warn",
        DAILY_USED: "bad",
        UNAVAILABLE: "bad",
    }


def row_status(view: RowView, now: float) -> tuple[str, str]:
    """(status word, one-line summary): the chip, and the whole row in compact mode."""
    circuit = view.circuit
    if circuit.is_open:
        return Status.UNAVAILABLE, circuit.sentence(now)
    wait = view.active_wait
    if wait is not None and wait.until > now:
        verb = "Retrying" if wait.kind == "retry" else "Waiting"
        return Status.WAITING, f"{verb} — {describe_wait(wait.until - now, 'compact')} left"
    if circuit.is_half_open:
        return Status.CHECKING, "Checking whether it is back"
    for gauge in view.gauges:
        if gauge.window.is_daily and gauge.used_up:
            if gauge.reset_at is not None and gauge.reset_at > now:
                return (
                    Status.DAILY_USED,
                    f"Daily quota used — resets {format_clock_time(gauge.reset_at, now)}",
                )
            return Status.DAILY_USED, "Daily quota used"
    if view.next_free_at is not None and view.next_free_at > now:
        if math.isinf(view.next_free_at):
            return Status.AT_LIMIT, "At its limit"
        return Status.AT_LIMIT, f"Next request in {describe_wait(view.next_free_at - now, 'compact')}"
    if view.rpm_limit is not None:
        left = max(0, view.rpm_limit - view.rpm_used)
        return Status.READY, f"Ready — {left} of {view.rpm_limit} requests left this minute"
    return Status.READY, "Ready"


def counts_down(view: RowView, now: float) -> bool:
    """Does anything on this row change with time alone?"""
    if view.rpm_used or view.next_free_at is not None or view.hold_until is not None:
        return True
    if any(w.until > now for w in view.waits):
        return True
    if view.circuit.next_probe_at is not None and view.circuit.next_probe_at > now:
        return True
    if view.error_at is not None:
        return True  # "Last error (3 s ago)"
    return any(g.reset_at is not None and g.reset_at > now for g in view.gauges)


# --- widgets ----------------------------------------------------------------------------------------------

_TONE_RGB = {"ok": "46, 160, 90", "warn": "214, 150, 20", "bad": "214, 72, 72"}

_CARD_STYLE = """
QFrame#rateLimitCard {
    background: palette(base);
    border: 1px solid palette(mid);
    border-radius: 8px;
}
QFrame#rateLimitCard:focus { border: 1px solid palette(highlight); }
QProgressBar#limitGauge {
    border: none;
    border-radius: 3px;
    background: palette(mid);
    min-height: 6px;
    max-height: 6px;
}
QProgressBar#limitGauge::chunk { border-radius: 3px; background: palette(highlight); }
QFrame#waitBox {
    border: 1px solid rgba(214, 150, 20, 0.55);
    background: rgba(214, 150, 20, 0.10);
    border-radius: 6px;
}
QFrame#circuitBox {
    border: 1px solid rgba(214, 72, 72, 0.55);
    background: rgba(214, 72, 72, 0.08);
    border-radius: 6px;
}
"""


def _chip_style(tone: str) -> str:
    rgb = _TONE_RGB.get(tone, _TONE_RGB["ok"])
    return (
        f"QLabel {{ border: 1px solid rgba({rgb}, 0.65); background: rgba({rgb}, 0.16); "
        "border-radius: 9px; padding: 1px 8px; color: palette(window-text); font-weight: 600; }"
    )


def _bold(label: QLabel) -> QLabel:
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    return label


def _set_text(label: QLabel, text: str) -> None:
    if label.text() != text:
        label.setText(text)


class _GaugeRow:
    """One window, stacked so that it fits a narrow dock: the name and the value in words on one line, the bar
    under them, then when it resets and who said so."""

    def __init__(self, parent: QWidget, layout: QVBoxLayout) -> None:
        self.box = QWidget(parent)
        box = QVBoxLayout(self.box)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(3)
        top = QHBoxLayout()
        top.setSpacing(8)
        self.name = QLabel(self.box)
        self.value = QLabel(self.box)
        self.value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        top.addWidget(self.name)
        top.addStretch(1)
        top.addWidget(self.value)
        self.bar = QProgressBar(self.box)
        self.bar.setObjectName("limitGauge")
        self.bar.setTextVisible(False)  # the value is the label above it, in words
        self.bar.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.bar.setAccessibleName("Limit gauge")
        self.bar.setAccessibleDescription("Not in use.")
        self.detail = MutedLabel("", self.box, word_wrap=True)
        box.addLayout(top)
        box.addWidget(self.bar)
        box.addWidget(self.detail)
        layout.addWidget(self.box)
        self.window: Window | None = None

    def show(self, gauge: Gauge, label: str, now: float) -> None:
        self.window = gauge.window
        value = gauge.value_text()
        detail = gauge.detail_text(label, now)
        _set_text(self.name, gauge.title)
        _set_text(self.value, value)
        _set_text(self.detail, detail)
        if gauge.limit is not None and gauge.limit > 0:
            self.bar.setRange(0, gauge.limit)
            self.bar.setValue(max(0, min(gauge.limit, gauge.remaining or 0)))
        else:
            self.bar.setRange(0, 1)
            self.bar.setValue(0)
        self.bar.setFormat(value)
        self.bar.setAccessibleName(f"{label} {gauge.window.label}")
        self.bar.setAccessibleDescription(f"{value}; {detail}.")
        self.box.setVisible(True)

    def hide(self) -> None:
        self.window = None
        self.bar.setAccessibleName("Limit gauge")
        self.bar.setAccessibleDescription("Not in use.")
        self.box.setVisible(False)


class ProviderLimitCard(QFrame):
    """One row of the state: a provider (and model) with its limits, waits, circuit and last error."""

    cancel_clicked = Signal(object)  # the WaitInfo
    switch_chosen = Signal(str)  # the provider to switch to

    def __init__(self, key: tuple[str, str | None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.key = key
        self.setObjectName("rateLimitCard")
        self.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # a keyboard or screen-reader user can land on it
        self.setStyleSheet(_CARD_STYLE)
        self._wait: WaitInfo | None = None
        self._compact = False
        self._tone = ""
        label = provider_label(key[0])
        title = f"{label} · {key[1]}" if key[1] else label

        outer = QVBoxLayout(self)
        outer.setSpacing(6)

        header = QHBoxLayout()
        header.setSpacing(8)
        self.dot = QLabel(self)  # compact mode: the tone as a dot; the words beside it say the same
        self.dot.setObjectName("statusDot")
        self.dot.setFixedSize(8, 8)
        self.title = ElidedLabel(title, self)  # a long model name must not widen a narrow dock
        _bold(self.title)
        self.title.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.summary = ElidedLabel("", self)  # compact mode: the whole row in one phrase
        self.summary.setObjectName("compactSummary")
        self.summary.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.chip = QLabel(self)
        self.chip.setObjectName("statusChip")
        self.chip.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.chip.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.compact_cancel = QPushButton("Cancel", self)
        self.compact_cancel.setObjectName("compactCancelButton")
        header.addWidget(self.dot, 0, Qt.AlignmentFlag.AlignVCenter)
        header.addWidget(self.title)
        header.addWidget(self.summary, 1)
        header.addWidget(self.compact_cancel)
        header.addWidget(self.chip)
        outer.addLayout(header)
        self._show_model = True

        self.body = QWidget(self)
        body = QVBoxLayout(self.body)
        body.setContentsMargins(0, 0, 0, 0)
        body.setSpacing(4)
        self.headline = QLabel(self.body)
        self.headline.setObjectName("headlineLabel")
        self.headline.setWordWrap(True)
        self.next_available = QLabel(self.body)
        self.next_available.setObjectName("nextAvailableLabel")
        self.next_available.setWordWrap(True)
        body.addWidget(self.headline)
        body.addWidget(self.next_available)

        self.gauge_box = QWidget(self.body)
        gauges = QVBoxLayout(self.gauge_box)
        gauges.setContentsMargins(0, 8, 0, 2)
        gauges.setSpacing(10)
        self.gauge_rows = [_GaugeRow(self.gauge_box, gauges) for _ in _WINDOW_ORDER]
        body.addWidget(self.gauge_box)

        self.hold_label = MutedLabel("", self.body)
        self.hold_label.setObjectName("holdLabel")
        body.addWidget(self.hold_label)

        self.wait_box = QFrame(self.body)
        self.wait_box.setObjectName("waitBox")
        wait_layout = QVBoxLayout(self.wait_box)
        wait_layout.setContentsMargins(10, 8, 10, 8)
        wait_layout.setSpacing(6)
        self.wait_label = QLabel(self.wait_box)
        self.wait_label.setObjectName("waitLabel")
        self.wait_label.setWordWrap(True)
        self.wait_label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.switch_button = QPushButton("Switch provider", self.wait_box)
        self.switch_button.setObjectName("switchProviderButton")
        self.switch_menu = QMenu(self.switch_button)
        self.switch_menu.setAccessibleName("Providers to switch to")
        self._fill_switch_menu()
        # Named instances come and go while the card lives: the menu lists the providers known when it opens.
        self.switch_menu.aboutToShow.connect(self._fill_switch_menu)
        self.switch_button.setMenu(self.switch_menu)
        self.cancel_button = QPushButton("Cancel wait", self.wait_box)
        self.cancel_button.setObjectName("cancelWaitButton")
        wait_layout.addWidget(self.wait_label)
        wait_buttons = QHBoxLayout()
        wait_buttons.setSpacing(8)
        wait_buttons.addStretch(1)
        wait_buttons.addWidget(self.switch_button)
        wait_buttons.addWidget(self.cancel_button)
        wait_layout.addLayout(wait_buttons)
        body.addWidget(self.wait_box)

        self.circuit_box = QFrame(self.body)
        self.circuit_box.setObjectName("circuitBox")
        circuit_layout = QVBoxLayout(self.circuit_box)
        circuit_layout.setContentsMargins(10, 8, 10, 8)
        circuit_layout.setSpacing(2)
        self.circuit_label = _bold(QLabel(self.circuit_box))
        self.circuit_label.setObjectName("circuitLabel")
        self.circuit_label.setWordWrap(True)
        self.circuit_reason = MutedLabel("", self.circuit_box)
        circuit_layout.addWidget(self.circuit_label)
        circuit_layout.addWidget(self.circuit_reason)
        body.addWidget(self.circuit_box)

        self.error_label = MutedLabel("", self.body)
        self.error_label.setObjectName("lastErrorLabel")
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        body.addWidget(self.error_label)
        outer.addWidget(self.body)

        for button in (self.cancel_button, self.compact_cancel):
            button.clicked.connect(self._on_cancel)
            button.setAccessibleName(f"Cancel the wait for {title}")
            button.setAccessibleDescription(
                "Stops waiting; nothing more is sent and the text written so far is kept."
            )
        self.switch_button.setAccessibleName(f"Switch from {title} to another provider")
        self.switch_button.setAccessibleDescription(
            f"Stops waiting for {label} and offers the other providers for this generation."
        )
        self.setAccessibleName(f"{title} rate limits")
        self.set_compact(False)
        self._sync_wait_controls()

    # --- modes --------------------------------------------------------------------------------------------

    def set_compact(self, compact: bool) -> None:
        self._compact = compact
        self.body.setVisible(not compact)
        self.summary.setVisible(compact)
        self.dot.setVisible(compact)
        self.chip.setVisible(not compact)
        layout = self.layout()
        if layout is not None:
            layout.setContentsMargins(*((10, 6, 10, 6) if compact else (14, 12, 14, 12)))
        self._sync_wait_controls()

    @property
    def compact(self) -> bool:
        return self._compact

    @property
    def wait(self) -> WaitInfo | None:
        return self._wait

    # --- rendering ---------------------------------------------------------------------------------------

    def _fill_switch_menu(self) -> None:
        self.switch_menu.clear()
        for name, entry in CATALOGUE.items():
            if name == self.key[0]:
                continue
            action = QAction(f"Use {entry.display_name} instead", self.switch_menu)
            action.setData(name)
            action.triggered.connect(lambda _checked=False, target=name: self.switch_chosen.emit(target))
            self.switch_menu.addAction(action)

    def show_row(self, view: RowView, now: float, *, show_model: bool = True) -> None:
        """Show `view` as of `now`. `show_model`: name the model in compact mode (rows per model)."""
        label = view.label
        if self._compact:
            model = view.model or ""
            short = model if len(model) <= 18 else model[:17] + "…"
            _set_text(self.title, f"{label} · {short}" if show_model and model else label)
        else:
            _set_text(self.title, view.title)
        status, summary = row_status(view, now)
        _set_text(self.chip, status)
        tone = Status.TONE[status]
        if tone != self._tone:
            self._tone = tone
            self.chip.setStyleSheet(_chip_style(tone))
            rgb = _TONE_RGB[tone]
            self.dot.setStyleSheet(f"QLabel {{ background: rgb({rgb}); border-radius: 4px; }}")
        self.summary.setText(summary)

        _set_text(self.headline, view.headline)
        _set_text(self.next_available, view.next_available_text)

        for row, gauge in zip(self.gauge_rows, view.gauges, strict=False):
            row.show(gauge, label, now)
        for row in self.gauge_rows[len(view.gauges) :]:
            row.hide()
        self.gauge_box.setVisible(bool(view.gauges))

        wait = view.active_wait if view.active_wait is not None and view.active_wait.until > now else None
        self._wait = wait
        wait_text = wait.sentence(now) if wait is not None else ""
        _set_text(self.wait_label, wait_text)
        self._sync_wait_controls()

        # A wait already says why; the hold line is for a pause nobody waits in yet.
        hold = view.hold_reason if view.hold_until is not None and view.hold_until > now else None
        hold_text = f"Paused: {hold}." if hold and wait is None else ""
        _set_text(self.hold_label, hold_text.replace("..", "."))
        self.hold_label.setVisible(bool(hold_text))

        circuit = view.circuit
        circuit_text = circuit.sentence(now)
        reason = ""
        if circuit_text:
            reason = circuit.reason or ""
            if circuit.consecutive_failures:
                noun = "failure" if circuit.consecutive_failures == 1 else "failures"
                reason = f"{circuit.consecutive_failures} {noun} in a row" + (f": {reason}" if reason else "")
        _set_text(self.circuit_label, circuit_text)
        _set_text(self.circuit_reason, reason)
        self.circuit_reason.setVisible(bool(reason))
        self.circuit_box.setVisible(bool(circuit_text))

        error_text = ""
        if view.error_message:
            when = f" ({age_text(now - view.error_at)})" if view.error_at is not None else ""
            error_text = f"Last error{when}: {view.error_message}"
        _set_text(self.error_label, error_text)
        self.error_label.setVisible(bool(error_text))

        parts = [
            f"{status}: {summary}" if summary != status else status,
            view.headline,
            view.next_available_text,
            *(f"{g.title}: {g.value_text()}, {g.detail_text(label, now)}" for g in view.gauges),
            wait_text,
            circuit_text,
            error_text,
        ]
        description = ". ".join(p.rstrip(".") for p in parts if p) + "."
        self.setAccessibleDescription(description)
        self.setToolTip(description if self._compact else "")
        self.summary.setToolTip(description)

    def _sync_wait_controls(self) -> None:
        waiting = self._wait is not None
        self.wait_box.setVisible(waiting)
        self.compact_cancel.setVisible(waiting and self._compact)

    def _on_cancel(self) -> None:
        if self._wait is not None:
            self.cancel_clicked.emit(self._wait)


class _Relay(QObject):
    """Carries the state's plain callbacks into Qt: emitting is all a callback does."""

    changed = Signal()


class RateLimitPanel(QWidget):
    """Renders a `RateLimitState`. Its signals carry the user's intent to the window.

    `cancel_wait_requested(provider, model)` (model "" where limits are per provider) is emitted after
    [Cancel wait] has cancelled the wait itself; `switch_provider_requested(provider)` names the provider the
    user picked from [Switch provider].
    """

    cancel_wait_requested = Signal(str, str)
    switch_provider_requested = Signal(str)

    def __init__(
        self,
        state: LimitStateSource,
        parent: QWidget | None = None,
        *,
        clock: Callable[[], float] | None = None,
        compact: bool = False,
        scrollable: bool = True,
    ) -> None:
        """`scrollable`: scroll when the host is shorter than the cards (a dock); False where the host scrolls
        already (the settings page)."""
        super().__init__(parent)
        self.setObjectName("rateLimitPanel")
        self.setAccessibleName("Rate limit status")
        self.setAccessibleDescription(
            "What each provider allows right now, when the next request can go, and any wait in progress."
        )
        self._state = state
        state_clock = getattr(state, "clock", None)
        self._now: Callable[[], float] = clock or getattr(state_clock, "now", None) or time.time
        self._compact = compact
        self._cards: dict[tuple[str, str | None], ProviderLimitCard] = {}
        self._keys: list[tuple[str, str | None]] = []  # the state's order
        self._waits_seen: dict[tuple[str, str | None], set[int]] = {}
        self._last_render = -math.inf
        self.render_count = 0  # for tests and diagnostics

        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self.content = QWidget()
        self.content.setObjectName("rateLimitCards")
        layout = QVBoxLayout(self.content)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        self._cards_layout = layout
        self.scroll_area: QScrollArea | None = None
        if scrollable:
            self.scroll_area = QScrollArea(self)
            self.scroll_area.setObjectName("rateLimitScroll")
            self.scroll_area.setWidgetResizable(True)
            self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
            self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            self.scroll_area.setAccessibleName("Rate limit status")
            self.scroll_area.setAccessibleDescription("Scrolls when the cards do not fit.")
            self.scroll_area.setWidget(self.content)
            layout.setContentsMargins(
                8, 4, 8, 8
            )  # room between the cards, the dock's edge and the scroll bar
            outer.addWidget(self.scroll_area)
        else:
            self.content.setParent(self)
            outer.addWidget(self.content)
        self.empty_label = MutedLabel(
            "No provider has been used yet. Limits, countdowns and waits appear here from the first request.",
            self.content,
        )
        self.empty_label.setObjectName("rateLimitEmpty")
        layout.addWidget(self.empty_label)
        layout.addStretch(1)

        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.timeout.connect(self.refresh)
        self._tick_timer = QTimer(self)
        self._tick_timer.setInterval(TICK_INTERVAL_MS)
        self._tick_timer.timeout.connect(self.refresh)

        relay = _Relay(self)
        relay.changed.connect(self._schedule_render, Qt.ConnectionType.QueuedConnection)
        alive = [True]

        def on_change(*_args: object) -> None:
            if alive[0]:
                relay.changed.emit()

        unsubscribe = state.subscribe(on_change)

        def detach(*_args: object) -> None:
            if alive[0]:
                alive[0] = False
                unsubscribe()

        self._detach = detach
        self.destroyed.connect(detach)
        self.refresh()

    # --- public -------------------------------------------------------------------------------------------

    def set_compact(self, compact: bool) -> None:
        """One line per row (the dock) or the full cards (the settings page)."""
        self._compact = compact
        self._cards_layout.setSpacing(4 if compact else 8)
        for card in self._cards.values():
            card.set_compact(compact)
        self.refresh()

    @property
    def compact(self) -> bool:
        return self._compact

    @property
    def ticking(self) -> bool:
        """Is the once-a-second timer running (something counts down)?"""
        return self._tick_timer.isActive()

    def card(self, provider: str, model: str | None = None) -> ProviderLimitCard | None:
        return self._cards.get((provider, model))

    def cards(self) -> list[ProviderLimitCard]:
        return [self._cards[key] for key in self._keys if key in self._cards]

    def detach(self) -> None:
        """Stop following the state (the panel keeps what it shows)."""
        self._detach()
        self._tick_timer.stop()
        self._render_timer.stop()

    def refresh(self) -> None:
        """Render now, from a fresh snapshot."""
        self._render_timer.stop()
        self._last_render = time.monotonic()
        self.render_count += 1
        now = self._now()
        try:
            views = [read_row(row, now) for row in self._state.snapshot(now)]
        except Exception:  # the panel must never take the window down; the log keeps the detail
            log.exception("The rate-limit state could not be read")
            views = []
        self._sync_cards(views, now)
        if any(counts_down(view, now) for view in views):
            if not self._tick_timer.isActive():
                self._tick_timer.start()
        else:
            self._tick_timer.stop()

    # --- internals ---------------------------------------------------------------------------------------

    def _schedule_render(self) -> None:
        """Render now unless one happened in the last RENDER_INTERVAL_MS; then once, when that has passed."""
        if self._render_timer.isActive():
            return
        elapsed_ms = (time.monotonic() - self._last_render) * 1000
        if elapsed_ms >= RENDER_INTERVAL_MS:
            self.refresh()
        else:
            self._render_timer.start(max(1, math.ceil(RENDER_INTERVAL_MS - elapsed_ms)))

    def _sync_cards(self, views: list[RowView], now: float) -> None:
        keys = [view.key for view in views]
        per_provider: dict[str, int] = {}
        for view in views:
            per_provider[view.provider] = per_provider.get(view.provider, 0) + 1
        for key in [k for k in self._cards if k not in keys]:
            gone = self._cards.pop(key)
            self._waits_seen.pop(key, None)
            self._cards_layout.removeWidget(gone)
            gone.hide()
            gone.deleteLater()
        for index, view in enumerate(views):
            card = self._cards.get(view.key)
            if card is None:
                card = ProviderLimitCard(view.key, self.content)
                card.set_compact(self._compact)
                card.cancel_clicked.connect(self._on_cancel_clicked)
                card.switch_chosen.connect(self.switch_provider_requested)
                self._cards[view.key] = card
            if self._cards_layout.indexOf(card) != index + 1:  # keep the state's order, after the empty label
                self._cards_layout.removeWidget(card)
                self._cards_layout.insertWidget(index + 1, card)
            card.show_row(view, now, show_model=per_provider[view.provider] > 1)
            self._announce_waits(card, view, now)
        self._keys = keys
        self.empty_label.setVisible(not views)

    def _announce_waits(self, card: ProviderLimitCard, view: RowView, now: float) -> None:
        """Tell screen readers when a wait starts and when it ends (not on every tick)."""
        current = {w.ident for w in view.waits if w.until > now}
        seen = self._waits_seen.get(view.key, set())
        self._waits_seen[view.key] = current
        if not _screen_reader_active():
            return
        wait = view.active_wait
        if current - seen and wait is not None:
            _announce(card, f"{view.title}: {wait.sentence(now)}.")
        elif seen and not current:
            _announce(card, f"{view.title}: the wait is over.")

    def _on_cancel_clicked(self, wait: WaitInfo) -> None:
        wait.cancel()
        self.cancel_wait_requested.emit(wait.provider, wait.model or "")
        self._schedule_render()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            for card in self._cards.values():
                card.setStyleSheet(_CARD_STYLE)  # palette(...) in a style sheet resolves when it is set


def _screen_reader_active() -> bool:
    # Imported on first use, after the window has painted: PySide builds a type with its enums (~3 ms).
    from PySide6.QtGui import QAccessible

    return bool(QAccessible.isActive())


def _announce(widget: QWidget, message: str) -> None:
    """Ask screen readers to say `message` (Qt 6.8+; older Qt skips it, the card description says it too)."""
    from PySide6.QtGui import QAccessible

    try:
        from PySide6.QtGui import QAccessibleAnnouncementEvent
    except ImportError:
        return
    QAccessible.updateAccessibility(QAccessibleAnnouncementEvent(widget, message))

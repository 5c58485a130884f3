"""The words of the status bar and the error banner: pure functions, so every sentence is unit-tested.

The status bar names the current provider and where it stands ("Groq · ready", "Groq · waiting 12 s", "Groq ·
daily quota used up until 09:00", "Groq · unavailable"); an error becomes one actionable sentence and the
action that fixes it ("Groq rejected the API key — open Settings to fix it" + [Open Settings]).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, NamedTuple

if TYPE_CHECKING:
    from app.store import ScriptRecord

Action = Literal["settings", "retry"]
StateKind = Literal["ready", "next", "waiting", "daily", "unavailable", "unknown"]


def provider_label(name: str | None) -> str:
    if not name:
        return "Provider"
    from app.core.catalogue import CATALOGUE

    entry = CATALOGUE.get(name)
    return entry.label if entry else name


def possessive(label: str) -> str:
    return f"{label}'" if label.endswith("s") else f"{label}'s"


def clock_time(epoch_seconds: float, now_epoch: float | None = None) -> str:
    """A reset moment as the user's local wall-clock time, '09:00' (with the day when it is not today)."""
    from datetime import datetime

    moment = datetime.fromtimestamp(epoch_seconds).astimezone()
    now = (
        datetime.fromtimestamp(now_epoch).astimezone()
        if now_epoch is not None
        else datetime.now().astimezone()
    )
    if moment.date() == now.date():
        return moment.strftime("%H:%M")
    if (moment.date() - now.date()).days == 1:
        return f"tomorrow {moment.strftime('%H:%M')}"
    return moment.strftime("%a %H:%M")


class ProviderState(NamedTuple):
    """Where one provider stands, reduced to what the status bar says."""

    provider: str
    kind: StateKind = "ready"
    until: float | None = None  # epoch seconds: end of a wait, or when a daily quota resets
    reason: str | None = None  # e.g. "requests per minute"

    def text(self, now: float, model: str | None = None) -> str:
        # Here, not at the top: the window paints before any of the core is imported (~1.5 ms).
        from app.core.errors import describe_wait

        label = provider_label(self.provider)
        head = f"{label} · {model}" if model else label
        if self.kind == "waiting":
            if self.until is not None and self.until > now:
                return f"{head} · waiting {describe_wait(self.until - now)}"
            return f"{head} · waiting"
        if self.kind == "daily":
            if self.until is not None:
                return f"{head} · daily quota used up until {clock_time(self.until, now)}"
            return f"{head} · daily quota used up"
        if self.kind == "unavailable":
            if self.until is not None and self.until > now:
                return f"{head} · unavailable, trying again in {describe_wait(self.until - now)}"
            return f"{head} · unavailable"
        if self.kind == "next":
            if self.until is not None and self.until > now:
                return f"{head} · next request in {describe_wait(self.until - now)}"
            return f"{head} · ready"
        if self.kind == "unknown":
            return head
        return f"{head} · ready"


def _is_daily(window: Any) -> bool:
    return bool(getattr(window, "is_daily", False))


def provider_state(rows: Any, provider: str, now: float, model: str | None = None) -> ProviderState:
    """Reduce `RateLimitState.snapshot()` rows (`ProviderLimitView`) to the state of `provider`.

    Only rows for `provider` count (and, when `model` is given, its provider-wide row and that model's row).
    Precedence: daily quota used up > unavailable (circuit open) > waiting (a wait or a pause in progress) >
    next request not yet free > ready.
    """
    daily: float | None = None
    daily_found = False
    unavailable: ProviderState | None = None
    waiting: ProviderState | None = None
    throttled: float | None = None
    for row in rows or ():
        if getattr(row, "provider", None) != provider:
            continue
        row_model = getattr(row, "model", None)
        if model is not None and row_model not in (None, model):
            continue
        for reported in getattr(row, "reported", ()) or ():
            reset_at = getattr(reported, "reset_at", None)
            used_up = (
                _is_daily(getattr(reported, "window", None)) and getattr(reported, "remaining", None) == 0
            )
            if used_up and (reset_at is None or reset_at > now):
                daily_found = True
                daily = max(daily or 0.0, reset_at) if reset_at else daily
        for usage in getattr(row, "dimensions", ()) or ():
            if _is_daily(getattr(usage, "window", None)) and getattr(usage, "full", False):
                frees_at = getattr(usage, "frees_at", None)
                daily_found = True
                daily = max(daily or 0.0, frees_at) if frees_at else daily
        hold_until = getattr(row, "hold_until", None)
        hold_reason = getattr(row, "hold_reason", None)
        if hold_until is not None and hold_until > now:
            if "day" in str(hold_reason or "").lower():
                daily_found = True
                daily = max(daily or 0.0, hold_until)
            elif waiting is None or (waiting.until or 0) < hold_until:
                waiting = ProviderState(provider, "waiting", hold_until, hold_reason)
        circuit = getattr(row, "circuit", None)
        if circuit is not None and getattr(circuit, "is_open", False):
            unavailable = ProviderState(
                provider,
                "unavailable",
                getattr(circuit, "next_probe_at", None),
                getattr(circuit, "reason", None),
            )
        for wait in getattr(row, "active_waits", ()) or ():
            until = getattr(wait, "until", None)
            if until is not None and until > now and (waiting is None or (waiting.until or 0) < until):
                waiting = ProviderState(provider, "waiting", until, getattr(wait, "reason", None))
        next_free = getattr(row, "next_free_at", None)
        if next_free is not None and next_free > now:
            throttled = max(throttled or 0.0, next_free)
    if daily_found:
        return ProviderState(provider, "daily", daily)
    if unavailable is not None:
        return unavailable
    if waiting is not None:
        return waiting
    if throttled is not None:
        return ProviderState(provider, "next", throttled)
    return ProviderState(provider, "ready")


def actionable_error(error: Any, provider: str | None = None) -> tuple[str, Action | None]:
    """(short status-bar sentence, the action that fixes it) for an LLMProviderError (or anything else)."""
    code = str(getattr(getattr(error, "code", None), "value", getattr(error, "code", "")) or "")
    label = provider_label(getattr(error, "provider", None) or provider)
    if code == "AUTHENTICATION_FAILED":
        return f"{label} rejected the API key — open Settings to fix it", "settings"
    if code == "QUOTA_EXHAUSTED":
        reset_at = getattr(error, "reset_at", None)
        until = f" until {reset_at.astimezone().strftime('%H:%M')}" if reset_at is not None else ""
        return (
            f"{possessive(label)} daily quota is used up{until} — choose another provider in Settings",
            "settings",
        )
    if code == "MODEL_NOT_FOUND":
        return f"{label} doesn't have that model — choose another in Settings", "settings"
    if code == "RATE_LIMIT_EXCEEDED":
        retry_after = getattr(error, "retry_after", None)
        wait = " — try again shortly"
        if retry_after:
            from app.core.errors import describe_wait

            wait = f" — try again in {describe_wait(float(retry_after))}"
        return f"{label} is busy (rate limit){wait}", "retry"
    if code in ("NETWORK_ERROR", "PROVIDER_UNAVAILABLE"):
        if (getattr(error, "provider", None) or provider) == "ollama":
            return "Ollama isn't answering — start Ollama, then try again", "retry"
        return f"{label} can't be reached — check the connection and try again", "retry"
    if code == "INVALID_REQUEST":
        return f"{label} refused the request — {error}", "settings"
    if code == "INVALID_RESPONSE":
        return f"{label} sent an incomplete reply — try again", "retry"
    return f"Something went wrong: {error}", "retry"


def status_note(record: ScriptRecord) -> str | None:
    """One sentence for a script that did not complete (None when it did)."""
    if record.status == "cancelled":
        return "Cancelled: this is the partial text written before it was stopped."
    if record.status == "failed":
        reason = f" {record.error_message}" if record.error_message else ""
        if record.text:
            return f"Failed part-way: this is the partial text.{reason}"
        return f"Failed before any text was written.{reason}"
    if record.status == "generating":
        return "Still being written (or interrupted by a crash): the text may be incomplete."
    return None


ACTION_LABELS: dict[Action, str] = {"settings": "Open Settings", "retry": "Try again"}

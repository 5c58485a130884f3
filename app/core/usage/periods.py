"""Each provider's own day and month, DST-correct, and the words that name a reset.

A provider's day is its quota day: Gemini's resets at midnight America/Los_Angeles (the catalogue's
`daily_reset_timezone`); a provider that documents no calendar day (Groq, Ollama) counts UTC days. Groq's
own headers and 429 bodies still say when its rolling quota frees; the limiter holds on those.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import cache
from zoneinfo import ZoneInfo

from app.core.catalogue import CATALOGUE


@cache
def usage_timezone(provider: str) -> tzinfo:
    """The zone whose midnight starts `provider`'s day: the catalogue's quota zone, else UTC."""
    entry = CATALOGUE.get(provider)
    name = entry.daily_reset_timezone if entry is not None else None
    return ZoneInfo(name) if name else UTC


def day_bounds(ts: float, tz: tzinfo) -> tuple[float, float]:
    """(start, end) in epoch seconds of the calendar day in `tz` that contains `ts` (23 or 25 h at DST)."""
    today: date = datetime.fromtimestamp(ts, tz).date()
    return _midnight(today, tz), _midnight(today + timedelta(days=1), tz)


def month_bounds(ts: float, tz: tzinfo) -> tuple[float, float]:
    """(start, end) in epoch seconds of the calendar month in `tz` that contains `ts`."""
    today = datetime.fromtimestamp(ts, tz).date()
    first = today.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return _midnight(first, tz), _midnight(following, tz)


def _midnight(day: date, tz: tzinfo) -> float:
    return datetime.combine(day, time(0), tzinfo=tz).timestamp()


def local_zone(tz: tzinfo | None = None) -> tzinfo:
    """`tz`, or this computer's zone."""
    if tz is not None:
        return tz
    zone = datetime.now().astimezone().tzinfo
    assert zone is not None
    return zone


def local_day(ts: float, tz: tzinfo | None = None) -> str:
    """The user's calendar day of `ts` as YYYY-MM-DD (the dashboard's and the CLI's days)."""
    return datetime.fromtimestamp(ts, local_zone(tz)).date().isoformat()


def local_day_bounds(first: date, last: date, tz: tzinfo | None = None) -> tuple[float, float]:
    """Epoch seconds from the start of local day `first` to the end of local day `last`."""
    zone = local_zone(tz)
    return _midnight(first, zone), _midnight(last + timedelta(days=1), zone)


def reset_phrase(reset_at: float, now: float, tz: tzinfo | None = None) -> str:
    """ "on 22 Nov" (at local midnight), "on 22 Nov at 09:00" otherwise; the year when it is not this one."""
    zone = local_zone(tz)
    when = datetime.fromtimestamp(reset_at, zone)
    this_year = datetime.fromtimestamp(now, zone).year
    text = f"on {when.day} {when:%b}" + (f" {when.year}" if when.year != this_year else "")
    if (when.hour, when.minute) != (0, 0):
        text += f" at {when:%H:%M}"
    return text

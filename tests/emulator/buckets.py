"""Quota counters on the emulator's clock.

Groq's published numbers fit a continuously refilling bucket exactly: "Limit 100000, Used 97050,
Requested 3619 -> try again in 9m38.016s" is (97050 + 3619 - 100000) x 86400 / 100000 s, and the
docs' reset example (30 of 14400 RPD used -> 2m59.56s) is the time to refill completely.
Gemini's per-minute quotas use the same model (their exact shape is unconfirmed); its daily quota
resets at midnight America/Los_Angeles, as Google documents.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

PACIFIC = ZoneInfo("America/Los_Angeles")


class Bucket(Protocol):
    limit: int

    def used(self, now: float) -> int: ...
    def remaining(self, now: float) -> int: ...
    def wait_for(self, amount: int, now: float) -> float: ...
    def add(self, amount: int, now: float) -> None: ...
    def reset_in(self, now: float) -> float: ...


class RefillBucket:
    """Holds up to `limit` units and drains `limit / window` units per second."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._level = 0.0
        self._at: float | None = None

    def _drain(self, now: float) -> None:
        if self._at is not None and self.limit > 0:
            self._level = max(0.0, self._level - (now - self._at) * self.limit / self.window)
        self._at = now

    def used(self, now: float) -> int:
        self._drain(now)
        return round(self._level)

    def remaining(self, now: float) -> int:
        return max(0, self.limit - self.used(now))

    def wait_for(self, amount: int, now: float) -> float:
        """Seconds until `amount` more units fit (0 when they fit now)."""
        self._drain(now)
        excess = self._level + amount - self.limit
        if excess <= 0:
            return 0.0
        return self.window if self.limit <= 0 else excess * self.window / self.limit

    def add(self, amount: int, now: float) -> None:
        self._drain(now)
        self._level += amount

    def reset_in(self, now: float) -> float:
        """Seconds until the bucket is empty again."""
        self._drain(now)
        return 0.0 if self.limit <= 0 else self._level * self.window / self.limit


class PacificDayBucket:
    """Counts units per calendar day in America/Los_Angeles (Gemini's requests-per-day quota)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._count = 0
        self._day: object = None

    def _roll(self, now: float) -> None:
        day = datetime.fromtimestamp(now, PACIFIC).date()
        if day != self._day:
            self._day, self._count = day, 0

    def used(self, now: float) -> int:
        self._roll(now)
        return self._count

    def remaining(self, now: float) -> int:
        return max(0, self.limit - self.used(now))

    def wait_for(self, amount: int, now: float) -> float:
        self._roll(now)
        return 0.0 if self._count + amount <= self.limit else self.reset_in(now)

    def add(self, amount: int, now: float) -> None:
        self._roll(now)
        self._count += amount

    def reset_in(self, now: float) -> float:
        local = datetime.fromtimestamp(now, PACIFIC)
        midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), PACIFIC)
        return max(0.0, midnight.timestamp() - now)


def ceil_seconds(seconds: float) -> int:
    """Whole seconds for a retry-after header: never 0 while a wait remains."""
    return max(1, math.ceil(seconds - 1e-9)) if seconds > 0 else 0

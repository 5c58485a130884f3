"""Each provider's day: Gemini's ends at midnight America/Los_Angeles (DST included); others at UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from app.core.usage.periods import (
    day_bounds,
    local_day,
    local_day_bounds,
    month_bounds,
    reset_phrase,
    usage_timezone,
)

LA = ZoneInfo("America/Los_Angeles")


def ts(text: str, tz: ZoneInfo | None = None) -> float:
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=tz or UTC).timestamp()


def test_each_provider_has_its_own_day() -> None:
    assert usage_timezone("gemini") == LA
    assert usage_timezone("groq") is UTC
    assert usage_timezone("ollama") is UTC
    assert usage_timezone("unknown") is UTC


def test_gemini_day_turns_at_midnight_pacific_not_utc() -> None:
    before = ts("2025-07-01T23:59:59", LA)  # 06:59:59 UTC on 2 July
    after = ts("2025-07-02T00:00:01", LA)
    assert day_bounds(before, LA)[1] == ts("2025-07-02T07:00:00")  # PDT is UTC-7
    assert day_bounds(after, LA)[0] == ts("2025-07-02T07:00:00")
    assert day_bounds(before, LA) != day_bounds(after, LA)


def test_dst_days_are_25_and_23_hours_long() -> None:
    fall_back = day_bounds(ts("2025-11-02T12:00:00", LA), LA)
    assert fall_back[1] - fall_back[0] == 25 * 3600
    assert fall_back[1] == ts("2025-11-03T08:00:00")  # PST is UTC-8
    spring_forward = day_bounds(ts("2025-03-09T12:00:00", LA), LA)
    assert spring_forward[1] - spring_forward[0] == 23 * 3600


def test_months_follow_the_same_zone() -> None:
    start, end = month_bounds(ts("2025-11-15T10:00:00", LA), LA)
    assert start == ts("2025-11-01T00:00:00", LA)
    assert end == ts("2025-12-01T00:00:00", LA)
    december = month_bounds(ts("2025-12-31T23:00:00", LA), LA)
    assert december[1] == ts("2026-01-01T00:00:00", LA)


def test_local_days_and_reset_words() -> None:
    paris = ZoneInfo("Europe/Paris")
    assert local_day(ts("2025-11-21T23:30:00"), paris) == "2025-11-22"
    first, last = datetime(2025, 11, 1).date(), datetime(2025, 11, 2).date()
    lo, hi = local_day_bounds(first, last, paris)
    assert hi - lo == 48 * 3600
    now = ts("2025-11-21T12:00:00", paris)
    assert reset_phrase(ts("2025-11-22T00:00:00", paris), now, paris) == "on 22 Nov"
    assert reset_phrase(ts("2025-11-22T09:00:00", paris), now, paris) == "on 22 Nov at 09:00"
    assert reset_phrase(ts("2026-01-01T00:00:00", paris), now, paris) == "on 1 Jan 2026"
    assert local_day(now) == datetime.fromtimestamp(now).date().isoformat()

"""Go ``time.Duration`` strings, the format Groq uses for resets and "Please try again in" waits."""

from __future__ import annotations

import re

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_SECONDS_PER_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_SUB_SECOND_UNITS = ((1_000_000, "ms"), (1_000, "µs"), (1, "ns"))


def go_duration(seconds: float) -> str:
    """Format like Go's Duration.String(): ``9m38.016s``, ``1.984999999s``, ``250ms``, ``6m0s``, ``0s``."""
    ns = round(seconds * 1e9)
    if ns == 0:
        return "0s"
    sign, ns = ("-", -ns) if ns < 0 else ("", ns)
    if ns < 1_000_000_000:
        unit_ns, unit = next((u, name) for u, name in _SUB_SECOND_UNITS if ns >= u)
        return sign + _with_fraction(ns, unit_ns) + unit
    hours, rest = divmod(ns, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    text = f"{hours}h" if hours else ""
    if hours or minutes:
        text += f"{minutes}m"
    return sign + text + _with_fraction(rest, 1_000_000_000) + "s"


def _with_fraction(value: int, unit: int) -> str:
    whole, frac = divmod(value, unit)
    if not frac:
        return str(whole)
    digits = len(str(unit)) - 1
    return f"{whole}.{frac:0{digits}d}".rstrip("0")


def parse_go_duration(text: str) -> float:
    """Seconds in a Go duration string; a bare number is read as seconds."""
    parts = _PART.findall(text)
    if not parts:
        return float(text)
    return sum(float(number) * _SECONDS_PER_UNIT[unit] for number, unit in parts)

"""Go-style durations ("800ms", "1m30s", "2h") to seconds and back.

OutageScenario fields and the chaoslab plugin both speak Go's ``time.ParseDuration``
syntax, so the Python side parses exactly that grammar (minus the sign: no lab duration
is ever negative) and formats values that Go parses back to the same nanosecond.
"""

from __future__ import annotations

import math
import re

__all__ = ["DurationError", "format_duration", "parse_duration"]

# Nanoseconds per unit; both micro signs are accepted, as Go does.
_UNITS_NS: dict[str, int] = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,
    "\u03bcs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
}
_PART = re.compile(r"([0-9]+\.?[0-9]*|\.[0-9]+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")
_NS = 1_000_000_000


class DurationError(ValueError):
    """A string that is not a non-negative Go duration."""


def parse_duration(text: str) -> float:
    """Parse a Go duration such as ``"1m30s"`` into seconds.

    ``"0"`` alone is accepted (as in Go); a sign, spaces, a missing unit or an unknown unit
    are not.
    """
    if not isinstance(text, str):
        raise DurationError(f"want a duration string such as '800ms', got {text!r}")
    if text == "0":
        return 0.0
    if not text:
        raise DurationError("invalid duration '': want e.g. '800ms', '1m30s', '2h'")
    pos, total_ns = 0, 0
    while pos < len(text):
        m = _PART.match(text, pos)
        if m is None:
            raise DurationError(f"invalid duration {text!r}: want e.g. '800ms', '1m30s', '2h'")
        number, unit = m.groups()
        whole, _, frac = number.partition(".")
        scale = _UNITS_NS[unit]
        total_ns += int(whole or "0") * scale
        if frac:
            total_ns += round(int(frac) * scale / 10 ** len(frac))
        pos = m.end()
    return total_ns / _NS


def format_duration(seconds: float) -> str:
    """Format seconds as the shortest exact Go duration, e.g. 90 -> ``"1m30s"``.

    Values are rounded to whole nanoseconds (Go's resolution).
    """
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise DurationError(f"want a number of seconds, got {seconds!r}")
    if not math.isfinite(seconds) or seconds < 0:
        raise DurationError(f"want a finite, non-negative number of seconds, got {seconds!r}")
    ns = round(seconds * _NS)
    if ns == 0:
        return "0s"
    parts = []
    for unit in ("h", "m", "s", "ms", "us", "ns"):
        count, ns = divmod(ns, _UNITS_NS[unit])
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)

"""How the report writes numbers and times: one module, so report.json, the HTML page, the
plots, the summary and the hypotheses' evidence round and format alike.

`rounded` is JSON's rounding (NaN and infinities have no JSON form and become null); the
rest are the human forms: UTC wall-clock times, durations, percentages.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

DASH, X = "\u2013", "\u00d7"  # en dash for ranges, multiplication sign for ratios


def rounded(v: Any) -> Any:
    """A float to 6 decimals (None for NaN or infinite); anything else unchanged."""
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return None
        return round(v, 6)
    return v


def finite_or_none(values: Sequence[float]) -> list[float | None]:
    return [rounded(v) for v in values]


def clock(t: float | None) -> str:
    if t is None:
        return "?"
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%H:%M:%S")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s"


def after_injection(seconds: float | None) -> str:
    """"+1.6 s after injection": a relative time always says what it is relative to."""
    return "?" if seconds is None else f"+{seconds:.1f} s after injection"


def pct(x: float | None) -> str:
    if x is None:
        return "n/a"
    return f"{x:.1%}" if x < 0.995 else f"{x:.2%}"

"""Times in the status (RFC 3339, `chaoslab_dns.times`) and durations in messages."""

from __future__ import annotations

from chaoslab_dns.times import parse_rfc3339, rfc3339

__all__ = ["human_seconds", "parse_time", "rfc3339"]


def parse_time(text: object) -> float | None:
    """An RFC 3339 string (as written by `rfc3339` or by Kubernetes) -> epoch seconds.

    Anything unreadable is None: a status a human edited badly is treated as absent, never
    as a crash of the operator.
    """
    try:
        return parse_rfc3339(text)  # type: ignore[arg-type]
    except ValueError:
        return None


def human_seconds(seconds: float) -> str:
    """3723.5 -> "1h2m3.5s"; for messages."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    out = ""
    if hours:
        out += f"{int(hours)}h"
    if minutes:
        out += f"{int(minutes)}m"
    if secs or not out:
        out += f"{secs:g}s"
    return out

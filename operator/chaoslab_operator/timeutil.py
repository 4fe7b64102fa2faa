"""RFC 3339 times as the status stores them (UTC, milliseconds) and back to epoch seconds."""

from __future__ import annotations

from datetime import UTC, datetime


def rfc3339(ts: float) -> str:
    """Epoch seconds -> "2025-10-20T06:48:00.123Z"."""
    text = datetime.fromtimestamp(round(ts, 3), UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def parse_time(text: object) -> float | None:
    """An RFC 3339 string (as written by `rfc3339` or by Kubernetes) -> epoch seconds.

    Anything unreadable is None: a status a human edited badly is treated as absent, never
    as a crash of the operator.
    """
    if not isinstance(text, str) or not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


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

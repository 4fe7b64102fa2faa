"""RFC 3339 times, the one way the lab writes and reads them.

Statuses, the Corefile's `until`, the report and the command line all carry instants as RFC
3339 in UTC ("2026-12-01T19:00:00.123Z"). Writing is always UTC with milliseconds; reading
accepts what Kubernetes and people write (a `Z` or an offset, fractions of any length).
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["parse_rfc3339", "rfc3339"]


def rfc3339(ts: float) -> str:
    """Epoch seconds -> "2025-10-20T06:48:00.123Z"."""
    text = datetime.fromtimestamp(round(ts, 3), UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def parse_rfc3339(text: str, *, zone_required: bool = False) -> float:
    """An RFC 3339 time -> epoch seconds; ValueError saying what is wanted otherwise.

    A time without a zone is taken as UTC unless `zone_required` (for input typed by a
    person, where a missing zone is more likely a mistake than UTC).
    """
    zone = " with a zone," if zone_required else ""
    want = f"want an RFC 3339 time{zone} such as 2026-12-01T18:00:00Z"
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"invalid time {text!r}: {want}")
    try:
        parsed = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        raise ValueError(f"invalid time {text!r}: {want}") from None
    if parsed.tzinfo is None:
        if zone_required:
            raise ValueError(f"invalid time {text!r}: {want}")
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()

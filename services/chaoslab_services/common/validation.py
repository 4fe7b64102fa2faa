"""Request validation: every failure is INVALID_ARGUMENT naming the field.

Limits are the lab's, written once here: names 1..255 of ``[A-Za-z0-9._/-]``, keys and
values up to 1 MiB (the gRPC receive limit is a little above, so an oversized field
reaches us and gets a clean message instead of a transport error).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping

from chaoslab_services.common.errors import invalid

MAX_FIELD = 1024 * 1024                 # bytes, any single string/bytes field
MAX_KEY = 1024                          # bytes, keys (pk, sk, S3 keys)
MAX_NAME = 255
MAX_MAP_ENTRIES = 1000
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*")
ATTR_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]*")


def _size(value: str | bytes) -> int:
    return len(value.encode("utf-8", "surrogatepass")) if isinstance(value, str) else len(value)


def name(field: str, value: str, *, required: bool = True, max_len: int = MAX_NAME) -> str:
    """Identifiers: tables, buckets, functions, users, roles, aliases."""
    if not value:
        if required:
            raise invalid(field, "is required")
        return value
    if len(value) > max_len:
        raise invalid(field, f"too long ({len(value)} > {max_len} characters)")
    if not NAME_RE.fullmatch(value):
        raise invalid(field, f"malformed name {value[:64]!r}: use letters, digits, . _ / -")
    return value


def key(field: str, value: str, *, required: bool = True) -> str:
    """Free-form keys: any printable text up to 1 KiB."""
    if not value:
        if required:
            raise invalid(field, "is required")
        return value
    size = _size(value)
    if size > MAX_KEY:
        raise invalid(field, f"too long ({size} > {MAX_KEY} bytes)")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise invalid(field, "contains control characters")
    return value


def text(field: str, value: str | bytes, *, required: bool = False, limit: int = MAX_FIELD) -> None:
    """Payloads: size only."""
    if required and not value:
        raise invalid(field, "is required")
    size = _size(value)
    if size > limit:
        raise invalid(field, f"too large ({size} > {limit} bytes)")


def string_map(field: str, value: Mapping[str, str], *, total_limit: int = MAX_FIELD) -> None:
    """Attribute maps: names like identifiers, values sized, whole map within the limit."""
    if len(value) > MAX_MAP_ENTRIES:
        raise invalid(field, f"too many entries ({len(value)} > {MAX_MAP_ENTRIES})")
    total = 0
    for k, v in value.items():
        if not k:
            raise invalid(field, "has an empty attribute name")
        if len(k) > MAX_NAME or not ATTR_RE.fullmatch(k):
            raise invalid(f"{field}[{k[:64]!r}]", "malformed attribute name")
        total += _size(k) + _size(v)
        if total > total_limit:
            raise invalid(field, f"too large (> {total_limit} bytes)")


def one_of(field: str, value: str, allowed: Iterable[str]) -> str:
    allowed = tuple(allowed)
    if value not in allowed:
        raise invalid(field, f"must be one of {', '.join(allowed)}, got {value[:64]!r}")
    return value


def finite(field: str, value: float, *, lo: float | None = None, hi: float | None = None) -> float:
    if not math.isfinite(value):
        raise invalid(field, f"must be a finite number, got {value!r}")
    if lo is not None and value < lo:
        raise invalid(field, f"must be >= {lo}, got {value!r}")
    if hi is not None and value > hi:
        raise invalid(field, f"must be <= {hi}, got {value!r}")
    return value

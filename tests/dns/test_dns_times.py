"""RFC 3339 in and out: what the operator writes is what everyone reads back."""

from __future__ import annotations

import pytest

from chaoslab_dns.times import parse_rfc3339, rfc3339


@pytest.mark.parametrize(("text", "epoch"), [
    ("2026-12-01T18:00:00Z", 1796148000.0),
    ("2026-12-01T18:00:00.123Z", 1796148000.123),
    ("2026-12-01t18:00:00z", 1796148000.0),
    ("2026-12-01T19:00:00+01:00", 1796148000.0),
    ("2026-12-01T18:00:00.123456789Z", 1796148000.123457),  # Kubernetes' nanoseconds
    ("2026-12-01T18:00:00", 1796148000.0),  # no zone: UTC
])
def test_reads_what_kubernetes_and_people_write(text: str, epoch: float) -> None:
    assert parse_rfc3339(text) == pytest.approx(epoch, abs=1e-6)


@pytest.mark.parametrize("ts", [0.0, 1796148000.0, 1796148000.123, 1796148000.9995])
def test_round_trips_at_millisecond_precision(ts: float) -> None:
    text = rfc3339(ts)
    assert text.endswith("Z") and len(text) == len("2026-12-01T18:00:00.123Z")
    assert parse_rfc3339(text) == pytest.approx(round(ts, 3), abs=1e-9)


@pytest.mark.parametrize("bad", ["", " ", "yesterday", "2026-13-01T00:00:00Z", None, 12])
def test_refuses_what_is_not_a_time_saying_what_is_wanted(bad: object) -> None:
    with pytest.raises(ValueError, match="want an RFC 3339 time such as 2026-12-01T18:00:00Z"):
        parse_rfc3339(bad)  # type: ignore[arg-type]


def test_a_zone_can_be_required() -> None:
    with pytest.raises(ValueError, match="with a zone"):
        parse_rfc3339("2026-12-01T18:00:00", zone_required=True)
    assert parse_rfc3339("2026-12-01T18:00:00Z", zone_required=True) == 1796148000.0

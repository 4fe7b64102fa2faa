"""Go-style durations: the grammar the CRD and the chaoslab plugin share."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chaoslab_dns.durations import DurationError, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("800ms", 0.8),
        ("1m30s", 90.0),
        ("0s", 0.0),
        ("0", 0.0),
        ("2h", 7200.0),
        ("1.5h", 5400.0),
        (".5s", 0.5),
        ("300us", 0.0003),
        ("300\u00b5s", 0.0003),
        ("1h2m3s4ms5us6ns", 3723.004005006),
        ("24h", 86400.0),
    ],
)
def test_parse(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds, abs=1e-12)


@pytest.mark.parametrize(
    "text",
    ["", "1", "s", "-1s", "+1s", "1d", "1 s", " 1s", "1s ", "1s\n", ".s", "1..2s", "\u0661s", "1S"],
)
def test_parse_rejects(text: str) -> None:
    with pytest.raises(DurationError, match="invalid duration"):
        parse_duration(text)


@pytest.mark.parametrize("value", [None, 5, 1.5, b"1s"])
def test_parse_rejects_non_strings(value: object) -> None:
    with pytest.raises(DurationError):
        parse_duration(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.8, "800ms"),
        (90, "1m30s"),
        (7200, "2h"),
        (1.5, "1s500ms"),
        (3723.004005006, "1h2m3s4ms5us6ns"),
    ],
)
def test_format(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize("value", [-1, float("nan"), float("inf"), True, "1s"])
def test_format_rejects(value: object) -> None:
    with pytest.raises(DurationError):
        format_duration(value)  # type: ignore[arg-type]


@given(st.integers(min_value=0, max_value=48 * 3600 * 10**9))
def test_round_trip_nanoseconds(ns: int) -> None:
    assert round(parse_duration(format_duration(ns / 1e9)) * 1e9) == ns

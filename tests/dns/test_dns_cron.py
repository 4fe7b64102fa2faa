"""The cron parser of spec.schedule: five fields in UTC, table-driven, no clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chaoslab_dns.cron import CronError, next_tick, parse_cron


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def iso(value: float | None) -> str | None:
    return None if value is None else datetime.fromtimestamp(value, UTC).strftime(
        "%Y-%m-%d %H:%M %a")


NEXT = [
    # (expression, after, the next tick)
    ("* * * * *", "2026-12-02 04:00:00", "2026-12-02 04:01 Wed"),
    ("* * * * *", "2026-12-02 04:00:59", "2026-12-02 04:01 Wed"),
    ("* * * * *", "2026-12-02 03:59:30", "2026-12-02 04:00 Wed"),
    ("*/15 * * * *", "2026-12-02 04:00:00", "2026-12-02 04:15 Wed"),
    ("*/15 * * * *", "2026-12-02 04:46:00", "2026-12-02 05:00 Wed"),
    ("5/20 * * * *", "2026-12-02 04:26:00", "2026-12-02 04:45 Wed"),
    ("0 9-17/4 * * *", "2026-12-02 13:00:00", "2026-12-02 17:00 Wed"),
    ("30 9 * * mon-fri", "2026-12-04 10:00:00", "2026-12-07 09:30 Mon"),
    ("0 0 * * 7", "2026-12-02 00:00:00", "2026-12-06 00:00 Sun"),  # 7 is Sunday too
    ("0 0 * * SUN", "2026-12-02 00:00:00", "2026-12-06 00:00 Sun"),
    ("0 0 1 jan *", "2026-12-02 00:00:00", "2027-01-01 00:00 Fri"),
    ("0 0 29 2 *", "2026-03-01 00:00:00", "2028-02-29 00:00 Tue"),  # the next leap day
    ("0 12 1,15 * *", "2026-12-02 00:00:00", "2026-12-15 12:00 Tue"),
    # Both day fields restricted: either matches (crontab's rule): the 13th or a Friday.
    ("0 0 13 * fri", "2026-12-02 00:00:00", "2026-12-04 00:00 Fri"),
    ("0 0 13 * fri", "2026-12-11 00:00:00", "2026-12-13 00:00 Sun"),
    ("  1   2 3 4 5  ", "2026-01-01 00:00:00", "2026-04-03 02:01 Fri"),  # spaces are free
]


@pytest.mark.parametrize(("expr", "after", "want"), NEXT,
                         ids=[f"{e} after {a}" for e, a, _ in NEXT])
def test_next_tick(expr: str, after: str, want: str) -> None:
    assert iso(parse_cron(expr).next_after(ts(after))) == want


BAD = [
    ("", "want five fields"),
    ("* * * *", "got 4"),
    ("* * * * * *", "got 6"),
    ("60 * * * *", "minute '60': 60 is outside 0-59"),
    ("* 24 * * *", "hour '24': 24 is outside 0-23"),
    ("* * 0 * *", "day of month '0': 0 is outside 1-31"),
    ("* * * 13 *", "month '13'"),
    ("* * * * 8", "day of week '8'"),
    ("*/0 * * * *", "the step must be a positive number"),
    ("*/x * * * *", "the step must be a positive number"),
    ("5-1 * * * *", "the range runs backwards"),
    ("a * * * *", "minute 'a': 'a' is not a number"),
    ("* * * foo *", "or a name (jan, feb"),
    ("0 0 31 2 *", "never matches a date"),
    ("0 0 30 feb *", "never matches a date"),
    ("@hourly", "want five fields"),
]


@pytest.mark.parametrize(("expr", "says"), BAD, ids=[b[0] or "empty" for b in BAD])
def test_refused_with_the_part_quoted(expr: str, says: str) -> None:
    with pytest.raises(CronError) as err:
        parse_cron(expr)
    assert says in str(err.value)


def test_not_a_string() -> None:
    with pytest.raises(CronError, match="five fields"):
        parse_cron(5)


def test_a_shortened_minute_keeps_the_shape() -> None:
    """--schedule-minute-seconds: every minute becomes every 15 s; */2 every 30 s."""
    now = ts("2026-12-02 04:00:00") + 1
    every = parse_cron("* * * * *")
    first = next_tick(every, now, 15.0)
    assert first is not None and 0 < first - now <= 15 and first % 15 == 0
    assert next_tick(every, first, 15.0) == first + 15
    two = parse_cron("*/2 * * * *")
    a = next_tick(two, now, 15.0)
    assert a is not None and next_tick(two, a, 15.0) == a + 30
    assert next_tick(every, now) == ts("2026-12-02 04:01:00")  # 60: the real clock

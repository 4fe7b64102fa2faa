"""Five-field cron expressions (``spec.schedule.cron``), in UTC: parse and find the next tick.

``minute hour day-of-month month day-of-week``, as in crontab(5) and Kubernetes CronJobs:
each field is ``*``, a number, a range ``a-b``, a step ``*/n``, ``a-b/n`` or ``a/n``, or
a comma list of those; months and weekdays also take English names (``jan``, ``mon``),
and weekday 7 is Sunday like 0. When both day fields are restricted a day matches either
(the crontab rule). No macros, no seconds, no time zones: a schedule is always UTC, so it
reads the same on every node. Pure, no dependency: the operator asks ``next_tick``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = ["Cron", "CronError", "next_tick", "parse_cron"]

_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
# (name, lowest, highest, names for lowest.., in order)
_FIELDS = (
    ("minute", 0, 59, []),
    ("hour", 0, 23, []),
    ("day of month", 1, 31, []),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS),
)
# A tick is searched for this many days ahead: covers "0 0 29 2 *" (every leap year) and
# any expression that can match at all; one that cannot ("0 0 31 2 *") is refused at parse.
_HORIZON_DAYS = 8 * 366


class CronError(ValueError):
    """A cron expression that is not five valid fields; the message quotes the part."""


@dataclass(frozen=True)
class Cron:
    """A parsed expression: the allowed values of each field."""

    text: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool  # day of month is "*"
    any_weekday: bool  # day of week is "*"

    def _day_matches(self, day: datetime) -> bool:
        if day.month not in self.months:
            return False
        dom = day.day in self.days
        dow = (day.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return dom and dow  # one of them is "*": the other decides
        return dom or dow

    def next_after(self, ts: float) -> float | None:
        """The first tick strictly after ``ts`` (epoch seconds), or None within the horizon."""
        at = datetime.fromtimestamp(ts, UTC)
        day = at.replace(hour=0, minute=0, second=0, microsecond=0)
        for _ in range(_HORIZON_DAYS):
            if self._day_matches(day):
                for hour in self.hours:
                    for minute in self.minutes:
                        tick = day.replace(hour=hour, minute=minute)
                        if tick.timestamp() > ts:
                            return tick.timestamp()
            day += timedelta(days=1)
        return None


def _value(text: str, low: int, high: int, names: list[str], field: str, part: str) -> int:
    word = text.lower()
    if names and word in names:
        return names.index(word) + low
    if not text.isdigit():
        raise CronError(f"{field} {part!r}: {text!r} is not a number"
                        + (f" or a name ({', '.join(names)})" if names else ""))
    value = int(text)
    if not low <= value <= high:
        raise CronError(f"{field} {part!r}: {value} is outside {low}-{high}")
    return value


def _field(text: str, low: int, high: int, names: list[str], field: str) -> set[int]:
    out: set[int] = set()
    for part in text.split(","):
        body, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"{field} {part!r}: the step must be a positive number")
            step = int(step_text)
        if body == "*":
            first, last = low, high
        elif "-" in body:
            a, _, b = body.partition("-")
            first = _value(a, low, high, names, field, part)
            last = _value(b, low, high, names, field, part)
            if first > last:
                raise CronError(f"{field} {part!r}: the range runs backwards")
        else:
            first = _value(body, low, high, names, field, part)
            last = high if slash else first  # "5/15": from 5 every 15
        out.update(range(first, last + 1, step))
    return out


def parse_cron(text: object) -> Cron:
    """Parse five fields; CronError names the field and quotes what is wrong."""
    if not isinstance(text, str):
        raise CronError(f"want five fields such as '*/5 * * * *', got {text!r}")
    fields = text.split()
    if len(fields) != 5:
        raise CronError(f"want five fields (minute hour day-of-month month day-of-week, "
                        f"e.g. '*/5 * * * *'), got {len(fields)} in {text!r}")
    values = [_field(f, low, high, names, name)
              for f, (name, low, high, names) in zip(fields, _FIELDS, strict=True)]
    weekdays = {d % 7 for d in values[4]}
    cron = Cron(
        text=" ".join(fields),
        minutes=tuple(sorted(values[0])),
        hours=tuple(sorted(values[1])),
        days=frozenset(values[2]),
        months=frozenset(values[3]),
        weekdays=frozenset(weekdays),
        any_day=fields[2] == "*",
        any_weekday=fields[4] == "*",
    )
    if cron.next_after(datetime(2000, 1, 1, tzinfo=UTC).timestamp()) is None:
        raise CronError(f"{text!r} never matches a date (e.g. 31 February)")
    return cron


def next_tick(cron: Cron, now: float, minute_seconds: float = 60.0) -> float | None:
    """The next tick after ``now`` on a clock whose minute lasts ``minute_seconds``.

    60 is the real clock. A shorter minute (the operator's ``--schedule-minute-seconds``,
    for tests and demos) scales time about the epoch, so ``* * * * *`` ticks every
    ``minute_seconds`` and every other expression keeps its shape, only faster.
    """
    scale = 60.0 / minute_seconds
    tick = cron.next_after(now * scale)
    return None if tick is None else tick / scale

"""Reporting periods and their keys: `once`, `2018`, `2018-H1`, `2018-Q3`, `2018-07`, `2018-W05`."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from plan_tracker.domain.errors import BadPeriod
from plan_tracker.domain.messages import msg
from plan_tracker.domain.plan import Recurrence

ONCE = "once"

_PATTERNS: dict[Recurrence, re.Pattern[str]] = {
    Recurrence.year: re.compile(r"^(\d{4})$"),
    Recurrence.half_year: re.compile(r"^(\d{4})-H([12])$"),
    Recurrence.quarter: re.compile(r"^(\d{4})-Q([1-4])$"),
    Recurrence.month: re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$"),
    Recurrence.week: re.compile(r"^(\d{4})-W(0[1-9]|[1-4]\d|5[0-3])$"),
}


@dataclass(frozen=True, order=True)
class Period:
    start: dt.date
    end: dt.date
    key: str


def _month_end(year: int, month: int) -> dt.date:
    first_next = dt.date(year + month // 12, month % 12 + 1, 1)
    return first_next - dt.timedelta(days=1)


def period_of(every: Recurrence, day: dt.date) -> Period:
    """The period of kind `every` that contains `day`."""
    y = day.year
    if every is Recurrence.year:
        return Period(dt.date(y, 1, 1), dt.date(y, 12, 31), f"{y}")
    if every is Recurrence.half_year:
        h = 1 if day.month <= 6 else 2
        return Period(dt.date(y, 6 * h - 5, 1), _month_end(y, 6 * h), f"{y}-H{h}")
    if every is Recurrence.quarter:
        q = (day.month - 1) // 3 + 1
        return Period(dt.date(y, 3 * q - 2, 1), _month_end(y, 3 * q), f"{y}-Q{q}")
    if every is Recurrence.month:
        return Period(dt.date(y, day.month, 1), _month_end(y, day.month), f"{y}-{day.month:02d}")
    iso_year, iso_week, iso_day = day.isocalendar()
    monday = day - dt.timedelta(days=iso_day - 1)
    return Period(monday, monday + dt.timedelta(days=6), f"{iso_year}-W{iso_week:02d}")


def parse_period(every: Recurrence | None, key: str) -> Period | None:
    """Parse a key for a task of kind `every`; None for `once`. Raises BadPeriod."""
    if every is None:
        if key != ONCE:
            raise BadPeriod("period.not_once", key=key)
        return None
    match = _PATTERNS[every].match(key)
    if not match:
        examples = {"year": "2018", "half_year": "2018-H1", "quarter": "2018-Q3",
                    "month": "2018-07", "week": "2018-W05"}
        raise BadPeriod("period.malformed", key=key, every=msg(f"every.{every.value}"), example=examples[every.value])
    year, n = int(match.group(1)), int(match.group(2)) if match.lastindex == 2 else 1
    if every is Recurrence.year:
        anchor = dt.date(year, 1, 1)
    elif every is Recurrence.half_year:
        anchor = dt.date(year, 6 * n - 5, 1)
    elif every is Recurrence.quarter:
        anchor = dt.date(year, 3 * n - 2, 1)
    elif every is Recurrence.month:
        anchor = dt.date(year, n, 1)
    else:
        try:
            anchor = dt.date.fromisocalendar(year, n, 1)
        except ValueError as exc:
            raise BadPeriod("period.no_week", year=year, week=n) from exc
    return period_of(every, anchor)


def periods_within(every: Recurrence, start: dt.date, end: dt.date) -> list[Period]:
    """Periods lying wholly inside [start, end]: a plan tracks only periods it fully spans."""
    found: list[Period] = []
    period = period_of(every, start)
    while period.start <= end:
        if period.start >= start and period.end <= end:
            found.append(period)
        period = period_of(every, period.end + dt.timedelta(days=1))
    return found

"""The calendar table: date → is-working-day and working-day ordinal, per calendar.

SQL does working-day arithmetic with it: the working day N wd after a working day D is the
working day whose ordinal is ordinal(D) + N, and `D >= W` for a working day W is
`ordinal(D) >= ordinal(W)` for any D. Ordinals only make sense within one calendar key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from sqlalchemy import Connection, delete, func, insert, select

from plan_tracker.domain.calendar import WorkCalendar
from plan_tracker.domain.errors import DomainError
from plan_tracker.domain.plan import CalendarSpec
from plan_tracker.store.dates import stored_date
from plan_tracker.store.models import CalendarDay

TABLE = CalendarDay.__table__  # type: ignore[attr-defined]


YEARS_AFTER = 10  # the table runs this far past the plan at most, as far as the source publishes


class DateNotCovered(DomainError):
    def __init__(self, day: dt.date, key: str, first: dt.date | None = None, last: dt.date | None = None):
        self.day, self.first, self.last = day, first, last
        if last is not None and day > last:
            super().__init__("calendar.after_last", day=day, key=key, last=last, next_year=last.year + 1)
        elif first is not None and day < first:
            super().__init__("calendar.before_first", day=day, key=key, first=first)
        else:
            super().__init__("calendar.outside", day=day, key=key)


def calendar_key(spec: CalendarSpec) -> str:
    """Plans with the same calendar spec share table rows; overrides give a new key."""
    if not (spec.holidays or spec.workdays or spec.years):
        return spec.base
    blob = json.dumps(spec.model_dump(mode="json"), sort_keys=True).encode()
    return f"{spec.base}-{hashlib.sha256(blob).hexdigest()[:16]}"


def table_range(calendar: WorkCalendar, start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """From a quarter before the plan (reminders fire before early due dates) to the end of
    the last year after the plan that the calendar covers (its source's published years and
    the plan's own), at most YEARS_AFTER years on: late items are followed up, and a status
    asked for today, long after the plan ended, still counts working days."""
    first = start - dt.timedelta(days=92)
    if not calendar.covers(first.year):
        first = dt.date(start.year, 1, 1)
    last_year = end.year
    while last_year < end.year + YEARS_AFTER and calendar.covers(last_year + 1):
        last_year += 1
    return first, dt.date(last_year, 12, 31)


def covered(conn: Connection, key: str) -> tuple[dt.date, dt.date] | None:
    """The first and last day the table holds for `key` (None: no rows)."""
    have = conn.execute(
        select(func.min(TABLE.c.day), func.max(TABLE.c.day)).where(TABLE.c.calendar_key == key)).one()
    if have[0] is None:
        return None
    return stored_date(have[0]), stored_date(have[1])


def ensure_calendar(conn: Connection, calendar: WorkCalendar, key: str, first: dt.date, last: dt.date) -> None:
    """Make the table hold `key` from at least `first` to `last` (rebuilt whole if extended,
    so ordinals stay counted from one origin)."""
    have = conn.execute(
        select(func.min(TABLE.c.day), func.max(TABLE.c.day)).where(TABLE.c.calendar_key == key)
    ).one()
    if have[0] is not None and have[0] <= first and have[1] >= last:
        return
    if have[0] is not None:
        first, last = min(first, have[0]), max(last, have[1])
        conn.execute(delete(TABLE).where(TABLE.c.calendar_key == key))
    rows = [
        {"calendar_key": key, "day": day, "is_working": working, "wd_ordinal": ordinal}
        for day, working, ordinal in calendar.days(first, last)
    ]
    conn.execute(insert(TABLE), rows)


def ordinal_on(conn: Connection, key: str, day: dt.date) -> int:
    value = conn.execute(
        select(TABLE.c.wd_ordinal).where(TABLE.c.calendar_key == key, TABLE.c.day == day)
    ).scalar_one_or_none()
    if value is None:
        span = covered(conn, key)
        raise DateNotCovered(day, key, *(span or (None, None)))
    return int(value)

"""Digest cadence: when an audience's accumulated items go out.

A `weekly` audience (by default the leading group) receives one digest on the first working
day of each ISO week. Cadence shapes delivery, not escalation: a step still fires on its own
night and keeps that `fired_on`; the digest day only decides when the message carrying it
goes out, and scoring counts an item's reminders of such a level once per digest period.
"""

from __future__ import annotations

import datetime as dt

from plan_tracker.domain.calendar import WorkCalendar

MAX_WEEKS_AHEAD = 8  # a calendar gap longer than this is an error, never a silent guess


def first_working_day_of_week(calendar: WorkCalendar, day: dt.date) -> dt.date | None:
    """The first working day of `day`'s ISO week (None for a week without one)."""
    monday = day - dt.timedelta(days=day.weekday())
    for offset in range(7):
        candidate = monday + dt.timedelta(days=offset)
        if calendar.is_working_day(candidate):
            return candidate
    return None


def digest_day(calendar: WorkCalendar, day: dt.date) -> dt.date:
    """The day a weekly digest carries what fired on `day`: `day` itself when it is its
    week's first working day, else the first working day of a later week (a week without
    working days, like 2018's National Day week, passes to the next)."""
    if first_working_day_of_week(calendar, day) == day:
        return day
    monday = day - dt.timedelta(days=day.weekday())
    for weeks in range(1, MAX_WEEKS_AHEAD + 1):
        found = first_working_day_of_week(calendar, monday + dt.timedelta(weeks=weeks))
        if found is not None:
            return found
    raise ValueError(f"no working day in the {MAX_WEEKS_AHEAD} weeks after {day}")


def digest_period(calendar: WorkCalendar, day: dt.date) -> str:
    """The ISO week key (e.g. 2018-W43) of the digest that carries what fired on `day`."""
    year, week, _ = digest_day(calendar, day).isocalendar()
    return f"{year}-W{week:02d}"

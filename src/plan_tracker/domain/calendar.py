"""The official working-day calendar: holidays, adjusted working days (调休), ±N wd arithmetic.

The CN base comes from the maintained `chinesecalendar` package, which refuses years whose
schedule the State Council has not yet published — exactly the behaviour we want: a date
outside the covered years raises `CalendarNotCovered` instead of silently guessing.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from functools import cache

from plan_tracker.domain.errors import CalendarNotCovered
from plan_tracker.domain.plan import CalendarSpec

ONE_DAY = dt.timedelta(days=1)


@cache
def _cn_publishes(year: int) -> bool:
    """Whether the official CN schedule of `year` is published (the package knows it)."""
    import chinese_calendar  # pure data; imported lazily so nothing happens at import

    try:
        chinese_calendar.is_workday(dt.date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


@cache
def _cn_year(year: int) -> frozenset[dt.date] | None:
    """Working days of `year` per the official CN schedule, or None if unpublished.

    `chinese_calendar.is_workday`'s own rule (an adjusted working day, or a weekday that is
    no holiday) over the package's published tables, once the year is known published:
    `is_workday` checks the year against every table entry on each call, 20 µs a day, which
    made building a year 7 ms (and a command's calendar-cover check, ten years, 70 ms)."""
    if not _cn_publishes(year):
        return None
    import chinese_calendar

    holidays, workdays = chinese_calendar.holidays, chinese_calendar.workdays
    day, days = dt.date(year, 1, 1), set()
    while day.year == year:
        if day in workdays or (day.weekday() < 5 and day not in holidays):
            days.add(day)
        day += ONE_DAY
    return frozenset(days)


def _weekend_year(year: int) -> frozenset[dt.date]:
    day, days = dt.date(year, 1, 1), set()
    while day.year == year:
        if day.weekday() < 5:
            days.add(day)
        day += ONE_DAY
    return frozenset(days)


_YEARS: dict[str, dict[int, list[dt.date]]] = {}  # spec -> year -> sorted working days


class WorkCalendar:
    """Working days of one plan's calendar: the base schedule plus the plan's overrides."""

    def __init__(self, spec: CalendarSpec | None = None):
        self.spec = spec or CalendarSpec()
        self.name = self.spec.base
        self._holidays = frozenset(self.spec.holidays)
        self._workdays = frozenset(self.spec.workdays)
        self._own_years = frozenset(self.spec.years)
        # Shared by every instance with the same spec: web requests build calendars freely.
        self._years = _YEARS.setdefault(self.spec.model_dump_json(), {})

    # -- coverage -------------------------------------------------------------------
    def covers(self, year: int) -> bool:
        return self._on_weekends(year) or _cn_publishes(year)  # without building the year's days

    def _on_weekends(self, year: int) -> bool:
        """Whether `year`'s base is plain weekends (the calendar's base, or a year the plan supplies)."""
        return self.spec.base == "weekends" or year in self._own_years

    def _base_year(self, year: int) -> frozenset[dt.date] | None:
        return _weekend_year(year) if self._on_weekends(year) else _cn_year(year)

    def _working_days(self, year: int) -> list[dt.date]:
        """Sorted working days of a year, overrides applied. Raises if not covered."""
        if year not in self._years:
            base = self._base_year(year)
            if base is None:
                raise CalendarNotCovered(year, self.name)
            days = (set(base) - self._holidays) | {d for d in self._workdays if d.year == year}
            self._years[year] = sorted(days)
        return self._years[year]

    # -- questions --------------------------------------------------------------------
    def is_working_day(self, day: dt.date) -> bool:
        days = self._working_days(day.year)
        i = bisect_left(days, day)
        return i < len(days) and days[i] == day

    def roll_forward(self, day: dt.date) -> dt.date:
        """The day itself if it is a working day, else the next working day."""
        return day if self.is_working_day(day) else self.shift(day, 1)

    def shift(self, day: dt.date, n: int) -> dt.date:
        """`+N wd`: the Nth working day strictly after `day`; `-N wd`: strictly before; 0: `day`."""
        if n == 0:
            return day
        year = day.year
        if n > 0:
            days = self._working_days(year)
            i = bisect_right(days, day)
            remaining = n
            while i + remaining - 1 >= len(days):
                remaining -= len(days) - i
                year += 1
                days, i = self._working_days(year), 0
            return days[i + remaining - 1]
        days = self._working_days(year)
        i = bisect_left(days, day)  # count of working days strictly before `day` in its year
        remaining = -n
        while i - remaining < 0:
            remaining -= i
            year -= 1
            days = self._working_days(year)
            i = len(days)
        return days[i - remaining]

    def working_days_between(self, after: dt.date, up_to: dt.date) -> int:
        """Working days d with after < d <= up_to (0 if up_to <= after)."""
        if up_to <= after:
            return 0
        total = 0
        for year in range(after.year, up_to.year + 1):
            days = self._working_days(year)
            low = bisect_right(days, after) if year == after.year else 0
            high = bisect_right(days, up_to) if year == up_to.year else len(days)
            total += high - low
        return total

    def days(self, first: dt.date, last: dt.date) -> Iterator[tuple[dt.date, bool, int]]:
        """(date, is_working, ordinal) rows from `first` to `last`, ordinal counted from `first`."""
        ordinal, day = 0, first
        while day <= last:
            working = self.is_working_day(day)
            ordinal += working
            yield day, working, ordinal
            day += ONE_DAY

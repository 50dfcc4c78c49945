"""Reporting periods: keys, their bounds, parsing and the periods a plan spans."""

from __future__ import annotations

import datetime as dt
from itertools import pairwise

import pytest

from plan_tracker.domain.errors import BadPeriod
from plan_tracker.domain.periods import ONCE, Period, parse_period, period_of, periods_within
from plan_tracker.domain.plan import Recurrence as R

D = dt.date


@pytest.mark.parametrize(
    ("every", "day", "key", "start", "end"),
    [
        (R.year, D(2018, 7, 15), "2018", D(2018, 1, 1), D(2018, 12, 31)),
        (R.half_year, D(2018, 6, 30), "2018-H1", D(2018, 1, 1), D(2018, 6, 30)),
        (R.half_year, D(2018, 7, 1), "2018-H2", D(2018, 7, 1), D(2018, 12, 31)),
        (R.quarter, D(2018, 1, 1), "2018-Q1", D(2018, 1, 1), D(2018, 3, 31)),
        (R.quarter, D(2018, 5, 20), "2018-Q2", D(2018, 4, 1), D(2018, 6, 30)),
        (R.quarter, D(2018, 9, 30), "2018-Q3", D(2018, 7, 1), D(2018, 9, 30)),
        (R.quarter, D(2018, 12, 31), "2018-Q4", D(2018, 10, 1), D(2018, 12, 31)),
        (R.month, D(2018, 2, 14), "2018-02", D(2018, 2, 1), D(2018, 2, 28)),
        (R.month, D(2020, 2, 29), "2020-02", D(2020, 2, 1), D(2020, 2, 29)),  # leap year
        (R.month, D(2018, 12, 5), "2018-12", D(2018, 12, 1), D(2018, 12, 31)),  # month 12 wraps
        (R.week, D(2018, 1, 1), "2018-W01", D(2018, 1, 1), D(2018, 1, 7)),  # 2018 starts on Monday
        (R.week, D(2018, 2, 4), "2018-W05", D(2018, 1, 29), D(2018, 2, 4)),  # Sunday ends the week
        # ISO weeks belong to the year of their Thursday: Mon 2018-12-31 opens 2019-W01.
        (R.week, D(2018, 12, 31), "2019-W01", D(2018, 12, 31), D(2019, 1, 6)),
        # ...and the other way round: Fri 2021-01-01 is still in 2020-W53.
        (R.week, D(2021, 1, 1), "2020-W53", D(2020, 12, 28), D(2021, 1, 3)),
    ],
)
def test_period_of_a_day_has_key_and_bounds(
    every: R, day: dt.date, key: str, start: dt.date, end: dt.date
) -> None:
    assert period_of(every, day) == Period(start, end, key)


@pytest.mark.parametrize(
    ("every", "key", "start", "end"),
    [
        (R.year, "2018", D(2018, 1, 1), D(2018, 12, 31)),
        (R.half_year, "2018-H2", D(2018, 7, 1), D(2018, 12, 31)),
        (R.quarter, "2018-Q3", D(2018, 7, 1), D(2018, 9, 30)),
        (R.month, "2018-07", D(2018, 7, 1), D(2018, 7, 31)),
        (R.week, "2018-W05", D(2018, 1, 29), D(2018, 2, 4)),
        (R.week, "2019-W01", D(2018, 12, 31), D(2019, 1, 6)),
        (R.week, "2020-W53", D(2020, 12, 28), D(2021, 1, 3)),  # 2020 has 53 ISO weeks
    ],
)
def test_parse_period_round_trips_its_key(every: R, key: str, start: dt.date, end: dt.date) -> None:
    period = parse_period(every, key)
    assert period == Period(start, end, key)


def test_once_is_the_only_key_of_a_one_off_task() -> None:
    assert parse_period(None, ONCE) is None
    with pytest.raises(BadPeriod, match="one-off"):
        parse_period(None, "2018-Q1")


@pytest.mark.parametrize(
    ("every", "key", "fragment"),
    [
        (R.quarter, "2018-Q5", "not a quarter key"),
        (R.quarter, "2018-07", "e.g. 2018-Q3"),  # a month key for a quarterly task
        (R.quarter, "once", "not a quarter key"),
        (R.month, "2018-13", "not a month key"),
        (R.month, "2018-7", "not a month key"),  # months are two digits
        (R.month, "2018-00", "not a month key"),
        (R.half_year, "2018-H3", "not a half_year key"),
        (R.year, "18", "not a year key"),
        (R.year, " 2018", "not a year key"),
        (R.week, "2018-W00", "not a week key"),
        (R.week, "2018-W54", "not a week key"),
        (R.week, "2018-W53", "2018 has no ISO week 53"),  # 2018 has only 52 ISO weeks
        (R.week, "2018-5", "not a week key"),
    ],
)
def test_bad_period_keys_are_refused_with_an_example(every: R, key: str, fragment: str) -> None:
    with pytest.raises(BadPeriod, match=fragment):
        parse_period(every, key)


@pytest.mark.parametrize(
    ("every", "count", "first", "last"),
    [
        (R.year, 1, "2018", "2018"),
        (R.half_year, 2, "2018-H1", "2018-H2"),
        (R.quarter, 4, "2018-Q1", "2018-Q4"),
        (R.month, 12, "2018-01", "2018-12"),
        # 2018-01-01 is a Monday, so W01 fits; the week of 12-31 is 2019-W01 and runs into
        # 2019, so a 2018 plan tracks 52 weeks.
        (R.week, 52, "2018-W01", "2018-W52"),
    ],
)
def test_a_calendar_year_plan_spans_whole_periods(every: R, count: int, first: str, last: str) -> None:
    found = periods_within(every, D(2018, 1, 1), D(2018, 12, 31))
    assert len(found) == count
    assert (found[0].key, found[-1].key) == (first, last)
    assert found == sorted(found)
    assert all(a.end + dt.timedelta(days=1) == b.start for a, b in pairwise(found))


def test_periods_partly_outside_the_plan_are_not_tracked() -> None:
    # A plan from 02-15 to 11-10 wholly contains only Q2 and Q3, and months 03..10.
    start, end = D(2018, 2, 15), D(2018, 11, 10)
    assert [p.key for p in periods_within(R.quarter, start, end)] == ["2018-Q2", "2018-Q3"]
    assert [p.key for p in periods_within(R.month, start, end)] == [
        f"2018-{m:02d}" for m in range(3, 11)
    ]
    assert periods_within(R.year, start, end) == []


def test_periods_within_a_multi_year_plan_cross_the_year() -> None:
    found = periods_within(R.half_year, D(2018, 7, 1), D(2019, 12, 31))
    assert [p.key for p in found] == ["2018-H2", "2019-H1", "2019-H2"]


def test_weeks_within_start_on_the_first_whole_monday() -> None:
    # 2019-01-01 is a Tuesday: the week 2019-W01 began on 2018-12-31, before the plan.
    found = periods_within(R.week, D(2019, 1, 1), D(2019, 1, 31))
    assert [p.key for p in found] == ["2019-W02", "2019-W03", "2019-W04"]
    assert found[0].start == D(2019, 1, 7)

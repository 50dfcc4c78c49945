"""When a weekly digest goes out, and how scoring counts what it carried (edge cases named)."""

from __future__ import annotations

import datetime as dt

import pytest

from plan_tracker.domain.cadence import digest_day, digest_period
from plan_tracker.domain.calendar import WorkCalendar
from plan_tracker.domain.scoring import once_per_period

CAL = WorkCalendar()


@pytest.mark.parametrize(("fired", "goes_out", "why"), [
    ("2018-10-22", "2018-10-22", "a Monday: the week's first working day carries its own night"),
    ("2018-10-23", "2018-10-29", "a Tuesday waits for next Monday"),
    ("2018-10-26", "2018-10-29", "Friday too"),
    ("2018-09-28", "2018-10-08", "the National Day week (10-01..10-07) has no working day: the week after"),
    ("2018-09-29", "2018-10-08", "an adjusted working Saturday (调休) is not its week's first working day"),
    ("2018-04-04", "2018-04-09", "Qingming week: 04-05..04-07 off; the next Monday"),
    ("2018-12-29", "2019-01-02", "working Saturday before New Year; Mon 12-31 and Tue 01-01 are off"),
    ("2018-02-11", "2018-02-12", "a working Sunday (调休) belongs to its ISO week; the next Monday carries it"),
])
def test_the_digest_day(fired: str, goes_out: str, why: str) -> None:
    assert digest_day(CAL, dt.date.fromisoformat(fired)) == dt.date.fromisoformat(goes_out), why


def test_the_digest_period_is_the_week_of_the_digest_day() -> None:
    # Fired on Friday 2018-09-28 (ISO week 39), carried by 2018-10-08's digest (week 41).
    assert digest_period(CAL, dt.date(2018, 9, 28)) == "2018-W41"


def test_an_items_repeats_inside_one_digest_count_once() -> None:
    period = lambda day: digest_period(CAL, day)  # noqa: E731
    fired = [(1, dt.date(2018, 10, 22)), (1, dt.date(2018, 10, 23)), (1, dt.date(2018, 10, 29)),
             (2, dt.date(2018, 10, 23))]
    # item 1: the 10-22 digest, then 10-23 and 10-29 both in the 10-29 digest; item 2: 10-29
    assert once_per_period(fired, period) == 3

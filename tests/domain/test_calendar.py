"""The working-day calendar on the official 2018 CN schedule, its overrides and its limits.

Every edge below carries the reason for its answer: holidays (放假) and the adjusted working
days (调休) that pay for them are the whole point of a working-day calendar.
"""

from __future__ import annotations

import datetime as dt

import pytest

from plan_tracker.domain.calendar import WorkCalendar
from plan_tracker.domain.errors import CalendarNotCovered
from plan_tracker.domain.escalation import step_threshold
from plan_tracker.domain.obligations import due_date, expand, task_periods
from plan_tracker.domain.plan import CalendarSpec, Plan, Step

D = dt.date
CN = WorkCalendar()


# -- which days are working days ---------------------------------------------------------
@pytest.mark.parametrize(
    ("day", "working", "why"),
    [
        # Spring Festival 2018: seven days off (02-15..02-21), paid for by two weekend days.
        (D(2018, 2, 11), True, "Sunday worked (调休) before Spring Festival"),
        (D(2018, 2, 15), False, "New Year's Eve, first day of the festival break"),
        (D(2018, 2, 16), False, "Spring Festival day"),
        (D(2018, 2, 19), False, "a Monday inside the festival break"),
        (D(2018, 2, 21), False, "last day of the festival break"),
        (D(2018, 2, 22), True, "first working day after the festival"),
        (D(2018, 2, 24), True, "Saturday worked (调休) after Spring Festival"),
        (D(2018, 2, 25), False, "an ordinary Sunday"),
        # Qingming 2018: Thu 04-05..Sat 04-07 off, Sunday 04-08 worked in exchange.
        (D(2018, 4, 4), True, "the Wednesday before Qingming is an ordinary working day"),
        (D(2018, 4, 5), False, "Qingming festival"),
        (D(2018, 4, 6), False, "Friday bridged into the Qingming break"),
        (D(2018, 4, 7), False, "Saturday inside the Qingming break"),
        (D(2018, 4, 8), True, "Sunday worked (调休) for the Qingming bridge"),
        # Labour Day 2018: Sun 04-29..Tue 05-01 off, Saturday 04-28 worked in exchange.
        (D(2018, 4, 28), True, "Saturday worked (调休) for Labour Day"),
        (D(2018, 4, 29), False, "Sunday inside the Labour Day break"),
        (D(2018, 4, 30), False, "Monday bridged into the Labour Day break"),
        (D(2018, 5, 1), False, "Labour Day"),
        (D(2018, 5, 2), True, "first working day after Labour Day"),
        # National Day 2018: 10-01..10-07 off, the weekend before (09-29/30) worked.
        (D(2018, 9, 29), True, "Saturday worked (调休) before National Day"),
        (D(2018, 9, 30), True, "Sunday worked (调休) before National Day"),
        (D(2018, 10, 1), False, "National Day"),
        (D(2018, 10, 4), False, "a Thursday inside Golden Week"),
        (D(2018, 10, 7), False, "last day of Golden Week (a Sunday)"),
        (D(2018, 10, 8), True, "first working day after Golden Week"),
        # 2018/2019 year end: 12-30..2019-01-01 off, Saturday 12-29 worked in exchange.
        (D(2018, 12, 29), True, "Saturday worked (调休) for the New Year bridge"),
        (D(2018, 12, 30), False, "Sunday inside the New Year break"),
        (D(2018, 12, 31), False, "Monday bridged into the New Year break"),
        (D(2019, 1, 1), False, "New Year's Day"),
        (D(2019, 1, 2), True, "first working day of 2019"),
        # Control: an unremarkable week.
        (D(2018, 3, 16), True, "an ordinary Friday"),
        (D(2018, 3, 17), False, "an ordinary Saturday"),
    ],
)
def test_official_2018_schedule(day: dt.date, working: bool, why: str) -> None:
    assert CN.is_working_day(day) is working, why


# -- rolling a fixed due date forward ----------------------------------------------------
@pytest.mark.parametrize(
    ("due", "expected", "why"),
    [
        (D(2018, 3, 16), D(2018, 3, 16), "a working day stays put"),
        (D(2018, 3, 17), D(2018, 3, 19), "an ordinary Saturday rolls to Monday"),
        (D(2018, 2, 11), D(2018, 2, 11), "a worked Sunday (调休) is a valid due date"),
        (D(2018, 2, 15), D(2018, 2, 22), "inside Spring Festival: after the whole break"),
        (D(2018, 4, 5), D(2018, 4, 8), "Qingming rolls to the worked Sunday, not to Monday"),
        (D(2018, 4, 29), D(2018, 5, 2), "inside the Labour Day break"),
        (D(2018, 12, 30), D(2019, 1, 2), "the New Year break rolls across the year end"),
    ],
)
def test_fixed_due_rolls_forward_to_a_working_day(due: dt.date, expected: dt.date, why: str) -> None:
    assert CN.roll_forward(due) == expected, why


def test_one_off_due_on_national_day_rolls_to_next_working_day() -> None:
    # 2018-10-01..07 is Golden Week, so the statutory rule moves the deadline to Monday 10-08.
    plan = _plan({"id": "t.one", "title": "One-off", "lead": "office", "due": "2018-10-01"})
    task = plan.sections[0].tasks[0]
    (period,) = task_periods(plan, task)
    assert due_date(CN, task, period) == D(2018, 10, 8)


def test_minus_three_wd_reminder_before_golden_week_lands_on_the_friday() -> None:
    # Counting back from 10-08: 09-30 (Sun, worked), 09-29 (Sat, worked), 09-28 (Fri).
    # The Golden Week days in between are not working days and do not count.
    remind = Step(after=-3, level="remind", notify=["contact"])
    assert step_threshold(CN, D(2018, 10, 8), remind) == D(2018, 9, 28)


def test_quarterly_task_due_five_working_days_after_each_quarter() -> None:
    plan = _plan({"id": "t.q", "title": "Quarterly", "lead": "office", "every": "quarter",
                  "due_after": 5})
    dues = [o.due for o in expand(plan, CN)]
    assert dues == [
        # Q1 ends Sat 03-31: 04-02, 03, 04, then Qingming (04-05..07) off, 04-08 (Sun, worked), 04-09.
        D(2018, 4, 9),
        # Q2 ends Sat 06-30: five ordinary working days, 07-02..07-06.
        D(2018, 7, 6),
        # Q3 ends Sun 09-30 (a worked Sunday, but "after" is strict): Golden Week is skipped,
        # 10-08..10-12.
        D(2018, 10, 12),
        # Q4 ends 12-31 inside the New Year break: 2019-01-02, 03, 04, 07, 08.
        D(2019, 1, 8),
    ]


def test_recurring_due_with_no_shift_is_the_period_end_rolled_forward() -> None:
    # due_after 0: the last day itself; Q3 ends on a worked Sunday (09-30) so it stays,
    # Q4 ends on 12-31 (bridged holiday) so it rolls to 2019-01-02.
    plan = _plan({"id": "t.q", "title": "Quarterly", "lead": "office", "every": "quarter"})
    assert [o.due for o in expand(plan, CN)] == [
        D(2018, 4, 2), D(2018, 7, 2), D(2018, 9, 30), D(2019, 1, 2),
    ]


# -- ±N wd arithmetic ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("start", "n", "expected", "why"),
    [
        (D(2018, 3, 16), 0, D(2018, 3, 16), "0 wd is the day itself"),
        (D(2018, 3, 16), 1, D(2018, 3, 19), "+1 wd is strictly after: Friday -> Monday"),
        (D(2018, 3, 16), -1, D(2018, 3, 15), "-1 wd is strictly before"),
        (D(2018, 3, 17), 1, D(2018, 3, 19), "+1 wd from a Saturday is the next working day"),
        (D(2018, 3, 17), -1, D(2018, 3, 16), "-1 wd from a Saturday is the previous working day"),
        (D(2018, 2, 14), 1, D(2018, 2, 22), "+1 wd jumps the whole Spring Festival break"),
        (D(2018, 2, 22), -1, D(2018, 2, 14), "-1 wd jumps it backwards"),
        (D(2018, 2, 9), 1, D(2018, 2, 11), "+1 wd from Friday lands on the worked Sunday"),
        (D(2018, 9, 28), 1, D(2018, 9, 29), "the worked Saturday counts"),
        (D(2018, 9, 30), 1, D(2018, 10, 8), "+1 wd after the worked Sunday skips Golden Week"),
        (D(2018, 10, 8), -3, D(2018, 9, 28), "back across Golden Week and the worked weekend"),
        (D(2018, 12, 28), 1, D(2018, 12, 29), "the worked Saturday before New Year"),
        (D(2018, 12, 28), 2, D(2019, 1, 2), "forward across the year end"),
        (D(2018, 12, 29), 5, D(2019, 1, 8), "five into 2019, past the bridged holiday"),
        (D(2019, 1, 2), -1, D(2018, 12, 29), "back across the year end onto the worked Saturday"),
        (D(2019, 1, 2), -2, D(2018, 12, 28), "two back across the year end"),
        (D(2018, 1, 2), -1, D(2017, 12, 29), "into the previous year (2018-01-01 is a holiday)"),
        # 7 working days left in 2018 after 12-20, then 243 of 2019's 250 working days.
        (D(2018, 12, 20), 250, D(2019, 12, 20), "a long shift walks a whole year"),
    ],
)
def test_shift_counts_working_days_strictly_before_or_after(
    start: dt.date, n: int, expected: dt.date, why: str
) -> None:
    assert CN.shift(start, n) == expected, why


@pytest.mark.parametrize("start", [D(2018, 1, 2), D(2018, 2, 13), D(2018, 9, 29), D(2018, 12, 29)])
def test_shift_agrees_with_a_day_by_day_walk(start: dt.date) -> None:
    # The bisect arithmetic against the obvious reference: step one day at a time and count.
    for n in range(-40, 41):
        day, left = start, abs(n)
        while left:
            day += dt.timedelta(days=1 if n > 0 else -1)
            left -= CN.is_working_day(day)
        assert CN.shift(start, n) == day, n


@pytest.mark.parametrize(
    ("after", "up_to", "expected", "why"),
    [
        (D(2018, 3, 16), D(2018, 3, 16), 0, "the same day: none"),
        (D(2018, 3, 16), D(2018, 3, 15), 0, "a range backwards: none"),
        (D(2018, 3, 16), D(2018, 3, 17), 0, "Friday to Saturday: no working day passed"),
        (D(2018, 3, 16), D(2018, 3, 19), 1, "Friday to Monday: one"),
        (D(2018, 9, 30), D(2018, 10, 7), 0, "all of Golden Week: none"),
        (D(2018, 9, 28), D(2018, 10, 8), 3, "09-29, 09-30 (worked weekend) and 10-08"),
        (D(2018, 12, 28), D(2019, 1, 2), 2, "12-29 and 01-02 across the year end"),
    ],
)
def test_working_days_between_counts_after_exclusive_up_to_inclusive(
    after: dt.date, up_to: dt.date, expected: int, why: str
) -> None:
    assert CN.working_days_between(after, up_to) == expected, why


def test_calendar_table_rows_count_ordinals_over_working_days_only() -> None:
    rows = list(CN.days(D(2018, 9, 28), D(2018, 10, 9)))
    assert rows[0] == (D(2018, 9, 28), True, 1)
    assert rows[2] == (D(2018, 9, 30), True, 3)
    assert [o for _, _, o in rows[3:10]] == [3] * 7  # Golden Week adds nothing
    assert rows[-1] == (D(2018, 10, 9), True, 5)


# -- plan overrides -----------------------------------------------------------------------
def test_plan_extra_holiday_moves_the_due_date() -> None:
    # A local holiday declared by the plan on 10-08 pushes the post-Golden-Week due to 10-09.
    calendar = WorkCalendar(CalendarSpec(holidays=[D(2018, 10, 8)]))
    assert not calendar.is_working_day(D(2018, 10, 8))
    assert calendar.roll_forward(D(2018, 10, 1)) == D(2018, 10, 9)
    assert CN.roll_forward(D(2018, 10, 1)) == D(2018, 10, 8)  # the base is untouched


def test_plan_extra_workday_makes_a_saturday_count() -> None:
    # An extra working Saturday (e.g. a make-up day the district declares) is a valid due date
    # and shortens a +N wd count.
    calendar = WorkCalendar(CalendarSpec(workdays=[D(2018, 3, 17)]))
    assert calendar.is_working_day(D(2018, 3, 17))
    assert calendar.roll_forward(D(2018, 3, 17)) == D(2018, 3, 17)
    assert calendar.shift(D(2018, 3, 16), 1) == D(2018, 3, 17)
    assert CN.shift(D(2018, 3, 16), 1) == D(2018, 3, 19)


def test_weekends_base_ignores_public_holidays() -> None:
    calendar = WorkCalendar(CalendarSpec(base="weekends"))
    assert calendar.is_working_day(D(2018, 10, 1))  # National Day is a Monday like any other
    assert not calendar.is_working_day(D(2018, 9, 29))  # and no 调休 Saturdays


# -- years without a published schedule ------------------------------------------------------
def test_year_without_published_schedule_is_refused_not_guessed() -> None:
    # chinesecalendar 1.11.0 stops at 2026: the State Council publishes each year's schedule
    # in November, so 2027 is unknown and must not silently fall back to plain weekends.
    assert CN.covers(2026)
    assert not CN.covers(2027)
    with pytest.raises(CalendarNotCovered) as caught:
        CN.is_working_day(D(2027, 3, 1))
    assert caught.value.year == 2027
    assert "no official schedule for 2027" in str(caught.value)
    assert "calendar.years" in str(caught.value)  # and it says how to fix it


def test_each_published_year_is_the_calendar_packages_own_days() -> None:
    # The year is built from the package's tables, not day by day through `is_workday`
    # (which checks the year against every table entry on each call): the same days, every
    # published year, 调休 Saturdays in and holidays out.
    import chinese_calendar

    year = 2004
    while CN.covers(year):
        first, last = D(year, 1, 1), D(year, 12, 31)
        days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
        assert [CN.is_working_day(day) for day in days] == [chinese_calendar.is_workday(day) for day in days], year
        year += 1
    assert year == 2027  # chinesecalendar 1.11.0 publishes 2004-2026


def test_shift_into_an_unpublished_year_is_refused() -> None:
    # A due date late in the last covered year can be pushed into an uncovered one.
    with pytest.raises(CalendarNotCovered, match="2027"):
        CN.shift(D(2026, 12, 30), 5)


def test_plan_supplied_year_is_covered_with_its_own_holidays() -> None:
    # `years: [2027]` tells the calendar the plan supplies 2027: weekends plus the given
    # holidays minus the given working days.
    spec = CalendarSpec(base="CN", years=[2027], holidays=[D(2027, 10, 1), D(2027, 10, 4)],
                        workdays=[D(2027, 9, 26)])
    calendar = WorkCalendar(spec)
    assert calendar.covers(2027)
    assert not calendar.is_working_day(D(2027, 10, 1))  # Friday, declared holiday
    assert calendar.roll_forward(D(2027, 10, 1)) == D(2027, 10, 5)  # Sat, Sun, Mon 10-04 off
    assert calendar.is_working_day(D(2027, 9, 26))  # a declared working Sunday
    assert calendar.is_working_day(D(2027, 3, 1))  # an ordinary Monday
    # 2026 still follows the official schedule: 2026-01-01 is New Year's Day.
    assert not calendar.is_working_day(D(2026, 1, 1))


def _plan(task: dict[str, object]) -> Plan:
    return Plan.model_validate({
        "version": 1,
        "plan": {"id": "cal-2018", "title": "Calendar", "coordinator": "office",
                 "start": "2018-01-01", "end": "2018-12-31"},
        "units": [{"id": "office", "name": "Office"}],
        "sections": [{"id": "s", "title": "S", "tasks": [task]}],
    })

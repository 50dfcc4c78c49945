"""Pure rules behind the report: scores, rates, indicator gaps and trends, the weekly day,
and the iCalendar text rules. No database."""

from __future__ import annotations

import datetime as dt

import pytest

from plan_tracker.domain.calendar import WorkCalendar
from plan_tracker.domain.indicators import Trend, gap, meets, trend
from plan_tracker.domain.plan import Direction, Scoring
from plan_tracker.domain.scoring import rate, score_unit
from plan_tracker.reports.ics import escape_text, fold
from plan_tracker.reports.schedule import first_working_day_of_week, week_key, weekly_due

RULES = Scoring(base=100, per_overdue_item=2, per_done_late_item=1,
                per_level={"urge": 0.5, "supervise": 1, "accountability": 3}, floor=60)


@pytest.mark.parametrize(("overdue", "done_late", "reminders", "expected"), [
    (0, 0, {}, 100),                                       # nothing late, nothing received
    (1, 0, {}, 98),                                        # 100 - 2
    (0, 3, {}, 97),                                        # 100 - 3 x 1
    (2, 1, {"urge": 2, "supervise": 1}, 100 - 4 - 1 - 1 - 1),  # 2x2, 1x1, 2x0.5, 1x1 = 93
    (0, 0, {"remind": 9}, 100),                            # a level without points costs nothing
    (30, 0, {"accountability": 5}, 60),                    # 100 - 60 - 15 = 25, floored at 60
])
def test_a_unit_loses_points_per_late_item_and_reminder_level(overdue, done_late, reminders, expected):
    card = score_unit(RULES, overdue_items=overdue, done_late_items=done_late, reminders=reminders)
    assert card.score == expected


def test_deductions_name_their_cause():
    card = score_unit(RULES, overdue_items=1, done_late_items=1, reminders={"urge": 1, "remind": 4})
    assert card.deductions == {"overdue": 2, "done_late": 1, "urge": 0.5}


def test_default_scoring_rules_are_backward_compatible():
    # A plan without a `scoring` block: 100, -2 per overdue item, -1 per late item, floor 0.
    card = score_unit(Scoring(), overdue_items=60, done_late_items=0, reminders={"urge": 3})
    assert card.score == 0


@pytest.mark.parametrize(("num", "den", "expected"), [(4, 5, 0.8), (0, 5, 0.0), (0, 0, None), (3, 0, None)])
def test_a_rate_with_nothing_expected_is_none_not_zero(num, den, expected):
    assert rate(num, den) == expected


@pytest.mark.parametrize(("direction", "target", "value", "shortfall", "met"), [
    (Direction.at_least, 20, 13, 7, False),
    (Direction.at_least, 20, 25, -5, True),
    (Direction.at_least, 20, 20, 0, True),     # exactly on target meets it
    (Direction.at_most, 5, 3, -2, True),
    (Direction.at_most, 5, 8, 3, False),
    (Direction.at_least, None, 8, None, None),  # no target: no gap, no verdict
])
def test_gap_is_the_shortfall_in_the_indicators_direction(direction, target, value, shortfall, met):
    assert gap(direction, target, value) == shortfall
    assert meets(direction, target, value) is met


@pytest.mark.parametrize(("direction", "values", "expected"), [
    (Direction.at_least, [14, 12], Trend.worse),
    (Direction.at_least, [10, None, 12], Trend.better),   # periods without values are skipped
    (Direction.at_most, [5, 3], Trend.better),            # fewer complaints is better
    (Direction.at_most, [3, 3], Trend.steady),
    (Direction.at_least, [7], Trend.unknown),
    (Direction.at_least, [], Trend.unknown),
])
def test_trend_compares_the_last_two_periods_in_the_indicators_direction(direction, values, expected):
    assert trend(direction, values) is expected


@pytest.mark.parametrize(("day", "first"), [
    # An ordinary week: Monday.
    ("2018-04-18", "2018-04-16"),
    # Qingming week (W14): Monday 04-02 works, even though 04-05..07 are off and Sunday
    # 04-08 is a working day of the same ISO week.
    ("2018-04-08", "2018-04-02"),
    # May Day week (W18): 04-30 and 05-01 are holidays, so the week starts on Wednesday.
    ("2018-05-04", "2018-05-02"),
    # Mid-Autumn week (W39): Monday 09-24 is off; the working Saturday 09-29 comes later.
    ("2018-09-29", "2018-09-25"),
    # National Day week (W40): 10-01..10-07 are all off: no weekly report that week.
    ("2018-10-03", None),
])
def test_the_weekly_report_goes_out_on_the_first_working_day_of_the_iso_week(day, first):
    found = first_working_day_of_week(WorkCalendar(), dt.date.fromisoformat(day))
    assert (found.isoformat() if found else None) == first


@pytest.mark.parametrize(("as_of", "first_night", "due"), [
    ("2018-04-16", None, True),           # the week's first working day: always
    ("2018-05-01", "2018-01-02", False),  # May Day week: not before its first working day 05-02
    ("2018-04-17", "2018-01-02", True),   # Monday's night was missed: caught up on Tuesday
    ("2018-04-17", "2018-04-16", True),   # Monday ran (its e-mail waiting for the window)
    ("2018-04-17", "2018-04-17", False),  # the store started mid-week: next week's report
    ("2018-10-03", "2018-01-02", False),  # National Day week has no working day
])
def test_the_weekly_report_is_due_from_the_weeks_first_working_day(as_of, first_night, due):
    night = dt.date.fromisoformat(first_night) if first_night else None
    assert weekly_due(WorkCalendar(), dt.date.fromisoformat(as_of), night) is due


def test_week_keys_are_iso_weeks():
    assert week_key(dt.date(2018, 12, 31)) == "2019-W01"  # ISO week 1 of 2019 starts on 12-31
    assert week_key(dt.date(2018, 4, 8)) == "2018-W14"


def test_ics_text_escapes_specials_and_folds_at_75_octets_without_splitting_characters():
    assert escape_text("a,b;c\\d\ne") == "a\\,b\\;c\\\\d\\ne"
    line = "SUMMARY:" + "督查督办" * 30
    folded = fold(line)
    parts = folded.split("\r\n")
    assert all(len(p.encode("utf-8")) <= 75 for p in parts)
    assert all(p.startswith(" ") for p in parts[1:])
    assert "".join([parts[0], *(p[1:] for p in parts[1:])]) == line


def test_an_english_feed_is_worded_in_english_and_parses():
    import icalendar

    from plan_tracker.reports.ics import Deadline, render_ics

    feed = render_ics(plan_id="p", plan_title="Plan, 2018", unit_id="u", unit_name="Town A", locale="en",
                      as_of=dt.date(2018, 4, 20), deadlines=[
                          Deadline("t.one", "Draft; the rules", "Area", "once", dt.date(2018, 4, 27),
                                   dt.date(2018, 4, 13), "green", "in_progress", 60, dt.date(2018, 4, 24))])
    (event,) = icalendar.Calendar.from_ical(feed).walk("VEVENT")
    assert str(event["SUMMARY"]) == "[due] Draft; the rules (one-off)"
    assert "Original due: 2018-04-13" in str(event["DESCRIPTION"])
    assert feed.startswith("BEGIN:VCALENDAR\r\n") and "X-WR-CALNAME:Town A · Plan\\, 2018\r\n" in feed

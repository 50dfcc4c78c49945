"""The report model's figures on the county scenario (conftest), against values computed by
hand. Working days of April 2018: 02 03 04 | 08 (Sunday, worked) 09 10 11 12 13 | 16 17 18 19 20.
Ladder: remind −3 wd, urge +1, supervise +5, accountability +10.

- study.plan due 03-30: remind 03-27, urge 04-02, supervise 04-09, accountability 04-16.
- study.quarterly Q1 due 04-09 (03-31 + 5 wd: 04-02 03 04 08 09): remind 04-03, urge 04-10,
  supervise 04-16, accountability 04-23 (after the as-of date).
- openness.catalogue due 04-27 after the extension: remind 04-24, after the as-of date.
"""

from __future__ import annotations

import datetime as dt

import pytest

from plan_tracker.reports import build_report

from .conftest import AS_OF, PLAN_ID


def unit(report, unit_id):
    return next(u for u in report.units if u.id == unit_id)


def test_summary_counts_every_obligation_by_its_light(report):
    # 12 obligations: study.plan x2, study.quarterly 4 quarters x 2 towns, two office tasks.
    # red: study.plan/b (no report), Q1/b (in progress only); done: Q1/a, rules;
    # done_late: study.plan/a (done 04-18 > 03-30); green: Q2/a, Q2/b, catalogue (due 04-27,
    # yellow only from 04-24); pending: Q3 and Q4 of both towns (periods start 07-01, 10-01).
    assert report.summary.lights.counts == {
        "red": 2, "yellow": 0, "green": 3, "pending": 4, "done": 2, "done_late": 1}
    assert report.summary.total == 12


def test_reporting_rate_and_timeliness_follow_dhis2(report):
    r = report.summary.reporting
    # expected = due on or before 04-20: study.plan/a, study.plan/b, Q1/a, Q1/b, rules = 5
    # (the catalogue's due date is 04-27 after its extension: not expected yet).
    assert r.expected == 5
    # received: study.plan/a (04-18), Q1/a (04-09), Q1/b (04-12), rules (03-14) = 4 -> 4/5
    assert (r.received, r.reporting_rate) == (4, 0.8)
    # on time = first report dated on or before the due date: Q1/a (04-09 <= 04-09), rules
    # (03-14 <= 03-15) = 2; study.plan/a first reported 04-18, Q1/b 04-12 > 04-09 -> 2/5
    assert (r.on_time, r.timeliness) == (2, 0.4)


def test_completion_rate_and_on_time_rate_count_expected_items(report):
    r = report.summary.reporting
    # completed among the 5 expected: study.plan/a (late), Q1/a, rules = 3 -> 3/5 = 60 %
    assert (r.completed, r.completion_rate) == (3, 0.6)
    # done by the due date among the 5: Q1/a and rules = 2 -> 2/5 = 40 %
    assert (r.done_on_time, r.on_time_rate) == (2, 0.4)


def test_working_days_overdue_are_counted_on_the_official_calendar(report):
    # study.plan/b: after 03-30 up to 04-20 = 3 (04-02..04) + 1 (04-08) + 5 + 5 = 14 wd
    # Q1/b: after 04-09 up to 04-20 = 4 (04-10..13) + 5 (04-16..20) = 9 wd
    assert [(o.task_id, o.unit_id, o.overdue_wd) for o in report.overdue] == [
        ("study.plan", "town-b", 14), ("study.quarterly", "town-b", 9)]
    assert report.summary.overdue_wd == 14 + 9
    b = unit(report, "town-b")
    assert (b.overdue, b.overdue_wd, b.max_overdue_wd) == (2, 23, 14)


def test_units_report_expected_received_and_on_time(report):
    figures = {u.id: (u.reporting.expected, u.reporting.received, u.reporting.on_time) for u in report.units}
    # town-a: study.plan (first report 04-18, late) and Q1 (04-09, on time)
    # town-b: study.plan (none) and Q1 (first 04-12, after 04-09)
    # office: rules only (03-14 <= 03-15); the extended catalogue is due 04-27
    assert figures == {"office": (1, 1, 1), "town-a": (2, 2, 1), "town-b": (2, 1, 0)}
    assert unit(report, "town-b").reporting.reporting_rate == 0.5
    assert unit(report, "town-b").reporting.timeliness == 0.0


def test_reminders_received_are_counted_per_unit_and_level(report):
    # town-a: study.plan remind/urge/supervise/accountability (done only on 04-18), Q1 remind
    # (done on its due date 04-09, before urge on 04-10).
    assert unit(report, "town-a").reminders == {"remind": 2, "urge": 1, "supervise": 1, "accountability": 1}
    # town-b: study.plan all four; Q1 remind, urge, supervise (accountability falls on 04-23).
    assert unit(report, "town-b").reminders == {"remind": 2, "urge": 2, "supervise": 2, "accountability": 1}
    assert unit(report, "office").reminders == {"remind": 0, "urge": 0, "supervise": 0, "accountability": 0}
    assert report.summary.reminders == {"remind": 4, "urge": 3, "supervise": 3, "accountability": 2}


def test_scores_deduct_per_late_item_and_per_level(report):
    # Rules: 100, -2 per item open past its original due date, -1 per item done past it,
    # urge -0.5, supervise -1, accountability -3 each; remind costs nothing.
    # town-a: study.plan done late (-1); urge, supervise, accountability once (-0.5 -1 -3)
    #         = 100 - 1 - 4.5 = 94.5
    a = unit(report, "town-a")
    assert (a.late_open, a.done_late, a.score) == (0, 1, 94.5)
    assert a.deductions == {"done_late": 1, "urge": 0.5, "supervise": 1, "accountability": 3}
    # town-b: two items open past due (-4); urge x2 (-1), supervise x2 (-2), accountability (-3)
    #         = 100 - 4 - 6 = 90
    b = unit(report, "town-b")
    assert (b.late_open, b.done_late, b.score) == (2, 0, 90)


def test_the_original_deadline_counts_for_the_score_even_after_an_extension(report):
    # The catalogue was due 04-13 and extended to 04-27: on 04-20 its light is green, yet it
    # is open past its original deadline: -2 -> 98.
    catalogue = next(t for t in report.tasks if t.id == "openness.catalogue")
    assert catalogue.lights["green"] == 1
    office = unit(report, "office")
    assert (office.late_open, office.done_late, office.score) == (1, 0, 98)


def test_sections_and_tasks_carry_lights_progress_and_overdue(report):
    study, openness = report.sections
    assert (study.id, openness.id) == ("study", "openness")
    assert study.lights.counts == {"red": 2, "yellow": 0, "green": 2, "pending": 4, "done": 1, "done_late": 1}
    # progress over started items (not pending): study.plan/a 100 (done), study.plan/b 0,
    # Q1/a 100 (done), Q1/b 40 (latest report), Q2/a 30, Q2/b 0 -> 270 / 6 = 45
    assert study.progress == 45.0
    # openness: rules 100 (done), catalogue 60 -> 80
    assert openness.progress == 80.0
    assert (study.overdue, study.overdue_wd) == (2, 23)
    assert [t.id for t in report.tasks] == ["study.plan", "study.quarterly", "openness.rules", "openness.catalogue"]


def test_indicators_use_each_obligations_latest_numeric_value(report):
    trained = next(i for i in report.indicators if i.id == "trained")
    # Q1/a 18, Q1/b 10 (its later "约十人" is not a number), Q2/a 12 -> 3 values, total 40,
    # mean 13.3333; none reaches 20; gap = 20 - 13.3333 = 6.6667.
    assert (trained.reported, trained.total, trained.mean, trained.met) == (3, 40, 13.3333, 0)
    assert trained.gap == pytest.approx(6.6667, abs=1e-4)
    assert [(p.period, p.reported, p.mean) for p in trained.points] == [("2018-Q1", 2, 14), ("2018-Q2", 1, 12)]
    assert trained.trend == "worse"  # 14 -> 12 for an at-least indicator
    complaints = next(i for i in report.indicators if i.id == "complaints")
    # at most 5, reported 3: met, gap 3 - 5 = -2 (no shortfall); one period: no trend.
    assert (complaints.mean, complaints.met, complaints.gap, complaints.trend) == (3, 1, -2, "unknown")


def test_the_overdue_list_is_oldest_first_with_each_items_reminders(report):
    first, second = report.overdue
    assert [(r.level, r.fired_on.isoformat()) for r in first.reminders] == [
        ("remind", "2018-03-27"), ("urge", "2018-04-02"), ("supervise", "2018-04-09"),
        ("accountability", "2018-04-16")]
    assert [(r.level, r.fired_on.isoformat()) for r in second.reminders] == [
        ("remind", "2018-04-03"), ("urge", "2018-04-10"), ("supervise", "2018-04-16")]
    assert report.overdue_total == 2
    assert second.status == "in_progress" and second.progress == 40
    assert second.last_report_on == dt.date(2018, 4, 16)


def test_the_overdue_list_is_paginated(scenario):
    page = build_report(scenario.engine, PLAN_ID, AS_OF, overdue_limit=1, overdue_offset=1)
    assert [(o.task_id, o.unit_id) for o in page.overdue] == [("study.quarterly", "town-b")]
    assert (page.overdue_total, page.overdue_offset) == (2, 1)


def test_the_notice_names_exactly_the_units_with_open_items_at_the_top_level(report):
    # The accountability step fired on 04-16 for study.plan of both towns; town-a finished on
    # 04-18, so only town-b is named. Q1/b reaches the top level only on 04-23.
    notice = report.notice
    assert notice.level.level == "accountability"
    assert [u.unit_id for u in notice.units] == ["town-b"]
    (item,) = notice.units[0].items
    assert (item.task_id, item.overdue_wd, item.first_notified, item.times) == (
        "study.plan", 14, dt.date(2018, 4, 16), 1)
    assert (notice.item_total, notice.truncated) == (1, False)


def test_change_since_compares_with_the_previous_nightly_snapshot(scenario, report):
    # Default: the night before (04-19): nothing changed on 04-20.
    assert report.summary.since == dt.date(2018, 4, 19)
    assert set(report.summary.change.values()) == {0}
    # Against 04-13: study.plan/a was still red then (done on 04-18): red -1, done_late +1.
    week = build_report(scenario.engine, PLAN_ID, AS_OF, since=dt.date(2018, 4, 13))
    assert week.summary.change == {"red": -1, "yellow": 0, "green": 0, "pending": 0, "done": 0, "done_late": 1}


def test_the_trend_reads_red_and_yellow_from_the_nightly_snapshots(report):
    points = {p.day.isoformat(): (p.red, p.yellow) for p in report.trend}
    assert len(points) == 19  # the working days from 03-26 to 04-20
    assert points["2018-03-28"] == (0, 2)  # study.plan of both towns within 3 wd of 03-30
    assert points["2018-04-13"] == (3, 0)  # study.plan/a and /b, Q1/b
    assert points["2018-04-20"] == (2, 0)


def test_a_date_before_any_snapshot_has_no_change_and_no_trend(scenario):
    early = build_report(scenario.engine, PLAN_ID, dt.date(2018, 3, 1))
    assert (early.summary.since, early.summary.change, early.trend) == (None, None, [])
    assert early.summary.reporting.expected == 0
    assert early.summary.reporting.reporting_rate is None  # nothing expected: no rate, not 0 %

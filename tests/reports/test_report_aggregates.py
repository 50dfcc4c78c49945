"""The report's SQL aggregates equal the figures computed row by row from each obligation.

The oracle is the row-based way the report used to be built: every obligation evaluated
with the full status columns (`evaluated_cte(full=True)`: latest status and progress, first
and last report dates, completion date), each row's contribution computed in Python, then
summed per task, section, unit and plan. The report now looks up less, and only where a
figure reads it, and groups in the database; the figures must not move by one.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import Engine

from .conftest import AS_OF, PLAN_ID

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def _day(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


@dataclass
class Figures:
    lights: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    expected: int = 0
    received: int = 0
    on_time: int = 0
    completed: int = 0
    done_on_time: int = 0
    started: int = 0
    progress_sum: int = 0
    overdue: int = 0
    overdue_wd: int = 0
    max_overdue_wd: int = 0
    late_open: int = 0
    done_late: int = 0

    def add(self, row: dict[str, Any], as_of: dt.date) -> None:
        light, due = row["light"], _day(row["due"])
        first_on, done_on = _day(row["first_on"]), _day(row["done_on"])
        expected = due is not None and due <= as_of
        self.lights[light] += 1
        if expected:
            self.expected += 1
            self.received += first_on is not None
            self.on_time += first_on is not None and first_on <= due
            self.completed += light in ("done", "done_late")
            self.done_on_time += light == "done"
        if light != "pending":
            self.started += 1
            progress = row["progress"]
            self.progress_sum += progress if progress is not None else (100 if light in ("done", "done_late") else 0)
        if light == "red":
            self.overdue += 1
            self.overdue_wd += int(row["overdue_wd"])
            self.max_overdue_wd = max(self.max_overdue_wd, int(row["overdue_wd"]))
        original_due = _day(row["original_due"])
        self.late_open += done_on is None and as_of > original_due
        self.done_late += done_on is not None and done_on > original_due

    def lights_of(self) -> dict[str, int]:
        from plan_tracker.reports.model import LightCounts

        return LightCounts.of(dict(self.lights)).counts

    def reporting(self) -> tuple[int, int, int, int, int]:
        return self.expected, self.received, self.on_time, self.completed, self.done_on_time

    def progress(self) -> float | None:
        return round(self.progress_sum / self.started, 1) if self.started else None


def row_based(engine: Engine, plan_id: str, as_of: dt.date) -> list[dict[str, Any]]:
    """Every obligation of the report, evaluated with the full status columns."""
    from plan_tracker.reports.build import _sql
    from plan_tracker.services.status import eval_params, id_bounds
    from plan_tracker.store.evaluation_sql import evaluated_cte

    with engine.connect() as conn:
        params = dict(eval_params(conn, plan_id, as_of))
        params["lo"], params["hi"] = id_bounds(conn, plan_id)
        statement = evaluated_cte(full=True) + """
            SELECT e.*, t.section_id FROM evaluated e JOIN task t ON t.plan_id = :plan AND t.id = e.task_id"""
        return [dict(r) for r in conn.execute(_sql(statement), params).mappings()]


def assert_report_equals_rows(engine: Engine, plan_id: str, as_of: dt.date) -> int:
    from plan_tracker.reports import build_report

    rows = row_based(engine, plan_id, as_of)
    report = build_report(engine, plan_id, as_of, overdue_limit=10**6)
    total, by_task, by_section, by_unit = Figures(), defaultdict(Figures), defaultdict(Figures), defaultdict(Figures)
    for row in rows:
        for figures in (total, by_task[row["task_id"]], by_section[row["section_id"]], by_unit[row["unit_id"]]):
            figures.add(row, as_of)

    def reporting(r: Any) -> tuple[int, int, int, int, int]:
        return r.expected, r.received, r.on_time, r.completed, r.done_on_time

    assert report.summary.lights.counts == total.lights_of()
    assert reporting(report.summary.reporting) == total.reporting()
    assert report.summary.overdue_wd == total.overdue_wd
    for groups, expected in ((report.tasks, by_task), (report.sections, by_section)):
        assert {g.id for g in groups} == set(expected)
        for g in groups:
            want = expected[g.id]
            assert (g.lights.counts, reporting(g.reporting), g.progress, g.overdue, g.overdue_wd) == (
                want.lights_of(), want.reporting(), want.progress(), want.overdue, want.overdue_wd), g.id
    assert {u.id for u in report.units} == set(by_unit)
    for u in report.units:
        want = by_unit[u.id]
        assert (u.lights.counts, reporting(u.reporting), u.overdue, u.overdue_wd, u.max_overdue_wd,
                u.late_open, u.done_late) == (
            want.lights_of(), want.reporting(), want.overdue, want.overdue_wd, want.max_overdue_wd,
            want.late_open, want.done_late), u.id
    red = sorted((r for r in rows if r["light"] == "red"),
                 key=lambda r: (_day(r["due"]), -int(r["overdue_wd"]), r["task_id"], r["unit_id"], r["period"]))
    assert report.overdue_total == len(red)
    assert [(i.task_id, i.unit_id, i.period, i.status, i.progress, i.last_report_on, i.overdue_wd)
            for i in report.overdue] == [
        (r["task_id"], r["unit_id"], r["period"], r["status"], r["progress"], _day(r["last_on"]), int(r["overdue_wd"]))
        for r in red]
    assert_weekly_equals_report(engine, plan_id, as_of, report)
    return len(rows)


def assert_weekly_equals_report(engine: Engine, plan_id: str, as_of: dt.date, report: Any) -> None:
    """The week's report in a manager's message is built leaner (no cells, progress looked up
    for the listed items only): its figures and list are the whole report's."""
    from plan_tracker.reports.build import WeeklyWanted, build_report, build_weekly
    from plan_tracker.reports.model import WeeklyFigures

    for limit in (3, 10**6):
        weekly = build_weekly(engine, plan_id, as_of, since=None, overdue_limit=limit)
        assert weekly == WeeklyFigures.of_report(report, limit)
        # and as the report built beside the night hands them to its delivery, from its items
        handed: list[WeeklyFigures] = []
        build_report(engine, plan_id, as_of, weekly=WeeklyWanted(None, limit, handed.append))
        assert handed == [weekly]


def test_the_county_reports_aggregates_equal_its_rows(scenario):
    assert assert_report_equals_rows(scenario.engine, PLAN_ID, AS_OF) > 0


@pytest.mark.parametrize("as_of", [dt.date(2018, 3, 28), dt.date(2018, 4, 9), dt.date(2018, 12, 31)])
def test_the_county_report_on_other_days_equals_its_rows(scenario, as_of):
    assert_report_equals_rows(scenario.engine, PLAN_ID, as_of)


def test_the_founding_plans_aggregates_equal_its_rows_through_the_year(engine):
    """The demo's reports (on time, late, in progress, sent back to in progress after done,
    silent) on the founding plan, with some nights run so reminders and saved lights exist."""
    from plan_tracker.demo import demo_reports
    from plan_tracker.domain.calendar import WorkCalendar
    from plan_tracker.planfile import load_plan
    from plan_tracker.resources import example_plan_path
    from plan_tracker.services.nightly import evaluate
    from plan_tracker.services.plans import apply_plan
    from plan_tracker.services.submissions import record_report

    founding = example_plan_path("jingzhou-2018")
    apply_plan(engine, founding)
    plan = load_plan(founding)
    with engine.begin() as conn:
        for s in demo_reports(plan, WorkCalendar(plan.plan.calendar)):
            record_report(conn, s, today=dt.date(2019, 3, 31), actor=s.unit, source="demo")
    days = [dt.date(2018, 3, 30), dt.date(2018, 7, 2), dt.date(2018, 10, 22), dt.date(2019, 1, 4)]
    for day in days[:3]:
        evaluate(engine, plan.id, day, now=dt.datetime.combine(day, dt.time(9), tzinfo=SHANGHAI))
    for day in [dt.date(2018, 1, 2), *days]:
        assert assert_report_equals_rows(engine, plan.id, day) > 0

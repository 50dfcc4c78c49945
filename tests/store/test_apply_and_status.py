"""Applying plans to the store and reading status back, on SQLite and on PostgreSQL.

Service functions are called directly (the CLI is a thin layer over them, tested in
tests/cli); the `engine` fixture runs every test on both backends.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, inspect, select, text

from plan_tracker.domain.calendar import WorkCalendar
from plan_tracker.domain.errors import BadPeriod
from plan_tracker.domain.obligations import expand
from plan_tracker.domain.reports import BadReport
from plan_tracker.planfile import PlanFileError, load_plan
from plan_tracker.services.plans import UnknownPlan, apply_plan
from plan_tracker.services.status import StatusRow, status_rows
from plan_tracker.services.submissions import NotYourObligation, Submission, submit
from plan_tracker.store.models import Obligation, PlanVersion, StatusReport

D = dt.date
TODAY = D(2019, 6, 1)  # the wall clock never enters these tests: "today" is passed in

PLAN = """\
version: 1
plan:
  id: store-2018
  title: 存储测试计划
  coordinator: legal-office
  start: 2018-01-01
  end: 2018-12-31
  warn_days: 3
leading_group: {name: 领导小组办公室, email: lg@example.org}
units:
  - {id: legal-office, name: 区政府法制办, groups: [coordination],
     contact: {name: 张三, email: a@example.org}, head: {name: 李四, email: b@example.org}}
  - {id: town-a, name: 川店镇, groups: [enforcement], contact: {name: 王五, email: c@example.org}}
  - {id: town-b, name: 马山镇, groups: [enforcement], contact: {name: 赵六, email: d@example.org}}
escalation:
  - {after: -3, level: remind, notify: [contact]}
  - {after: 1, level: urge, notify: [contact, head]}
  - {after: 10, level: accountability, notify: [leading_group]}
sections:
  - id: capability
    title: 进一步提高依法行政的能力和水平
    tasks:
      - id: capability.training
        title: 对执法队伍进行轮训
        lead: group:enforcement
        every: quarter
        due_after: 5
      - id: capability.study-plan
        title: 制定年度学法计划
        lead: legal-office
        due: 2018-03-16
      - id: capability.inspection
        title: 执法检查
        lead: [town-a]
        due: 2018-10-01
"""
# Obligations: training 2 units x 4 quarters, study-plan 1, inspection 1.
TOTAL = 10

NEW_TASK = """\
      - id: capability.case-review
        title: 案卷评查
        lead: group:enforcement
        every: half_year
"""


def edited(text_: str = PLAN) -> str:
    """Study-plan due moved, inspection removed, case-review (2 units x 2 halves) added."""
    text_ = text_.replace("        due: 2018-03-16", "        due: 2018-04-20")
    cut = text_.index("      - id: capability.inspection")
    return text_[:cut] + NEW_TASK


@pytest.fixture
def plan_file(tmp_path: Path) -> Path:
    path = tmp_path / "store-2018.yaml"
    path.write_text(PLAN, encoding="utf-8")
    return path


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows of every table (whatever later migrations add), to prove nothing was written."""
    with engine.connect() as conn:
        names = [n for n in inspect(conn).get_table_names() if n != "alembic_version"]
        return {n: conn.execute(text(f'SELECT COUNT(*) FROM "{n}"')).scalar_one() for n in names}


def report(engine: Engine, task: str, unit: str, period: str, status: str, on: dt.date,
           progress: int | None = None) -> int:
    receipt = submit(engine, Submission("store-2018", task, unit, period, status, on, progress),
                     today=TODAY, actor=unit, source="cli")
    return receipt.report_id


def by_key(rows: list[StatusRow]) -> dict[tuple[str, str, str], StatusRow]:
    return {(r.task, r.unit, r.period): r for r in rows}


# -- apply -----------------------------------------------------------------------------------
def test_applying_a_new_plan_writes_units_tasks_obligations_and_a_version(
    engine: Engine, plan_file: Path
) -> None:
    result = apply_plan(engine, plan_file)
    assert (result.plan_id, result.version, result.new_plan, result.changed) == ("store-2018", 1, True, True)
    assert result.units.added == ["legal-office", "town-a", "town-b"]
    assert result.tasks.added == ["capability.training", "capability.study-plan", "capability.inspection"]
    assert (result.obligations_added, result.obligations_total) == (TOTAL, TOTAL)
    counts = row_counts(engine)
    assert (counts["plan"], counts["plan_version"], counts["unit"], counts["task"]) == (1, 1, 3, 3)
    assert counts["obligation"] == TOTAL
    assert counts["escalation_step"] == 3
    assert counts["calendar_day"] > 365  # the working-day table the SQL evaluation joins


def test_stored_obligations_match_the_domain_expansion(engine: Engine, plan_file: Path) -> None:
    apply_plan(engine, plan_file)
    plan = load_plan(plan_file)
    expected = {(o.task, o.unit, o.period, o.due) for o in expand(plan, WorkCalendar(plan.plan.calendar))}
    t = Obligation.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        stored = {(r.task_id, r.unit_id, r.period, r.due)
                  for r in conn.execute(select(t.c.task_id, t.c.unit_id, t.c.period, t.c.due))}
    assert stored == expected
    # Spot-check the calendar: Q3 is due 5 wd after 09-30, across Golden Week.
    assert ("capability.training", "town-a", "2018-Q3", D(2018, 10, 12)) in stored


def test_applying_the_same_file_twice_changes_nothing(engine: Engine, plan_file: Path) -> None:
    apply_plan(engine, plan_file)
    before = row_counts(engine)
    again = apply_plan(engine, plan_file)
    assert not again.changed
    assert (again.version, again.obligations_total) == (1, TOTAL)
    assert row_counts(engine) == before


def test_a_dry_run_of_a_new_plan_writes_nothing(engine: Engine, plan_file: Path) -> None:
    empty = row_counts(engine)
    result = apply_plan(engine, plan_file, dry_run=True)
    assert result.dry_run and result.changed
    assert (result.version, result.obligations_added) == (1, TOTAL)
    assert row_counts(engine) == empty


def test_a_dry_run_of_an_edit_shows_the_diff_and_writes_nothing(engine: Engine, plan_file: Path) -> None:
    apply_plan(engine, plan_file)
    before = row_counts(engine)
    plan_file.write_text(edited(), encoding="utf-8")
    result = apply_plan(engine, plan_file, dry_run=True)
    assert result.tasks.added == ["capability.case-review"]
    assert result.tasks.changed == ["capability.study-plan"]
    assert result.tasks.removed == ["capability.inspection"]
    assert (result.obligations_added, result.obligations_changed, result.obligations_removed) == (4, 1, 1)
    assert row_counts(engine) == before


def test_editing_a_plan_keeps_reports_of_unchanged_tasks_and_records_a_new_version(
    engine: Engine, plan_file: Path
) -> None:
    apply_plan(engine, plan_file)
    report(engine, "capability.training", "town-a", "2018-Q1", "in_progress", D(2018, 3, 20), 40)
    report(engine, "capability.study-plan", "legal-office", "once", "done", D(2018, 3, 15))
    report(engine, "capability.inspection", "town-a", "once", "in_progress", D(2018, 6, 1), 10)

    before = status_rows(engine, "store-2018", D(2018, 3, 30))
    plan_file.write_text(edited(), encoding="utf-8")
    result = apply_plan(engine, plan_file, effective=D(2018, 4, 1))
    assert result.version == 2
    assert (result.obligations_added, result.obligations_changed, result.obligations_removed) == (4, 1, 1)
    # The record before the change's effective date is what it was.
    assert status_rows(engine, "store-2018", D(2018, 3, 30)) == before

    rows = by_key(status_rows(engine, "store-2018", D(2018, 4, 2)))
    assert len(rows) == TOTAL - 1 + 4
    training = rows[("capability.training", "town-a", "2018-Q1")]
    assert (training.status, training.progress) == ("in_progress", 40)
    # The study plan's due moved to 04-20; its report is kept and still counts as on time.
    study = rows[("capability.study-plan", "legal-office", "once")]
    assert (study.due, study.status, study.light) == (D(2018, 4, 20), "done", "done")
    assert ("capability.inspection", "town-a", "once") not in rows  # deactivated, not listed
    assert rows[("capability.case-review", "town-b", "2018-H1")].light == "green"

    versions_t, obligations_t = PlanVersion.__table__, Obligation.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        versions = conn.execute(select(versions_t.c.version).order_by(versions_t.c.version)).scalars().all()
        reports = conn.execute(select(func.count()).select_from(StatusReport.__table__)).scalar_one()  # type: ignore[attr-defined]
        inactive = conn.execute(select(obligations_t.c.task_id).where(~obligations_t.c.active)).scalars().all()
    assert versions == [1, 2]
    assert reports == 3  # the removed task's report is kept, never deleted
    assert inactive == ["capability.inspection"]


def test_restoring_a_removed_task_brings_back_its_reports(engine: Engine, plan_file: Path) -> None:
    apply_plan(engine, plan_file)
    report(engine, "capability.inspection", "town-a", "once", "in_progress", D(2018, 6, 1), 10)
    plan_file.write_text(edited(), encoding="utf-8")
    apply_plan(engine, plan_file, effective=D(2018, 4, 1))
    plan_file.write_text(PLAN, encoding="utf-8")
    result = apply_plan(engine, plan_file, effective=D(2018, 6, 1))
    assert result.version == 3
    # inspection is reactivated (its old rows come back), study-plan gets its old due again.
    assert sorted(result.tasks.changed) == ["capability.inspection", "capability.study-plan"]
    assert result.tasks.removed == ["capability.case-review"]
    rows = by_key(status_rows(engine, "store-2018", D(2018, 6, 2)))
    assert len(rows) == TOTAL
    assert rows[("capability.inspection", "town-a", "once")].progress == 10


def test_an_invalid_plan_changes_nothing(engine: Engine, plan_file: Path) -> None:
    apply_plan(engine, plan_file)
    before = row_counts(engine)
    plan_file.write_text(PLAN.replace("lead: [town-a]", "lead: [ghost]"), encoding="utf-8")
    with pytest.raises(PlanFileError, match="unknown unit 'ghost'"):
        apply_plan(engine, plan_file)
    assert row_counts(engine) == before


# -- status ----------------------------------------------------------------------------------
def test_status_rows_carry_the_report_and_the_light(engine: Engine, plan_file: Path) -> None:
    apply_plan(engine, plan_file)
    report(engine, "capability.training", "town-a", "2018-Q1", "in_progress", D(2018, 3, 20), 40)
    rows = by_key(status_rows(engine, "store-2018", D(2018, 4, 3)))
    assert len(rows) == TOTAL
    # Q1 training is due 04-09; due - 3 wd is 04-03 (04-05..07 Qingming, 04-08 a worked Sunday).
    assert rows[("capability.training", "town-a", "2018-Q1")] == StatusRow(
        "capability.training", "town-a", "2018-Q1", D(2018, 4, 9), "yellow", "in_progress", 40, 0)
    assert rows[("capability.training", "town-b", "2018-Q1")].status is None
    # The study plan (due Friday 03-16, no report) is red: 03-19..04-03 is 12 working days.
    study = rows[("capability.study-plan", "legal-office", "once")]
    assert (study.light, study.overdue_wd) == ("red", 12)
    assert rows[("capability.training", "town-a", "2018-Q2")].light == "green"  # Q2 started 04-01
    assert rows[("capability.training", "town-a", "2018-Q3")].light == "pending"


@pytest.mark.parametrize(
    ("as_of", "light", "overdue_wd", "why"),
    [
        (D(2018, 3, 12), "green", 0, "before the warning window"),
        (D(2018, 3, 13), "yellow", 0, "due - 3 wd"),
        (D(2018, 3, 17), "red", 0, "the Saturday after a Friday due: late, no working day lost"),
        (D(2018, 3, 19), "red", 1, "Monday"),
    ],
)
def test_status_lights_follow_the_working_day_rules(
    engine: Engine, plan_file: Path, as_of: dt.date, light: str, overdue_wd: int, why: str
) -> None:
    apply_plan(engine, plan_file)
    study = by_key(status_rows(engine, "store-2018", as_of))[("capability.study-plan", "legal-office", "once")]
    assert (study.light, study.overdue_wd) == (light, overdue_wd), why


def test_done_on_time_and_done_late(engine: Engine, plan_file: Path) -> None:
    apply_plan(engine, plan_file)
    report(engine, "capability.study-plan", "legal-office", "once", "done", D(2018, 3, 16))
    report(engine, "capability.training", "town-a", "2018-Q1", "done", D(2018, 4, 10))
    rows = by_key(status_rows(engine, "store-2018", D(2018, 4, 20)))
    study = rows[("capability.study-plan", "legal-office", "once")]
    training = rows[("capability.training", "town-a", "2018-Q1")]
    assert (study.light, study.progress, study.overdue_wd) == ("done", 100, 0)
    assert (training.light, training.overdue_wd) == ("done_late", 0)
    # On a date before the done report, the report does not count yet.
    before = by_key(status_rows(engine, "store-2018", D(2018, 4, 9)))
    assert before[("capability.training", "town-a", "2018-Q1")].light == "yellow"


def test_status_of_an_unknown_plan_is_refused(engine: Engine) -> None:
    with pytest.raises(UnknownPlan, match="no plan 'nowhere'"):
        status_rows(engine, "nowhere", D(2018, 3, 1))


def test_a_plans_obligation_ids_are_bounded_whatever_is_withdrawn(engine: Engine, plan_file: Path) -> None:
    """`id_bounds` reads the ends of each (plan, active) slice of the index: the bounds hold
    the plan's withdrawn obligations too, and no other plan's."""
    from plan_tracker.services.status import id_bounds

    apply_plan(engine, plan_file, actor="test")
    other = plan_file.with_name("other-2018.yaml")
    other.write_text(PLAN.replace("id: store-2018", "id: other-2018"), encoding="utf-8")
    apply_plan(engine, other, actor="test")
    ob = Obligation.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        ids = sorted(conn.execute(select(ob.c.id).where(ob.c.plan_id == "store-2018")).scalars())
        # the first and the last withdrawn: only the inactive slice reaches the ends
        conn.execute(ob.update().where(ob.c.id.in_([ids[0], ids[-1]])).values(active=False))
    with engine.connect() as conn:
        assert id_bounds(conn, "store-2018") == (ids[0], ids[-1])
        others = sorted(conn.execute(select(ob.c.id).where(ob.c.plan_id == "other-2018")).scalars())
        assert id_bounds(conn, "other-2018") == (others[0], others[-1]) and others[0] > ids[-1]
        assert id_bounds(conn, "nowhere") == (0, -1)
    with engine.begin() as conn:  # a plan whose every obligation is withdrawn
        conn.execute(ob.update().where(ob.c.plan_id == "store-2018").values(active=False))
    with engine.connect() as conn:
        assert id_bounds(conn, "store-2018") == (ids[0], ids[-1])


# -- submissions -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("task", "unit", "period", "status", "on", "progress", "error", "fragment"),
    [
        ("capability.nothing", "town-a", "once", "done", D(2018, 3, 1), None, NotYourObligation,
         "has no task 'capability.nothing'"),
        ("capability.training", "legal-office", "2018-Q1", "done", D(2018, 3, 1), None,
         NotYourObligation, "does not lead task"),
        ("capability.training", "ghost", "2018-Q1", "done", D(2018, 3, 1), None, NotYourObligation,
         "has no unit 'ghost'"),
        ("capability.training", "town-a", "2018-03", "done", D(2018, 3, 1), None, BadPeriod,
         "not a quarter key"),
        ("capability.training", "town-a", "2019-Q1", "done", D(2019, 3, 1), None, BadPeriod,
         "outside plan"),
        ("capability.training", "town-a", "2018-Q1", "in_progress", D(2018, 3, 1), 150, BadReport,
         "between 0 and 100"),
        ("capability.training", "town-a", "2018-Q1", "finished", D(2018, 3, 1), None, BadReport,
         "unknown status 'finished'"),
        ("capability.training", "town-a", "2018-Q1", "done", D(2019, 6, 2), None, BadReport,
         "in the future"),
        ("capability.training", "town-a", "2018-Q2", "done", D(2018, 3, 30), None, BadReport,
         "before the period starts"),
    ],
)
def test_bad_submissions_are_refused_and_not_recorded(
    engine: Engine, plan_file: Path, task: str, unit: str, period: str, status: str,
    on: dt.date, progress: int | None, error: type[Exception], fragment: str,
) -> None:
    apply_plan(engine, plan_file)
    with pytest.raises(error, match=fragment):
        report(engine, task, unit, period, status, on, progress)
    assert row_counts(engine)["status_report"] == 0


def test_a_submission_accepts_the_chinese_status_label(engine: Engine, plan_file: Path) -> None:
    apply_plan(engine, plan_file)
    report(engine, "capability.training", "town-b", "2018-Q1", "推进中", D(2018, 2, 1), 30)
    row = by_key(status_rows(engine, "store-2018", D(2018, 2, 2)))[("capability.training", "town-b", "2018-Q1")]
    assert (row.status, row.progress, row.light) == ("in_progress", 30, "green")

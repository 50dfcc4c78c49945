"""Changing a plan mid-year: renames keep the record, removals and cancellations stop tracking
from their date and say so, a moved deadline (计划调整) is told apart from an extension (延期)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from plan_tracker.night import run_nightly
from plan_tracker.reports.build import build_report
from plan_tracker.reports.json_data import report_data
from plan_tracker.reports.markdown import render_markdown
from plan_tracker.services.plans import PlanChangeRefused, apply_plan
from plan_tracker.services.reminders import reminder_rows
from plan_tracker.services.status import status_rows
from plan_tracker.services.submissions import Submission, submit
from plan_tracker.settings import Settings

D = dt.date
PLAN = """\
version: 1
plan: {id: change-2019, title: 计划调整测试, coordinator: office, start: 2019-01-01, end: 2019-12-31}
leading_group: {name: 领导小组办公室, email: lg@example.org}
units:
  - {id: office, name: 县政府办, contact: {name: 甲, email: office@example.org}}
  - {id: town-a, name: 甲镇, groups: [towns], contact: {name: 乙, email: a@example.org}}
  - {id: town-b, name: 乙镇, groups: [towns], contact: {name: 丙, email: b@example.org}}
escalation:
  - {after: -2, level: remind, notify: [contact]}
  - {after: 2, level: urge, notify: [contact]}
  - {after: 8, level: accountability, notify: [leading_group], repeat_every: 5}
sections:
  - id: s
    title: 重点工作
    tasks:
      - {id: s.monthly, title: 报送月度进展, lead: group:towns, every: month, due_after: 3}
      - {id: s.survey, title: 开展专项调查, lead: group:towns, due: 2019-03-29}
      - {id: s.rules, title: 修订议事规则, lead: office, due: 2019-09-30}
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def night(engine: Engine, day: dt.date, tmp_path: Path) -> None:
    run_nightly(engine, "change-2019", day, now=dt.datetime.combine(day, dt.time(2), tzinfo=dt.UTC),
                settings=Settings(data_dir=tmp_path / "var"))


@pytest.fixture
def year(engine: Engine, tmp_path: Path) -> Path:
    """The plan applied, town-a done with its survey on time, town-b never; nights to June."""
    plan = write(tmp_path / "plan.yaml", PLAN)
    apply_plan(engine, plan)
    submit(engine, Submission("change-2019", "s.survey", "town-a", "once", "done", D(2019, 3, 28)),
           today=D(2019, 3, 28), actor="coordinator")
    for day in (D(2019, 3, 27), D(2019, 4, 3), D(2019, 4, 12), D(2019, 5, 6), D(2019, 6, 3)):
        night(engine, day, tmp_path)
    return plan


def test_renaming_a_task_keeps_every_light_score_and_reminder(engine: Engine, year: Path, tmp_path: Path) -> None:
    later = D(2019, 6, 10)
    before_rows = status_rows(engine, "change-2019", later)
    before_report = report_data(build_report(engine, "change-2019", later))
    before_reminders = reminder_rows(engine, "change-2019")
    as_of_june = reminder_rows(engine, "change-2019", D(2019, 6, 3))
    renamed = PLAN.replace("      - {id: s.survey,", "      - {id: s.special-survey, renamed_from: s.survey,")
    result = apply_plan(engine, write(year, renamed), effective=D(2019, 6, 4))
    assert result.renamed_tasks == {"s.survey": "s.special-survey"}
    assert result.history_kept["task s.survey → s.special-survey"]["reports"] == 1
    assert result.history_kept["task s.survey → s.special-survey"]["reminders"] > 0
    assert result.obligations_removed == 0 and not result.warnings

    after_rows = status_rows(engine, "change-2019", later)
    renamed_back = [r if r.task != "s.special-survey" else type(r)(**{**r.as_json(), "task": "s.survey", "due": r.due})
                    for r in after_rows]
    assert sorted(renamed_back, key=repr) == sorted(before_rows, key=repr)  # every light kept
    after_report = report_data(build_report(engine, "change-2019", later))
    assert [(u["id"], u["score"], u["reminders"]) for u in after_report["units"]] == \
        [(u["id"], u["score"], u["reminders"]) for u in before_report["units"]]
    after_reminders = reminder_rows(engine, "change-2019")
    assert len(after_reminders) == len(before_reminders)
    assert {r.task for r in after_reminders} == {r.task.replace("s.survey", "s.special-survey") for r in before_reminders}
    assert reminder_rows(engine, "change-2019", D(2019, 6, 3)) == as_of_june  # as the record named them then
    # and the days before the change still name it as it was named then
    assert {r.task for r in status_rows(engine, "change-2019", D(2019, 5, 6))} >= {"s.survey"}


def test_removing_a_unit_warns_and_keeps_every_earlier_report(
        engine: Engine, year: Path, tmp_path: Path, cli_env: dict[str, str]) -> None:
    from plan_tracker.cli import app

    past = {day: report_data(build_report(engine, "change-2019", day)) for day in (D(2019, 4, 12), D(2019, 6, 3))}
    without_b = PLAN.replace("  - {id: town-b, name: 乙镇, groups: [towns], contact: {name: 丙, email: b@example.org}}\n", "")
    write(year, without_b)
    dry = CliRunner().invoke(app, ["plan", "apply", str(year), "--dry-run", "--effective", "2019-06-04"])
    assert dry.exit_code == 0, dry.output
    assert "- 单位 town-b" in dry.stdout
    warnings = [line for line in dry.stdout.splitlines() if line.strip().startswith("!")]
    # town-b's survey (due 03-29, never reported) and its monthly items already due stop being tracked
    assert any("任务 s.survey" in w and "已到期" in w for w in warnings), dry.stdout
    assert any("s.monthly" in w for w in warnings), dry.stdout
    applied = CliRunner().invoke(app, ["plan", "apply", str(year), "--effective", "2019-06-04"])
    assert applied.exit_code == 0, applied.output
    for day, data in past.items():
        assert report_data(build_report(engine, "change-2019", day)) == data
    now = build_report(engine, "change-2019", D(2019, 6, 10))
    assert "town-b" not in {u.id for u in now.units}
    assert [(w.kind, w.id, w.on, w.reason, w.version) for w in now.withdrawn] == [("unit", "town-b", D(2019, 6, 4), None, 2)]
    assert "计划第 2 版未列入" in render_markdown(now)
    assert all(r.unit != "town-b" for r in status_rows(engine, "change-2019", D(2019, 6, 10)))


def test_a_cancelled_task_stops_escalating_from_its_date_and_reports_show_the_reason(
        engine: Engine, year: Path, tmp_path: Path) -> None:
    cancelled = PLAN.replace("lead: office, due: 2019-09-30}",
                             "lead: office, due: 2019-09-30,\n         cancelled: {on: 2019-09-02, reason: 已并入市级统一部署}}")
    result = apply_plan(engine, write(year, cancelled), effective=D(2019, 6, 4))
    assert result.obligations_removed == 1 and not result.warnings  # not due, no report: nothing to warn of
    assert any(r.task == "s.rules" for r in status_rows(engine, "change-2019", D(2019, 8, 30)))  # still tracked
    assert not any(r.task == "s.rules" for r in status_rows(engine, "change-2019", D(2019, 9, 2)))
    for day in (D(2019, 9, 26), D(2019, 10, 14)):
        night(engine, day, tmp_path)
    assert not [r for r in reminder_rows(engine, "change-2019") if r.task == "s.rules"]
    report = build_report(engine, "change-2019", D(2019, 10, 14))
    assert [(w.id, w.on, w.reason) for w in report.withdrawn] == [("s.rules", D(2019, 9, 2), "已并入市级统一部署")]
    assert "已并入市级统一部署" in render_markdown(report)
    assert build_report(engine, "change-2019", D(2019, 9, 1)).withdrawn == []


def test_a_moved_deadline_holds_from_its_date_and_the_report_tells_it_from_an_extension(
        engine: Engine, year: Path, tmp_path: Path) -> None:
    moved = PLAN.replace("due: 2019-03-29}", "due: 2019-05-31}")
    result = apply_plan(engine, write(year, moved), effective=D(2019, 4, 15))
    assert result.dates_moved == {"s.survey": 2}
    by_day = {day: {(r.task, r.unit): r for r in status_rows(engine, "change-2019", day)}
              for day in (D(2019, 4, 12), D(2019, 4, 15), D(2019, 6, 10))}
    assert by_day[D(2019, 4, 12)][("s.survey", "town-b")].light == "red"  # as the record said then
    assert by_day[D(2019, 4, 12)][("s.survey", "town-b")].due == D(2019, 3, 29)
    assert by_day[D(2019, 4, 15)][("s.survey", "town-b")].light == "green"  # the adjusted plan from 04-15
    overdue = {(o.task_id, o.unit_id): o for o in build_report(engine, "change-2019", D(2019, 6, 10)).overdue}
    item = overdue[("s.survey", "town-b")]
    assert (item.due, item.original_due, item.plan_due_was) == (D(2019, 5, 31), D(2019, 5, 31), D(2019, 3, 29))
    assert "计划调整，原 2019-03-29" in render_markdown(build_report(engine, "change-2019", D(2019, 6, 10)))


def test_a_change_may_not_take_effect_before_the_previous_one(engine: Engine, year: Path) -> None:
    apply_plan(engine, write(year, PLAN.replace("修订议事规则", "修订完善议事规则")), effective=D(2019, 6, 4))
    with pytest.raises(PlanChangeRefused, match="before the previous version's"):
        apply_plan(engine, write(year, PLAN), effective=D(2019, 5, 1))

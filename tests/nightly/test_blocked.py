"""A `blocked` report pauses the item's escalation beyond the first step until the
coordinator resumes it (SQLite and PostgreSQL; the rule is also held equal to the domain
reference by tests/nightly/test_sql_matches_reference.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from plan_tracker.services.blocked import (
    NotBlocked,
    blocked_items,
    find_obligation,
    resume_escalation,
)
from plan_tracker.services.submissions import Submission, submit

from .test_escalation_nights import fired, working_days

PLAN = "national-day"


def report(engine, status: str, day: str, note: str | None = None, unit: str = "town-a") -> None:
    on = dt.date.fromisoformat(day)
    submit(engine, Submission(PLAN, "s.self-check", unit, "once", status, on, None, note), today=on, actor=unit)


def resume(engine, day: str, unit: str = "town-a") -> None:
    with engine.connect() as conn:
        obligation = find_obligation(conn, PLAN, "s.self-check", unit, "once")
    resume_escalation(engine, plan_id=PLAN, obligation_id=obligation, actor="coordinator", reason="已协调",
                      today=dt.date.fromisoformat(day), source="test")


def test_a_blocked_item_stops_escalating_until_the_coordinator_resumes_it(applied, night):
    # Due 10-08; remind 09-28, urge 10-09, supervise 10-15, accountability 10-22 (+5 wd repeats).
    for day in working_days("2018-09-20", "2018-10-08"):
        night(day)
    report(applied, "blocked", "2018-10-08", "涉及拆迁补偿纠纷")
    for day in working_days("2018-10-09", "2018-10-19"):
        night(day)
    assert fired(applied) == [("remind", 0, "2018-09-28", "sent")]  # paused: no urge, no supervise
    with applied.connect() as conn:
        assert [(b.unit, b.reason) for b in blocked_items(conn, PLAN, dt.date(2018, 10, 19))] == [
            ("town-a", "涉及拆迁补偿纠纷")]
    # the report lists it apart, with the reason (HTML and the weekly Markdown alike)
    from plan_tracker.reports import build_report, render_html
    from plan_tracker.reports.markdown import render_markdown

    report_ = build_report(applied, PLAN, dt.date(2018, 10, 19))
    assert [(b.unit_id, b.since, b.reason) for b in report_.blocked] == [
        ("town-a", dt.date(2018, 10, 8), "涉及拆迁补偿纠纷")]
    assert "受阻事项（催办暂停，待督查办决定）" in render_html(report_)
    assert "| 报送自查报告 | 甲镇 | 一次性任务 | 2018-10-08 | 涉及拆迁补偿纠纷 |" in render_markdown(report_)
    # town-b, never blocked, escalated meanwhile
    assert [lv for lv, *_ in fired(applied, unit="town-b")] == ["remind", "urge", "supervise"]
    resume(applied, "2018-10-22")
    for day in working_days("2018-10-22", "2018-10-30"):
        night(day)
    # Resumed where it stands: the highest due step fires, the lower ones are skipped.
    assert fired(applied) == [
        ("remind", 0, "2018-09-28", "sent"),
        ("urge", 0, "2018-10-22", "skipped"),
        ("supervise", 0, "2018-10-22", "skipped"),
        ("accountability", 0, "2018-10-22", "sent"),
        ("accountability", 1, "2018-10-29", "sent"),
    ]
    with applied.connect() as conn:
        assert blocked_items(conn, PLAN, dt.date(2018, 10, 30)) == []
    assert build_report(applied, PLAN, dt.date(2018, 10, 30)).blocked == []


def test_a_blocked_report_does_not_hold_the_first_step(applied, night):
    report(applied, "blocked", "2018-09-25", "等待上级文件")
    for day in working_days("2018-09-25", "2018-10-16"):
        night(day)
    assert fired(applied) == [("remind", 0, "2018-09-28", "sent")]


def test_a_new_blocked_report_after_a_resume_pauses_again(applied, night):
    report(applied, "blocked", "2018-10-08")
    resume(applied, "2018-10-09")
    night("2018-10-09")
    assert [lv for lv, *_ in fired(applied)] == ["remind", "urge"]  # remind skipped (missed), urge fires
    report(applied, "blocked", "2018-10-10", "新的困难")
    for day in working_days("2018-10-10", "2018-10-19"):
        night(day)
    assert [lv for lv, *_ in fired(applied)] == ["remind", "urge"]


def test_only_a_blocked_item_can_be_resumed(applied):
    report(applied, "in_progress", "2018-10-08")
    with pytest.raises(NotBlocked):
        resume(applied, "2018-10-09")


def test_the_coordinators_resume_is_audited(applied):
    from sqlalchemy import select

    from plan_tracker.store.audit import EVENTS

    report(applied, "blocked", "2018-10-08")
    resume(applied, "2018-10-09")
    with applied.connect() as conn:
        kinds = [row.kind for row in conn.execute(select(EVENTS.c.kind).where(EVENTS.c.plan_id == PLAN))]
    assert "escalation.resumed" in kinds


def test_the_cli_resumes_a_blocked_item_and_refuses_one_that_is_not(applied, cli_env):
    from typer.testing import CliRunner

    from plan_tracker.cli import app

    report(applied, "blocked", "2018-10-08", "涉及拆迁补偿纠纷")
    runner = CliRunner()
    args = ["resume", "--plan", PLAN, "--task", "s.self-check", "--unit", "town-a", "--period", "once",
            "--reason", "已协调"]
    first = runner.invoke(app, args, catch_exceptions=False)
    assert first.exit_code == 0 and "已恢复催办：s.self-check / town-a / once，自 " in first.stdout
    again = runner.invoke(app, args, catch_exceptions=False)
    assert again.exit_code == 2 and "该事项未报受阻" in again.stderr and "Traceback" not in again.stderr
    unknown = runner.invoke(app, [*args[:6], "town-b", "--period", "2018-Q9"], catch_exceptions=False)
    assert unknown.exit_code == 2 and "中没有进行中的事项" in unknown.stderr

"""A 2018 plan asked about in December 2026 (the clock passed in through PLAN_TRACKER_NOW,
the project's clock edge): every reading command answers for today, open items are red
with their working days overdue to today, and the nightly follow-up has long ended."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text
from typer.testing import CliRunner

from plan_tracker.cli import app
from plan_tracker.domain.calendar import WorkCalendar
from plan_tracker.domain.plan import CalendarSpec
from plan_tracker.store.db import make_engine

PLAN = """\
version: 1
plan: {id: late-2018, title: 逾期测试计划, coordinator: office, start: 2018-01-01, end: 2018-12-31}
leading_group: {name: 领导小组, email: lg@example.org}
units:
  - {id: office, name: 办公室, contact: {name: 张三, email: a@example.org}}
  - {id: town-a, name: 甲镇, groups: [towns], contact: {name: 王五, email: c@example.org}}
  - {id: town-b, name: 乙镇, groups: [towns], contact: {name: 赵六, email: d@example.org}}
escalation:
  - {after: -3, level: remind, notify: [contact]}
  - {after: 1, level: urge, notify: [contact]}
  - {after: 10, level: accountability, notify: [leading_group]}
sections:
  - id: s
    title: 工作
    tasks:
      - {id: s.training, title: 轮训, lead: group:towns, every: quarter, due_after: 5}
      - {id: s.report, title: 自查报告, lead: town-a, due: 2018-10-01}
"""
TODAY = dt.date(2026, 12, 3)
NOW = "2026-12-03T10:00+08:00"

runner = CliRunner()


@pytest.fixture
def store(cli_env: dict[str, str], tmp_path: Path) -> Iterator[Engine]:
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN, encoding="utf-8")
    assert runner.invoke(app, ["plan", "apply", str(plan)]).exit_code == 0
    done = runner.invoke(app, ["submit", "--plan", "late-2018", "--task", "s.report", "--unit", "town-a",
                               "--period", "once", "--status", "done", "--on", "2018-09-28"])
    assert done.exit_code == 0, done.stderr
    night = runner.invoke(app, ["nightly", "--plan", "late-2018", "--as-of", "2019-01-15",
                                "--now", "2019-01-15T09:00+08:00"])
    assert night.exit_code == 0, night.stderr
    engine = make_engine(cli_env["PLAN_TRACKER_DATABASE_URL"])
    yield engine
    engine.dispose()


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        names = [n for n in inspect(conn).get_table_names() if n not in ("alembic_version", "calendar_day")]
        return {n: conn.execute(text(f'SELECT COUNT(*) FROM "{n}"')).scalar_one() for n in names}


def ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, (args, result.stdout, result.stderr)
    return result.stdout


def test_reading_commands_without_as_of_answer_for_today_years_after_the_plan(
    store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLAN_TRACKER_NOW", NOW)
    rows = json.loads(ok("status", "--plan", "late-2018", "--format", "json"))
    calendar = WorkCalendar(CalendarSpec())
    open_rows = [r for r in rows if r["light"] not in ("done", "done_late")]
    assert len(rows) == 9 and len(open_rows) == 8  # 2 towns x 4 quarters open; the self-check done
    for r in open_rows:
        due = dt.date.fromisoformat(r["due"])
        assert r["light"] == "red"
        # e.g. 2018-Q4 is due 2019-01-08 (5 wd after 12-31): every working day since counts
        assert r["overdue_wd"] == calendar.working_days_between(due, TODAY) > 1900
    table = ok("status", "--plan", "late-2018")
    assert "2026-12-03" in table

    templates = ok("templates", "--plan", "late-2018", "--period", "2018-Q4", "--out", str(tmp_path / "t"))
    assert "2026-12-03" in templates and len(list((tmp_path / "t").glob("*.xlsx"))) == 2
    report = json.loads(runner.invoke(app, ["report", "--plan", "late-2018", "--format", "json",
                                            "--out", "-"]).stdout)
    assert report["as_of"] == "2026-12-03"
    notice = runner.invoke(app, ["notice", "--plan", "late-2018", "--out", str(tmp_path / "notice.html")])
    assert notice.exit_code == 0 and f"已写入 {tmp_path / 'notice.html'}（" in notice.stderr  # the zh plan's receipt
    assert (tmp_path / "notice.html").stat().st_size > 0
    reminders = json.loads(ok("reminders", "--plan", "late-2018", "--format", "json"))
    assert reminders and all(r["fired_on"] <= "2019-01-15" for r in reminders)


def test_nightly_after_follow_up_ended_says_so_and_changes_nothing(
    store: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = counts(store)
    monkeypatch.setenv("PLAN_TRACKER_NOW", NOW)
    said = ok("nightly", "--plan", "late-2018")
    # The last due date is 2019-01-08 (2018-Q4 + 5 wd): follow-up runs 60 days past it.
    assert "跟进已于 2019-03-09 结束" in said and "无需处理" in said
    assert counts(store) == before
    # doctor still fails on what waits undelivered (the last night's digest deliveries, held for
    # the leading group's weekly cadence), but expects no more nights.
    doctor = json.loads(runner.invoke(app, ["doctor", "--format", "json"]).stdout)
    nightly = next(c for c in doctor if c["check"] == "nightly")
    assert nightly["level"] == "ok" and nightly["key"] == "doctor.follow_up_ended"
    assert "跟进已于 2019-03-09 结束" in nightly["message"] and "不再需要每晚运行" in nightly["message"]


def test_a_night_before_the_end_of_follow_up_still_runs(store: Engine) -> None:
    said = ok("nightly", "--plan", "late-2018", "--as-of", "2019-03-08", "--now", "2019-03-08T09:00+08:00")
    assert "跟进已于" not in said and "新增催办" in said


def test_an_as_of_past_the_calendar_names_its_last_day_and_what_to_do(store: Engine) -> None:
    result = runner.invoke(app, ["status", "--plan", "late-2018", "--as-of", "2027-01-05"])
    assert result.exit_code == 2
    message = " ".join(result.stderr.split())
    assert "晚于本计划工作日历（CN）的最后一天 2026-12-31" in message
    assert "calendar.years: [2027]" in message and "--as-of 2026-12-31" in message


def test_a_bad_clock_setting_is_bad_input(store: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAN_TRACKER_NOW", "yesterday")
    result = runner.invoke(app, ["status", "--plan", "late-2018"])
    assert result.exit_code == 2 and "PLAN_TRACKER_NOW=“yesterday”不是日期时间" in result.stderr


def test_a_store_whose_calendar_stops_early_is_extended_by_the_first_command(
    store: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A store applied by an older release (or before chinesecalendar knew 2026) stops early.
    with store.begin() as conn:
        conn.execute(text("DELETE FROM calendar_day WHERE day > :d"), {"d": dt.date(2019, 12, 31)})
    monkeypatch.setenv("PLAN_TRACKER_NOW", NOW)
    rows = json.loads(ok("status", "--plan", "late-2018", "--format", "json"))
    assert {r["light"] for r in rows} == {"red", "done"}
    with store.connect() as conn:
        last = conn.execute(text("SELECT MAX(day) FROM calendar_day")).scalar_one()
    assert str(last) == "2026-12-31"


def test_two_commands_extending_the_calendar_at_once_extend_it_once(store: Engine) -> None:
    import threading

    from plan_tracker.services.calendar_cover import extend_calendar

    with store.begin() as conn:
        conn.execute(text("DELETE FROM calendar_day WHERE day > :d"), {"d": dt.date(2019, 12, 31)})
    results: list[object] = []
    start = threading.Barrier(4)

    def extend() -> None:
        start.wait()
        try:
            results.append(extend_calendar(store, "late-2018"))
        except Exception as exc:  # recorded: a failure must fail the test, not vanish in a thread
            results.append(exc)

    threads = [threading.Thread(target=extend) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(map(repr, results)) == ["False", "False", "False", "True"]
    with store.connect() as conn:
        days = conn.execute(text("SELECT COUNT(*), COUNT(DISTINCT day), MAX(day) FROM calendar_day")).one()
    assert days[0] == days[1] and str(days[2]) == "2026-12-31"

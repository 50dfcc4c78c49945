"""The `plan-tracker` CLI over a real store: plan apply, submit, status.

Most tests drive `plan_tracker.cli.app` in-process with typer's CliRunner (fast); a few run
the installed command as a subprocess, as cron or a coordinator would. `cli_env` points both
at a fresh database, once on SQLite and once on PostgreSQL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text
from typer.testing import CliRunner, Result

from plan_tracker.cli import app
from plan_tracker.domain.calendar import WorkCalendar
from plan_tracker.domain.obligations import expand
from plan_tracker.planfile import load_plan
from plan_tracker.store.db import make_engine

PLAN = """\
version: 1
plan:
  id: cli-2018
  title: 命令行测试计划
  coordinator: legal-office
  start: 2018-01-01
  end: 2018-12-31
  warn_days: 3
units:
  - {id: legal-office, name: 区政府法制办, groups: [coordination], contact: {name: 张三, email: a@example.org}}
  - {id: town-a, name: 川店镇, groups: [enforcement], contact: {name: 王五, email: c@example.org}}
  - {id: town-b, name: 马山镇, groups: [enforcement], contact: {name: 赵六, email: d@example.org}}
escalation:
  - {after: -3, level: remind, notify: [contact]}
  - {after: 1, level: urge, notify: [contact]}
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
        due: 2018-10-01
"""
TOTAL = 2 * 4 + 1
STATUS_KEYS = ["task", "unit", "period", "due", "light", "status", "progress", "overdue_wd"]
LIGHTS = {"pending", "green", "yellow", "red", "done", "done_late"}

runner = CliRunner()


def invoke(*args: str) -> Result:
    return runner.invoke(app, list(args), catch_exceptions=False)


def assert_bad_input(result: Result, fragment: str) -> None:
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert fragment in result.stderr, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "internal error" not in result.stderr


@pytest.fixture
def store(cli_env: dict[str, str]) -> Iterator[Engine]:
    """The CLI's database, opened separately to check what the commands wrote."""
    engine = make_engine(cli_env["PLAN_TRACKER_DATABASE_URL"])
    yield engine
    engine.dispose()


@pytest.fixture
def plan_file(tmp_path: Path) -> Path:
    path = tmp_path / "cli-2018.yaml"
    path.write_text(PLAN, encoding="utf-8")
    return path


@pytest.fixture
def applied(store: Engine, plan_file: Path) -> Path:
    result = invoke("plan", "apply", str(plan_file))
    assert result.exit_code == 0, result.stderr
    return plan_file


def row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        names = [n for n in inspect(conn).get_table_names() if n != "alembic_version"]
        return {n: conn.execute(text(f'SELECT COUNT(*) FROM "{n}"')).scalar_one() for n in names}


def status_json(*args: str) -> list[dict[str, object]]:
    result = invoke("status", "--plan", "cli-2018", "--format", "json", *args)
    assert result.exit_code == 0, result.stderr
    rows: list[dict[str, object]] = json.loads(result.stdout)
    return rows


# -- plan apply -----------------------------------------------------------------------------
def test_plan_apply_prints_the_diff_and_writes(store: Engine, plan_file: Path) -> None:
    result = invoke("plan", "apply", str(plan_file))
    assert result.exit_code == 0, result.stderr
    assert "计划 cli-2018：已导入第 1 版（新计划），自 2018-01-01 起施行" in result.stdout
    for line in ("+ 单位 town-a", "+ 任务 capability.training", "+ 任务 capability.study-plan",
                 f"督办事项：+{TOTAL} ~0 -0（共 {TOTAL} 项）"):
        assert line in result.stdout
    counts = row_counts(store)
    assert (counts["plan"], counts["plan_version"], counts["obligation"]) == (1, 1, TOTAL)


def test_applying_the_same_file_twice_says_no_changes_and_changes_nothing(
    store: Engine, applied: Path
) -> None:
    before = row_counts(store)
    result = invoke("plan", "apply", str(applied))
    assert result.exit_code == 0
    assert result.stdout.strip() == "计划 cli-2018：无变化（第 1 版）"
    assert row_counts(store) == before


def test_dry_run_shows_what_would_change_and_writes_nothing(store: Engine, plan_file: Path) -> None:
    empty = row_counts(store)
    result = invoke("plan", "apply", str(plan_file), "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "计划 cli-2018：将导入第 1 版（新计划）" in result.stdout
    assert f"督办事项：+{TOTAL}" in result.stdout
    assert row_counts(store) == empty


def test_editing_and_reapplying_keeps_reports_and_records_a_version(
    store: Engine, applied: Path
) -> None:
    assert invoke("submit", "--plan", "cli-2018", "--task", "capability.training", "--unit", "town-a",
                  "--period", "2018-Q1", "--status", "in_progress", "--progress", "60",
                  "--on", "2018-03-20").exit_code == 0
    # Change a due date, remove a task, add a task.
    edited = PLAN.replace("due_after: 5", "due_after: 10").replace(
        """      - id: capability.study-plan
        title: 制定年度学法计划
        lead: legal-office
        due: 2018-10-01
""", """      - id: capability.case-review
        title: 案卷评查
        lead: town-b
        due: 2018-11-30
""")
    applied.write_text(edited, encoding="utf-8")
    dry = invoke("plan", "apply", str(applied), "--dry-run", "--effective", "2018-04-01")
    assert "将导入第 2 版，自 2018-04-01 起施行" in dry.stdout
    result = invoke("plan", "apply", str(applied), "--effective", "2018-04-01")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "已导入第 2 版" in out
    assert "+ 任务 capability.case-review" in out
    assert "~ 任务 capability.training" in out
    assert "- 任务 capability.study-plan" in out
    assert "督办事项：+1 ~8 -1（共 9 项）" in out

    rows = {(r["task"], r["unit"], r["period"]): r for r in status_json("--as-of", "2018-04-02")}
    kept = rows[("capability.training", "town-a", "2018-Q1")]
    # Q1 is now due 10 wd after 03-31: 04-02..04 (3), Qingming off, 04-08 (worked Sunday),
    # 04-09..13 (5), 04-16: the report of the unchanged task id is kept.
    assert (kept["due"], kept["status"], kept["progress"]) == ("2018-04-16", "in_progress", 60)
    assert ("capability.study-plan", "legal-office", "once") not in rows
    assert ("capability.case-review", "town-b", "once") in rows
    counts = row_counts(store)
    assert (counts["plan_version"], counts["status_report"]) == (2, 1)


def test_apply_of_a_malformed_plan_exits_2_with_its_location(store: Engine, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(PLAN.replace("lead: legal-office", "lead: mayor-office"), encoding="utf-8")
    result = runner.invoke(app, ["plan", "apply", str(path)])
    assert_bad_input(result, "sections.0.tasks.1.lead: 未知单位“mayor-office”")
    line = PLAN.splitlines().index("        lead: legal-office") + 1
    assert f"{path}:{line}:" in result.stderr
    assert row_counts(store)["plan"] == 0


# -- submit and status ----------------------------------------------------------------------
def test_submit_then_status_json_shows_the_report_and_the_light(store: Engine, applied: Path) -> None:
    result = invoke("submit", "--plan", "cli-2018", "--task", "capability.training", "--unit", "town-a",
                    "--period", "2018-Q1", "--status", "in_progress", "--progress", "40",
                    "--on", "2018-03-20", "--note", "第一期轮训已完成")
    assert result.exit_code == 0, result.stderr
    assert "已记录报送 #" in result.stdout
    assert "capability.training / town-a / 2018-Q1 = 推进中（in_progress），报送日期 2018-03-20" in result.stdout

    rows = status_json("--as-of", "2018-04-03")
    assert len(rows) == TOTAL
    assert all(list(row) == STATUS_KEYS for row in rows)  # exactly these keys, in this order
    assert all(row["light"] in LIGHTS for row in rows)
    by_key = {(r["task"], r["unit"], r["period"]): r for r in rows}
    # Q1 due 04-09 (5 wd after 03-31 across Qingming); 04-03 is due - 3 wd: yellow.
    assert by_key[("capability.training", "town-a", "2018-Q1")] == {
        "task": "capability.training", "unit": "town-a", "period": "2018-Q1", "due": "2018-04-09",
        "light": "yellow", "status": "in_progress", "progress": 40, "overdue_wd": 0}
    assert by_key[("capability.training", "town-b", "2018-Q1")]["status"] is None
    assert by_key[("capability.training", "town-a", "2018-Q3")]["light"] == "pending"
    # The one-off due on National Day is due on the next working day, 10-08.
    assert by_key[("capability.study-plan", "legal-office", "once")]["due"] == "2018-10-08"


def test_status_json_shows_red_with_overdue_working_days_and_done(store: Engine, applied: Path) -> None:
    assert invoke("submit", "--plan", "cli-2018", "--task", "capability.training", "--unit", "town-b",
                  "--period", "2018-Q1", "--status", "done", "--on", "2018-04-08").exit_code == 0
    by_key = {(r["task"], r["unit"], r["period"]): r for r in status_json("--as-of", "2018-04-11")}
    assert by_key[("capability.training", "town-a", "2018-Q1")]["light"] == "red"
    assert by_key[("capability.training", "town-a", "2018-Q1")]["overdue_wd"] == 2
    done = by_key[("capability.training", "town-b", "2018-Q1")]
    assert (done["light"], done["status"], done["progress"], done["overdue_wd"]) == ("done", "done", 100, 0)


def test_status_table_format_lists_every_obligation(store: Engine, applied: Path) -> None:
    result = invoke("status", "--plan", "cli-2018", "--as-of", "2018-04-03")
    assert result.exit_code == 0, result.stderr
    assert "cli-2018 — 2018-04-03" in result.stdout
    # Rich wraps long cells at the (non-terminal) default width; periods fit in a cell.
    assert result.stdout.count("2018-Q") == 8
    assert result.stdout.count("once") == 1


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--task", "capability.nothing", "--unit", "town-a", "--period", "2018-Q1", "--status", "done"],
         "计划“cli-2018”中没有任务“capability.nothing”"),
        (["--task", "capability.training", "--unit", "legal-office", "--period", "2018-Q1", "--status", "done"],
         "单位“legal-office”不是任务“capability.training”期间“2018-Q1”的牵头单位"),
        (["--task", "capability.training", "--unit", "town-a", "--period", "2018-13", "--status", "done"],
         "期间“2018-13”不是季度期间的写法（例如 2018-Q3）"),
        (["--task", "capability.study-plan", "--unit", "legal-office", "--period", "2018", "--status", "done"],
         "不适用于一次性任务（请填 once）"),
        (["--task", "capability.training", "--unit", "town-a", "--period", "2018-Q1", "--status", "in_progress",
          "--progress", "150"], "进度须在 0 至 100 之间（填写了 150）"),
        (["--task", "capability.training", "--unit", "town-a", "--period", "2018-Q1", "--status", "done",
          "--on", "2999-01-01"], "填报日期 2999-01-01 晚于今天"),
        (["--task", "capability.training", "--unit", "town-a", "--period", "2018-Q1", "--status", "done",
          "--on", "2018-02-30"], "--on 的值“2018-02-30”不是日期（应为 YYYY-MM-DD）"),
        (["--task", "capability.training", "--unit", "town-a", "--period", "2018-Q1", "--status", "finished"],
         "未知状态“finished”"),
    ],
    ids=["unknown-task", "unit-not-leading", "bad-period-key", "once-task-with-a-key", "progress-150",
         "future-date", "impossible-date", "unknown-status"],
)
def test_bad_submissions_exit_2_with_a_clear_message(
    store: Engine, applied: Path, args: list[str], fragment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PLAN_TRACKER_ALLOW_FUTURE", raising=False)
    result = runner.invoke(app, ["submit", "--plan", "cli-2018", *args])
    assert_bad_input(result, fragment)
    assert row_counts(store)["status_report"] == 0


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--plan", "nowhere", "--as-of", "2018-04-03"],
         "存储中没有计划“nowhere”（存储中的计划：cli-2018）；请先用 `plan-tracker plan apply FILE` 导入"),
        (["--plan", "cli-2018", "--as-of", "2018-13-01"], "--as-of 的值“2018-13-01”不是日期"),
        (["--plan", "cli-2018", "--as-of", "yesterday"], "--as-of 的值“yesterday”不是日期"),
        (["--plan", "cli-2018", "--as-of", "2018-04-03", "--format", "xml"],
         "--format 应为 table、json 之一，给出的是“xml”"),
        # The calendar table covers the plan's neighbourhood only; beyond it the answer would
        # be a guess, so it is refused.
        (["--plan", "cli-2018", "--as-of", "2030-01-01"], "超出工作日历范围：晚于本计划工作日历"),
    ],
    ids=["unknown-plan", "impossible-as-of", "word-as-of", "unknown-format", "as-of-beyond-calendar"],
)
def test_bad_status_requests_exit_2(store: Engine, applied: Path, args: list[str], fragment: str) -> None:
    assert_bad_input(runner.invoke(app, ["status", *args]), fragment)


def test_submit_to_an_unknown_plan_exits_2(store: Engine) -> None:
    result = runner.invoke(app, ["submit", "--plan", "nowhere", "--task", "t", "--unit", "u",
                                 "--period", "once", "--status", "done"])
    assert_bad_input(result, "存储中没有计划“nowhere”")


# -- the real command, as a subprocess --------------------------------------------------------
def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "plan_tracker.cli", *args], cwd=cwd,
                          env={**os.environ, **env, "PYTHONIOENCODING": "utf-8"},
                          capture_output=True, text=True, encoding="utf-8", timeout=120)


def test_apply_and_status_as_real_processes(cli_env: dict[str, str], plan_file: Path) -> None:
    first = run_cli(["plan", "apply", str(plan_file)], cli_env, plan_file.parent)
    assert first.returncode == 0, first.stderr
    assert "已导入第 1 版（新计划）" in first.stdout
    # (The report goes in in-process: same database, one process start saved.)
    assert invoke("submit", "--plan", "cli-2018", "--task", "capability.study-plan", "--unit",
                  "legal-office", "--period", "once", "--status", "done", "--on", "2018-10-09").exit_code == 0
    status = run_cli(["status", "--plan", "cli-2018", "--as-of", "2018-10-10", "--format", "json"],
                     cli_env, plan_file.parent)
    assert status.returncode == 0, status.stderr
    rows = {(r["task"], r["unit"]): r for r in json.loads(status.stdout) if r["period"] in ("once", "2018-Q3")}
    # Due 10-08 (rolled from National Day), done 10-09: late.
    assert rows[("capability.study-plan", "legal-office")]["light"] == "done_late"
    # Q3 training is due 10-12 (5 wd after 09-30 across Golden Week): yellow on 10-10.
    assert rows[("capability.training", "town-a")]["light"] == "yellow"


def test_a_bad_request_as_a_real_process_exits_2_without_traceback(cli_env: dict[str, str], tmp_path: Path) -> None:
    done = run_cli(["status", "--plan", "nowhere", "--as-of", "2018-04-03", "--format", "json"],
                   cli_env, tmp_path)
    assert done.returncode == 2
    assert "错误：存储中没有计划“nowhere”" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


# -- the founding plan ---------------------------------------------------------------------------
def test_founding_plan_applies_and_reports_one_row_per_obligation(
    cli_env: dict[str, str], founding_plan: Path
) -> None:
    assert founding_plan.exists(), f"{founding_plan} is part of the product and must exist"
    plan = load_plan(founding_plan)
    expected = {(o.task, o.unit, o.period, o.due.isoformat())
                for o in expand(plan, WorkCalendar(plan.plan.calendar))}

    applied = invoke("plan", "apply", str(founding_plan))
    assert applied.exit_code == 0, applied.stderr
    assert f"（共 {len(expected)} 项）" in applied.stdout

    rows = json.loads(invoke("status", "--plan", plan.id, "--as-of", "2018-06-30", "--format", "json").stdout)
    assert len(rows) == len(expected)
    assert {(r["task"], r["unit"], r["period"], r["due"]) for r in rows} == expected
    assert all(list(r) == STATUS_KEYS for r in rows)
    assert all(r["light"] in LIGHTS for r in rows)
    assert all(r["overdue_wd"] == 0 for r in rows if r["light"] != "red")
    assert all(r["status"] is None and r["progress"] is None for r in rows)  # nothing reported yet
    # Mid-year with nothing reported: Q1 items are overdue, H2 items have not started.
    lights = {r["light"] for r in rows}
    assert {"red", "pending"} <= lights
    # DESIGN's example: quarterly training led by the 30 enforcement units, 120 a year.
    training = [r for r in rows if r["task"] == "capability.enforcement-training"]
    assert len(training) == 120


def test_validate_warns_about_a_ladder_role_nobody_can_receive_and_strict_fails(tmp_path: Path) -> None:
    path = tmp_path / "gaps.yaml"
    path.write_text("""\
version: 1
plan: {id: gaps, title: 缺少接收人, coordinator: office, start: 2018-01-01, end: 2018-12-31}
leading_group: {name: 领导小组}
units:
  - {id: office, name: 督查办, contact: {name: 张三, email: office@example.org}}
  - {id: town-a, name: 甲镇, contact: {name: 王五, email: a@example.org}, head: {name: 赵六}}
escalation:
  - {after: 1, level: urge, notify: [contact, head]}
  - {after: 10, level: accountability, notify: [leading_group]}
sections:
  - {id: s, title: 测试, tasks: [{id: s.one, title: 报送总结, lead: town-a, due: 2018-06-29}]}
""", encoding="utf-8")
    loose = invoke("plan", "validate", str(path))
    assert loose.exit_code == 0, loose.stderr
    said = " ".join(loose.stderr.split())
    assert f"{path}：警告：催办级别“urge”通知 head，但单位 甲镇（town-a）没有可用邮箱或机器人的 head" in said
    assert "催办级别“accountability”通知 leading_group，但领导小组没有邮箱或收件人：这些催办将记为无法送达" in said
    assert "的 contact" not in said
    strict = invoke("plan", "validate", str(path), "--strict")
    assert_bad_input(strict, "有 2 条警告且指定了 --strict")

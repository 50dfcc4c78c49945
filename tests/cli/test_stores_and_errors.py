"""Stores and errors at the CLI's edge: only `plan apply` and `init` create a store; bad URLs
and unknown ids are bad input (exit 2, a sentence, a suggestion); a bug is exit 1 with one
line on stderr and its traceback in the log; lock files do not outlive their run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from plan_tracker.cli import app

PLAN = """\
version: 1
plan: {id: stores-2018, title: 存储测试计划, coordinator: office, start: 2018-01-01, end: 2018-12-31}
leading_group: {name: 领导小组, email: lg@example.org}
units:
  - {id: office, name: 办公室, contact: {name: 张三, email: a@example.org}}
  - {id: town-a, name: 甲镇, groups: [towns], contact: {name: 王五, email: c@example.org}}
escalation:
  - {after: -3, level: remind, notify: [contact]}
  - {after: 1, level: urge, notify: [contact]}
sections:
  - id: s
    title: 工作
    tasks:
      - {id: s.training, title: 轮训, lead: group:towns, every: quarter, due_after: 5}
      - {id: s.report, title: 自查报告, lead: town-a, due: 2018-10-01}
"""

runner = CliRunner()


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A data folder with no store in it (SQLite, the default)."""
    from plan_tracker.settings import get_settings
    from plan_tracker.store.db import engine_for

    monkeypatch.delenv("PLAN_TRACKER_DATABASE_URL", raising=False)
    monkeypatch.setenv("PLAN_TRACKER_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    engine_for.cache_clear()
    yield tmp_path
    get_settings.cache_clear()
    engine_for.cache_clear()


def use_url(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    from plan_tracker.settings import get_settings

    monkeypatch.setenv("PLAN_TRACKER_DATABASE_URL", url)
    get_settings.cache_clear()


def bad_input(result: Result, *fragments: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "internal error" not in result.stderr


def plan_file(folder: Path) -> Path:
    path = folder / "plan.yaml"
    path.write_text(PLAN, encoding="utf-8")
    return path


@pytest.mark.parametrize("args", [
    ["status", "--plan", "stores-2018"], ["reminders", "--plan", "stores-2018"], ["nightly"],
    ["doctor"], ["plans", "list"], ["report", "--plan", "stores-2018", "--format", "json", "--out", "r.json"],
    ["submit", "--plan", "stores-2018", "--task", "s.report", "--unit", "town-a", "--period", "once",
     "--status", "done"],
])
def test_a_command_on_a_missing_store_exits_2_naming_the_url_and_creates_nothing(
    fresh: Path, args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(fresh)
    bad_input(runner.invoke(app, args), "处没有存储", str(fresh / "data" / "plan-tracker.sqlite3"),
              "plan-tracker plan apply FILE")
    assert not (fresh / "data").exists()


def test_a_mistyped_store_path_creates_no_directories(fresh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_url(monkeypatch, f"sqlite:///{fresh / 'nonexistent-dir' / 'x.db'}")
    bad_input(runner.invoke(app, ["doctor"]), "nonexistent-dir/x.db 不存在")
    assert not (fresh / "nonexistent-dir").exists()


@pytest.mark.parametrize(("url", "fragment"), [
    ("not a url", "不是 SQLAlchemy 地址"),
    ("nosuchdb://host/db", "指向未知的数据库或驱动（“nosuchdb”）"),
    ("postgresql+nosuchdriver://host/db", "指向未知的数据库或驱动（“postgresql+nosuchdriver”）"),
])
def test_a_bad_database_url_exits_2_with_the_reason(
    fresh: Path, monkeypatch: pytest.MonkeyPatch, url: str, fragment: str
) -> None:
    use_url(monkeypatch, url)
    bad_input(runner.invoke(app, ["plans", "list"]), fragment)
    bad_input(runner.invoke(app, ["plan", "apply", str(plan_file(fresh))]), fragment)


def test_plan_apply_and_init_create_the_store(fresh: Path) -> None:
    assert runner.invoke(app, ["plan", "apply", "--dry-run", str(plan_file(fresh))]).exit_code == 0
    assert not (fresh / "data").exists()  # a dry run leaves nothing behind
    result = runner.invoke(app, ["init"])
    assert result.exit_code == 0, result.stderr
    assert (fresh / "data" / "plan-tracker.sqlite3").is_file()
    assert runner.invoke(app, ["plans", "list", "--format", "json"]).stdout.strip() == "[]"
    assert runner.invoke(app, ["plan", "apply", str(plan_file(fresh))]).exit_code == 0


def test_an_unknown_plan_lists_the_known_ones_with_a_suggestion(fresh: Path) -> None:
    assert runner.invoke(app, ["plan", "apply", str(plan_file(fresh))]).exit_code == 0
    bad_input(runner.invoke(app, ["status", "--plan", "stores2018"]),
              "存储中没有计划“stores2018”", "是否应为“stores-2018”？", "stores-2018）")
    bad_input(runner.invoke(app, ["nightly", "--plan", "stores2018", "--as-of", "2018-03-05"]),
              "是否应为“stores-2018”？")
    assert not list((fresh / "data").glob("*.lock"))


def test_an_unknown_unit_or_task_in_submit_suggests_the_near_miss(fresh: Path) -> None:
    assert runner.invoke(app, ["plan", "apply", str(plan_file(fresh))]).exit_code == 0
    base = ["submit", "--plan", "stores-2018", "--period", "once", "--status", "done", "--on", "2018-09-01"]
    bad_input(runner.invoke(app, [*base, "--task", "s.report", "--unit", "town_a"]),
              "中没有单位“town_a”", "是否应为“town-a”？", "已有：office、town-a")
    bad_input(runner.invoke(app, [*base, "--task", "s.reprot", "--unit", "town-a"]),
              "中没有任务“s.reprot”", "是否应为“s.report”？")


def test_a_nightly_run_leaves_no_lock_file_beside_the_store(fresh: Path) -> None:
    assert runner.invoke(app, ["plan", "apply", str(plan_file(fresh))]).exit_code == 0
    result = runner.invoke(app, ["nightly", "--plan", "stores-2018", "--as-of", "2018-03-05",
                                 "--now", "2018-03-05T09:00+08:00"])
    assert result.exit_code == 0, result.stderr
    assert [p.name for p in (fresh / "data").iterdir() if p.name.endswith(".lock")] == []


def test_plans_list_shows_version_dates_obligations_and_last_night(fresh: Path) -> None:
    assert runner.invoke(app, ["plan", "apply", str(plan_file(fresh))]).exit_code == 0
    listed = json.loads(runner.invoke(app, ["plans", "list", "--format", "json"]).stdout)
    assert listed == [{"id": "stores-2018", "title": "存储测试计划", "version": 1, "start": "2018-01-01",
                       "end": "2018-12-31", "obligations": 5, "last_night": None,
                       # the last due date is the Q4 training's, 2019-01-08: 60 days on
                       "follow_up_until": "2019-03-09"}]
    runner.invoke(app, ["nightly", "--plan", "stores-2018", "--as-of", "2018-03-05", "--now", "2018-03-05T09:00+08:00"])
    listed = json.loads(runner.invoke(app, ["plans", "list", "--format", "json"]).stdout)
    assert listed[0]["last_night"] == "2018-03-05"
    table = runner.invoke(app, ["plans", "list"]).stdout
    assert "stores-2018" in table and "2018-03-05" in table and "5" in table
    # a zh plan's table: headers in Chinese (the JSON above keeps its English keys)
    assert "最近成功运行" in table and "跟进截止" in table and "last night" not in table


def test_an_internal_error_exits_1_with_one_line_and_the_traceback_in_the_log(
    fresh: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert runner.invoke(app, ["plan", "apply", str(plan_file(fresh))]).exit_code == 0

    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("light")  # a bug, not the user's input

    monkeypatch.setattr("plan_tracker.services.status.status_rows", broken)
    result = runner.invoke(app, ["status", "--plan", "stores-2018", "--as-of", "2018-03-05"])
    assert result.exit_code == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    # one line in the plan's language (a zh plan), the error's own name and words as they are
    assert len(lines) == 1 and lines[0].startswith("内部错误：KeyError: 'light'（详细记录见 "), lines
    log = fresh / "data" / "plan-tracker.log"
    assert str(log) in lines[0]
    assert "Traceback" in log.read_text(encoding="utf-8") and "broken" in log.read_text(encoding="utf-8")


@pytest.mark.parametrize("command", [["templates", "--out", "t"], ["deadlines", "--out", "-"]])
def test_an_unknown_unit_in_templates_and_deadlines_suggests_the_near_miss(
    fresh: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.chdir(fresh)
    assert runner.invoke(app, ["plan", "apply", str(plan_file(fresh))]).exit_code == 0
    bad_input(runner.invoke(app, [*command, "--plan", "stores-2018", "--unit", "twn-a", "--as-of", "2018-03-05"]),
              "twn-a", "是否应为“town-a”？", "已有：office、town-a")

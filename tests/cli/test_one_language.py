"""Human CLI surfaces speak the plan's language: the status table shows light and status
labels (JSON keeps the codes), and `submit` echoes the status the store recorded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from plan_tracker.cli import app

PLAN = """\
version: 1
plan: {id: words-2018, title: 用语测试计划, coordinator: office, start: 2018-01-01, end: 2018-12-31LOCALE}
leading_group: {name: 领导小组, email: lg@example.org}
units:
  - {id: office, name: 办公室, contact: {name: 张三, email: a@example.org}}
  - {id: town-a, name: 甲镇, contact: {name: 王五, email: c@example.org}}
escalation:
  - {after: 1, level: urge, notify: [contact]}
sections:
  - id: s
    title: 工作
    tasks:
      - {id: s.report, title: 自查报告, lead: town-a, due: 2018-03-30}
      - {id: s.rules, title: 制度, lead: office, due: 2018-09-28}
"""
runner = CliRunner()


@pytest.fixture
def applied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[None]:
    from plan_tracker.settings import get_settings
    from plan_tracker.store.db import engine_for

    monkeypatch.delenv("PLAN_TRACKER_DATABASE_URL", raising=False)
    monkeypatch.setenv("PLAN_TRACKER_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    engine_for.cache_clear()
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN.replace("LOCALE", getattr(request, "param", "")), encoding="utf-8")
    assert runner.invoke(app, ["plan", "apply", str(plan)]).exit_code == 0
    yield
    get_settings.cache_clear()
    engine_for.cache_clear()


def submit(status: str) -> str:
    result = runner.invoke(app, ["submit", "--plan", "words-2018", "--task", "s.rules", "--unit", "office",
                                 "--period", "once", "--status", status, "--on", "2018-04-02"])
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_the_status_table_shows_chinese_labels_and_json_keeps_codes(applied: None) -> None:
    said = submit("推进中")
    assert "= 推进中（in_progress），报送日期 2018-04-02" in said  # what was recorded, not what was typed
    table = runner.invoke(app, ["status", "--plan", "words-2018", "--as-of", "2018-04-03"]).stdout
    for word in ("亮灯", "状态", "红灯", "推进中", "绿灯"):  # the one vocabulary (domain.vocabulary)
        assert word in table, table
    for code in ("red", "in_progress", "green"):
        assert code not in table, table
    rows = json.loads(runner.invoke(app, ["status", "--plan", "words-2018", "--as-of", "2018-04-03",
                                          "--format", "json"]).stdout)
    assert {r["light"] for r in rows} == {"red", "green"} and {r["status"] for r in rows} == {None, "in_progress"}


@pytest.mark.parametrize("applied", [", locale: en"], indirect=True)
def test_an_english_plan_gets_english_labels(applied: None) -> None:
    assert "= In progress (in_progress)" in submit("in_progress")
    table = runner.invoke(app, ["status", "--plan", "words-2018", "--as-of", "2018-04-03"]).stdout
    for word in ("Light", "Red", "Green"):  # the one vocabulary (domain.vocabulary)
        assert word in table, table
    assert "红灯" not in table and "逾期" not in table

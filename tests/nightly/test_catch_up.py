"""`nightly --catch-up` does what it says: a never-run plan catches up from its first night,
an explicit --since lifts the cap, and the summary counts only what this run raised."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from plan_tracker.cli import app
from plan_tracker.store.db import make_engine

PLAN = """\
version: 1
plan: {id: catch-2018, title: 补跑测试计划, coordinator: office, start: START, end: 2018-12-31}
leading_group: {name: 领导小组, email: lg@example.org}
units:
  - {id: office, name: 办公室, contact: {name: 张三, email: a@example.org}}
  - {id: town-a, name: 甲镇, groups: [towns], contact: {name: 王五, email: c@example.org}}
escalation:
  - {after: -3, level: remind, notify: [contact]}
  - {after: 1, level: urge, notify: [contact]}
  - {after: 5, level: supervise, notify: [contact]}
sections:
  - id: s
    title: 工作
    tasks:
      - {id: s.monthly, title: 月报, lead: town-a, every: month, due_after: 3}
"""
runner = CliRunner()


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    from plan_tracker.settings import get_settings
    from plan_tracker.store.db import engine_for

    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    monkeypatch.setenv("PLAN_TRACKER_DATABASE_URL", url)
    monkeypatch.setenv("PLAN_TRACKER_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    engine_for.cache_clear()
    engine = make_engine(url)
    yield engine
    engine.dispose()
    get_settings.cache_clear()
    engine_for.cache_clear()


def apply(tmp_path: Path, start: str) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN.replace("START", start), encoding="utf-8")
    assert runner.invoke(app, ["plan", "apply", str(plan)]).exit_code == 0


def nights_run(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [str(d) for d in conn.execute(text("SELECT as_of FROM nightly_run WHERE ok ORDER BY as_of")).scalars()]


def catch_up(*args: str) -> str:
    result = runner.invoke(app, ["nightly", "--plan", "catch-2018", "--catch-up", *args])
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result.stdout


def test_a_plan_that_never_ran_catches_up_from_its_first_night(store: Engine, tmp_path: Path) -> None:
    apply(tmp_path, "2018-10-01")
    said = catch_up("--as-of", "2018-10-10", "--now", "2018-10-10T09:00+08:00")
    assert nights_run(store) == [f"2018-10-{d:02d}" for d in range(1, 11)]
    # September's report is not in the plan (it starts in October); nothing was passed over:
    # each step fired on its own night, none skipped.
    assert "跳过 1" not in said and said.count("，截至 2018-10-") == 10


def test_an_explicit_since_lifts_the_cap(store: Engine, tmp_path: Path) -> None:
    apply(tmp_path, "2018-01-01")
    capped = runner.invoke(app, ["nightly", "--plan", "catch-2018", "--catch-up", "--as-of", "2018-04-19"])
    assert capped.exit_code == 2 and "--since 2018-01-01" in capped.stderr  # never ran: from the start
    catch_up("--since", "2018-02-16", "--as-of", "2018-04-19", "--now", "2018-04-19T09:00+08:00")
    assert len(nights_run(store)) == 63 and nights_run(store)[0] == "2018-02-16"


def test_rerunning_nights_counts_nothing_as_raised_again(store: Engine, tmp_path: Path) -> None:
    apply(tmp_path, "2018-10-01")
    first = runner.invoke(app, ["nightly", "--plan", "catch-2018", "--as-of", "2018-11-06", "--now",
                                "2018-11-06T09:00+08:00"]).stdout
    raised = int(re.search(r"新增催办 (\d+)", first).group(1))
    assert raised > 0
    again = runner.invoke(app, ["nightly", "--plan", "catch-2018", "--as-of", "2018-11-06", "--now",
                                "2018-11-06T09:00+08:00"]).stdout
    assert "新增催办 0 条" in again and f"此前运行已产生 {raised}）" in again
    said = catch_up("--since", "2018-11-05", "--as-of", "2018-11-06", "--now", "2018-11-06T09:00+08:00")
    # Only 11-05 was new to this catch-up: the closing line counts its reminders, not 11-06's again.
    assert f"本次新增催办 {_raised_on(said, '2018-11-05')} 条，" in said
    assert f"此前运行已产生 {raised} 条" in said


def _raised_on(output: str, night: str) -> int:
    block = output.split(f"截至 {night}：", 1)[1]
    return int(re.search(r"新增催办 (\d+)", block).group(1))

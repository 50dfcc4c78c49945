"""`plan-tracker templates` and `plan-tracker ingest`: receipts, exit codes, clean errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner, Result

from plan_tracker.cli import app
from plan_tracker.store.db import make_engine

from .conftest import PLAN_ID, fill, reports

runner = CliRunner()


def invoke(*args: str) -> Result:
    return runner.invoke(app, list(args), catch_exceptions=False)


def assert_bad_input(result: Result, fragment: str) -> None:
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert fragment in result.stderr, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "internal error" not in result.stderr


@pytest.fixture
def store(cli_env: dict[str, str], plan_file: Path) -> Iterator[Engine]:
    assert invoke("plan", "apply", str(plan_file)).exit_code == 0
    engine = make_engine(cli_env["PLAN_TRACKER_DATABASE_URL"])
    yield engine
    engine.dispose()


def test_templates_writes_one_workbook_per_unit_and_names_them(store: Engine, tmp_path: Path) -> None:
    result = invoke("templates", "--plan", PLAN_ID, "--as-of", "2018-05-02", "--out", str(tmp_path / "t"))
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "t").iterdir()) == [
        f"{PLAN_ID}-legal-office-2018-05-02.xlsx", f"{PLAN_ID}-town-a-2018-05-02.xlsx", f"{PLAN_ID}-town-b-2018-05-02.xlsx"]
    assert "（town-a 的 3 项督办事项）" in result.stdout  # a zh plan's receipt


def test_templates_refuses_an_unknown_unit_plan_or_date_cleanly(store: Engine, tmp_path: Path) -> None:
    assert_bad_input(invoke("templates", "--plan", PLAN_ID, "--unit", "town-z", "--out", str(tmp_path)), "计划“inbox-2018”中没有单位“town-z”")
    assert_bad_input(invoke("templates", "--plan", "nope", "--out", str(tmp_path)), "存储中没有计划“nope”")
    assert_bad_input(invoke("templates", "--plan", PLAN_ID, "--as-of", "May 2", "--out", str(tmp_path)), "不是日期")


def test_ingest_prints_a_receipt_per_file_and_exits_2_when_anything_was_rejected(
        store: Engine, tmp_path: Path, cli_env: dict[str, str]) -> None:
    invoke("templates", "--plan", PLAN_ID, "--as-of", "2018-05-02", "--out", str(tmp_path / "t"))
    template = tmp_path / "t" / f"{PLAN_ID}-town-a-2018-05-02.xlsx"
    good = fill(template, tmp_path / "good.xlsx", {("cap.training", "2018-Q2"): {"状态": "推进中", "进度(%)": 30}})
    bad = fill(template, tmp_path / "bad.xlsx", {("cap.training", "2018-Q1"): {"状态": "差不多"}})

    result = invoke("ingest", "--plan", PLAN_ID, str(good))
    assert result.exit_code == 0, result.stderr
    assert "good.xlsx：已接收 — 接收 1 行，已有记录 0 行，退回 0 行，空白 2 行" in result.stdout
    assert "回执：" in result.stdout

    result = invoke("ingest", "--plan", PLAN_ID, str(good), str(bad), str(tmp_path / "missing.csv"))
    assert result.exit_code == 2
    assert "good.xlsx：已接收过，未作任何更改" in result.stdout
    assert "bad.xlsx：已退回 — 接收 0 行" in result.stderr
    assert "反馈表 第4行 F列「状态」：应为 未开始、推进中、已完成、受阻 之一（填写的是“差不多”）" in result.stderr
    inbox = Path(cli_env["PLAN_TRACKER_DATA_DIR"]) / "inbox" / PLAN_ID
    assert f"错误清单：{inbox / 'rejected'}" in result.stderr
    assert "missing.csv：已退回 — 文件不存在" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert len(reports(store)) == 1


def test_ingest_of_an_unknown_plan_is_bad_input(store: Engine, tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x", encoding="utf-8")
    assert_bad_input(invoke("ingest", "--plan", "nope", str(tmp_path / "a.csv")), "存储中没有计划“nope”")


def test_ingest_speaks_english_for_a_plan_in_english(cli_env: dict[str, str], en_plan_file: Path, tmp_path: Path) -> None:
    assert invoke("plan", "apply", str(en_plan_file)).exit_code == 0
    invoke("templates", "--plan", PLAN_ID, "--as-of", "2018-05-02", "--out", str(tmp_path / "t"))
    template = tmp_path / "t" / f"{PLAN_ID}-town-a-2018-05-02.xlsx"
    bad = fill(template, tmp_path / "bad.xlsx", {("cap.training", "2018-Q1"): {"状态": "差不多"}})
    result = invoke("ingest", "--plan", PLAN_ID, str(bad), str(tmp_path / "missing.csv"))
    assert result.exit_code == 2
    assert "bad.xlsx: rejected — 0 row(s) accepted, 0 already recorded, 1 rejected, 2 blank" in result.stderr
    assert "反馈表 row 4 F 状态: one of 未开始, 推进中, 已完成, 受阻 (found '差不多')" in result.stderr
    assert "  error file: " in result.stderr and "  receipt: " in result.stderr
    assert "missing.csv: rejected — no such file" in result.stderr
    assert_bad_input(invoke("templates", "--plan", PLAN_ID, "--unit", "town-z", "--out", str(tmp_path)),
                     "plan 'inbox-2018' has no unit 'town-z'")

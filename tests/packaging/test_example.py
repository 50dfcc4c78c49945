"""`plan-tracker example NAME --out DIR`: the founding plan shipped as package data."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from plan_tracker.cli import app
from plan_tracker.planfile import load_plan

runner = CliRunner()


def test_the_written_example_validates_and_points_at_its_own_schema(tmp_path: Path) -> None:
    result = runner.invoke(app, ["example", "jingzhou-2018", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    plan = load_plan(tmp_path / "plans" / "jingzhou-2018.yaml")
    assert plan.id == "jingzhou-2018" and len(plan.units) == 47
    first = (tmp_path / "units" / "jingzhou.yaml").read_text(encoding="utf-8").splitlines()[0]
    assert (tmp_path / "units" / first.split("$schema=")[1]).resolve() == (tmp_path / "schema" / "units.schema.json")


def test_an_unknown_example_exits_2_with_a_suggestion(tmp_path: Path) -> None:
    result = runner.invoke(app, ["example", "jingzhou2018", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "是否应为“jingzhou-2018”" in result.stderr
    assert not any(tmp_path.iterdir())


def test_an_example_never_overwrites_without_force(tmp_path: Path) -> None:
    assert runner.invoke(app, ["example", "jingzhou-2018", "--out", str(tmp_path)]).exit_code == 0
    plan = tmp_path / "plans" / "jingzhou-2018.yaml"
    plan.write_text("edited", encoding="utf-8")
    result = runner.invoke(app, ["example", "jingzhou-2018", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "--force" in result.stderr
    assert plan.read_text(encoding="utf-8") == "edited"
    assert runner.invoke(app, ["example", "jingzhou-2018", "--out", str(tmp_path), "--force"]).exit_code == 0
    assert plan.read_text(encoding="utf-8") != "edited"


def test_an_out_path_that_is_a_file_is_bad_input(tmp_path: Path) -> None:
    target = tmp_path / "plans"
    target.write_text("not a folder", encoding="utf-8")
    result = runner.invoke(app, ["example", "jingzhou-2018", "--out", str(target)])
    assert result.exit_code == 2 and "已存在且不是文件夹" in result.stderr

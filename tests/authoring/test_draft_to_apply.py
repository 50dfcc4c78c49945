"""From report to running plan: draft the seed report, fill ONLY the marked blanks, then
`plan validate`, `plan preview` and `plan apply` succeed (on SQLite and on PostgreSQL).

Filling the blanks means: every value that starts with "TODO" (plan id, coordinator, the
leading group, each task's lead and due), and the units — the draft says `units: []` with a
comment to fill them in or replace the line with `units_file:`; here it points at the
district's shared units file, as the founding plan does.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from itertools import cycle
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator
from typer.testing import CliRunner, Result

from plan_tracker.authoring.schema import plan_schema
from plan_tracker.cli import app

ROOT = Path(__file__).resolve().parents[2]
SEED = Path(__file__).parent / "data" / "jingzhou-2017-report.txt"
UNITS_FILE = ROOT / "src" / "plan_tracker" / "examples" / "units" / "jingzhou.yaml"

BLANK = re.compile(r'^(?P<indent>\s*)(?P<key>[a-z_]+): "TODO[^"]*"$')
LEADS = ["gov-office", "legal-office", "justice-bureau", "supervision-commission", "development-reform"]
# 2018-10-01 (National Day) is in the list on purpose: it must roll forward to 2018-10-08.
DUES = ["2018-06-29", "2018-10-01", "2018-09-28", "2018-12-28", "2018-05-31", "2018-08-31", "2018-11-30"]

runner = CliRunner()


def invoke(*args: str) -> Result:
    return runner.invoke(app, list(args), catch_exceptions=False)


def fill_blanks(draft: str, plan_dir: Path) -> str:
    """Fill what a coordinator must fill, touching no other line."""
    leads, dues = cycle(LEADS), cycle(DUES)
    header = {"id": "jingzhou-2018", "coordinator": "legal-office",
              "name": "法治政府建设领导小组办公室", "email": "lg@example.org"}
    filled = []
    for line in draft.splitlines():
        match = BLANK.match(line)
        if line == "units: []":
            line = f"units_file: {os.path.relpath(UNITS_FILE, plan_dir)}"
        elif match:
            key = match["key"]
            value = {"lead": lambda: next(leads), "due": lambda: next(dues)}.get(key, lambda: header[key])()
            line = f"{match['indent']}{key}: {value}"
        filled.append(line)
    return "\n".join(filled) + "\n"


@pytest.fixture
def drafted(tmp_path: Path) -> Path:
    target = tmp_path / "plans" / "jingzhou-2018.yaml"
    target.parent.mkdir()
    result = invoke("plan", "draft", str(SEED), "--out", str(target))
    assert result.exit_code == 0, result.stderr
    return target


def test_the_draft_lists_exactly_its_blanks_before_filling(drafted: Path) -> None:
    text = drafted.read_text(encoding="utf-8")
    blanks = [n for n, line in enumerate(text.splitlines(), start=1) if BLANK.match(line)]
    result = invoke("plan", "validate", str(drafted))
    assert result.exit_code == 2
    reported = sorted({int(m) for m in re.findall(rf"{re.escape(str(drafted))}:(\d+):\d+: 待填写的空白", result.stderr)})
    assert reported == blanks
    assert f"请填写 {len(blanks)} 处 TODO 空白" in invoke("plan", "draft", str(SEED), "--out", str(drafted), "--force").stdout


def test_filling_only_the_blanks_changes_only_blank_lines(drafted: Path) -> None:
    before = drafted.read_text(encoding="utf-8").splitlines()
    after = fill_blanks("\n".join(before), drafted.parent).splitlines()
    assert len(before) == len(after)
    changed = [(b, a) for b, a in zip(before, after, strict=True) if b != a]
    assert changed and all(BLANK.match(b) or b == "units: []" for b, _ in changed)
    assert not any(BLANK.match(a) for a in after)


def test_draft_then_fill_only_the_blanks_then_validate_preview_and_apply(
    cli_env: dict[str, str], drafted: Path
) -> None:
    drafted.write_text(fill_blanks(drafted.read_text(encoding="utf-8"), drafted.parent), encoding="utf-8")

    # the editor's view: the JSON Schema accepts the filled draft
    data = yaml.safe_load(drafted.read_text(encoding="utf-8"))
    as_json = json.loads(json.dumps(data, default=lambda d: d.isoformat() if isinstance(d, dt.date) else d))
    assert list(Draft202012Validator(plan_schema()).iter_errors(as_json)) == []
    tasks = sum(len(s["tasks"]) for s in data["sections"])

    validated = invoke("plan", "validate", str(drafted))
    assert validated.exit_code == 0, validated.stderr
    assert f"通过 — 计划 jingzhou-2018，单位 47 个，任务 {tasks} 项，督办事项 {tasks} 项" in validated.stdout

    previewed = invoke("plan", "preview", str(drafted))
    assert previewed.exit_code == 0, previewed.stderr
    assert "2018-10-01 为国庆节假期，顺延至下一个工作日 2018-10-08" in previewed.stdout

    applied = invoke("plan", "apply", str(drafted))
    assert applied.exit_code == 0, applied.stderr
    assert "计划 jingzhou-2018：已导入第 1 版（新计划）" in applied.stdout
    assert f"督办事项：+{tasks} ~0 -0（共 {tasks} 项）" in applied.stdout

    status = invoke("status", "--plan", "jingzhou-2018", "--as-of", "2018-10-09", "--format", "json")
    assert status.exit_code == 0, status.stderr
    rows = json.loads(status.stdout)
    assert len(rows) == tasks
    rolled = [r for r in rows if r["due"] == "2018-10-08"]
    assert rolled and all(r["light"] == "red" and r["overdue_wd"] == 1 for r in rolled)

    again = invoke("plan", "apply", str(drafted))
    assert again.stdout.strip() == "计划 jingzhou-2018：无变化（第 1 版）"

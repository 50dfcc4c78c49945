"""A small plan both languages' CLI tests apply: `words_plan_text(locale)`, and `words_store`,
the plan applied to the test store (both backends) in the locale `zh` (the default) or, with
`@pytest.mark.parametrize("words_store", ["en"], indirect=True)`, another."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

WORDS_PLAN_ID = "words-2018"
WORDS_PLAN = """\
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
LOCALE_LINE = {"zh": "", "en": ", locale: en"}


def words_plan_text(locale: str = "zh") -> str:
    """The plan in `locale` (`zh` names none: Chinese is the default)."""
    return WORDS_PLAN.replace("LOCALE", LOCALE_LINE[locale])


@pytest.fixture
def words_store(request: pytest.FixtureRequest, cli_env: dict[str, str], tmp_path: Path) -> str:
    """The plan applied to the test store; its locale (`request.param`, else zh)."""
    from plan_tracker.cli import app

    locale = getattr(request, "param", "zh")
    plan = tmp_path / "plan.yaml"
    plan.write_text(words_plan_text(locale), encoding="utf-8")
    result = CliRunner().invoke(app, ["plan", "apply", str(plan)])
    assert result.exit_code == 0, result.stderr
    return str(locale)

"""`plan validate` reports schema faults, references and calendar coverage in one pass,
each at FILE:LINE:COL, with a suggestion for a near-miss id; e-mail addresses are checked
by email-validator and the message names the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from plan_tracker.cli import app
from plan_tracker.domain.plan import Person

BAD = """\
version: 1
plan: {id: qingxi-2019, title: 清溪, coordinator: legal-ofice, start: 2019-01-01, end: 2019-12-31, warn_days: 99}
leading_group: {name: 领导小组, email: lg@example.org}
units:
  - {id: legal-office, name: 法制办, contact: {name: 张伟, email: zhangwei@@qingxi.org}}
  - {id: town-a, name: 甲镇, groups: [towns], contact: {name: 王五, email: zhangwei@qingxi}}
  - {id: Town-B, name: 乙镇, groups: [towns]}
escalation:
  - {after: -3, level: remind, notify: [contact]}
sections:
  - id: s
    title: 工作
    tasks:
      - {id: s.a, title: 甲, lead: Town-B, every: quarter, due_after: 5}
      - {id: s.b, title: 乙, lead: twn-a, due: 2019-03-01, colour: red}
      - {id: s.c, title: 丙, lead: group:town, due: 2019-03-01, depends_on: [s.b, s.x]}
"""

runner = CliRunner()


def validate(tmp_path: Path, text: str) -> tuple[int, list[str]]:
    path = tmp_path / "plan.yaml"
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["plan", "validate", str(path)])
    prefix = f"{path}:"
    return result.exit_code, [line.removeprefix(prefix) for line in result.stderr.splitlines() if line.startswith(prefix)]


def test_schema_faults_and_references_are_reported_in_one_pass(tmp_path: Path) -> None:
    code, lines = validate(tmp_path, BAD)  # a Chinese plan (the default locale)
    assert code == 2
    assert lines == [
        "2:49: plan.coordinator: 未知单位“legal-ofice”（是否应为“legal-office”？）",
        "2:109: plan.warn_days: 应小于或等于 60",
        "5:62: units.0.contact.email: “zhangwei@@qingxi.org”不是有效的电子邮件地址："
        "The part after the @-sign contains invalid characters: '@'.",
        "6:72: units.1.contact.email: “zhangwei@qingxi”不是有效的电子邮件地址："
        "The part after the @-sign is not valid. It should have a period.",
        "7:10: units.2.id: “Town-B”不是有效的编号（只能用小写字母、数字和“-”）",
        "14:35: sections.0.tasks.0.lead: lead“Town-B”既不是单位编号也不是 group:分组名（只能用小写字母、数字和“-”）",
        "15:35: sections.0.tasks.1.lead: 未知单位“twn-a”（是否应为“town-a”？）",
        "15:59: sections.0.tasks.1.colour: 未知的键（请检查拼写；见 `plan-tracker plan schema`）",
        "16:35: sections.0.tasks.2.lead: 未知分组“town”（是否应为“towns”？）",
        "16:82: sections.0.tasks.2.depends_on.1: 未知任务“s.x”（是否应为“s.c”？）",
    ]


def test_an_english_plan_gets_the_same_problems_in_english(tmp_path: Path) -> None:
    code, lines = validate(tmp_path, BAD.replace("warn_days: 99}", "warn_days: 99, locale: en}"))
    assert code == 2
    assert lines == [
        "2:49: plan.coordinator: unknown unit 'legal-ofice' (did you mean 'legal-office'?)",
        "2:109: plan.warn_days: Input should be less than or equal to 60",
        "5:62: units.0.contact.email: 'zhangwei@@qingxi.org' is not a valid e-mail address: "
        "The part after the @-sign contains invalid characters: '@'.",
        "6:72: units.1.contact.email: 'zhangwei@qingxi' is not a valid e-mail address: "
        "The part after the @-sign is not valid. It should have a period.",
        "7:10: units.2.id: 'Town-B' is not a valid id (lowercase letters, digits and '-')",
        "14:35: sections.0.tasks.0.lead: lead 'Town-B' is neither a unit id nor group:NAME "
        "(lowercase letters, digits and '-')",
        "15:35: sections.0.tasks.1.lead: unknown unit 'twn-a' (did you mean 'town-a'?)",
        "15:59: sections.0.tasks.1.colour: unknown key (check the spelling; see `plan-tracker plan schema`)",
        "16:35: sections.0.tasks.2.lead: unknown group 'town' (did you mean 'towns'?)",
        # s.a is dropped for its bad lead, so s.x's nearest known task is s.b or s.c.
        "16:82: sections.0.tasks.2.depends_on.1: unknown task 's.x' (did you mean 's.c'?)",
    ]


def test_a_dropped_item_does_not_shift_the_positions_of_later_problems(tmp_path: Path) -> None:
    # Units 1 and 2 are dropped for bad values before the references are checked: the later
    # problems must still point at their own lines in the file, not one item up.
    text = BAD.replace("name: 甲镇, ", "").replace("warn_days: 99", "warn_days: 3, locale: en")
    code, lines = validate(tmp_path, text)
    assert code == 2
    assert "6:5: units.1.name: required key is missing" in lines
    assert "7:10: units.2.id: 'Town-B' is not a valid id (lowercase letters, digits and '-')" in lines
    assert "15:35: sections.0.tasks.1.lead: unknown unit 'twn-a'" in lines
    assert "16:82: sections.0.tasks.2.depends_on.1: unknown task 's.x' (did you mean 's.c'?)" in lines


def test_calendar_coverage_is_checked_alongside_schema_faults(tmp_path: Path) -> None:
    text = """\
version: 1
plan: {id: late-2027, title: 未发布年份, coordinator: office, start: 2027-01-01, end: 2027-12-31}
leading_group: {name: 领导小组, email: lg@example}
units:
  - {id: office, name: 办公室, contact: {name: 张三, email: a@example.org}}
escalation:
  - {after: 1, level: urge, notify: [contact]}
sections:
  - id: s
    title: 工作
    tasks:
      - {id: s.a, title: 甲, lead: office, due: 2027-03-01}
"""
    code, lines = validate(tmp_path, text)
    assert code == 2
    assert any(line.startswith("3:") and "leading_group.email" in line and "period" in line for line in lines)
    assert any("2027" in line and "calendar" in line for line in lines), lines


@pytest.mark.parametrize("address", ["a@example.org", "zhang.wei+plan@qingxi.gov.cn", "张伟@例子.中国"])
def test_real_addresses_are_accepted_as_written(address: str) -> None:
    assert Person(name="张伟", email=address).email == address


@pytest.mark.parametrize("address", ["zhangwei@qingxi", "zhangwei@@qingxi.org", "zhangwei", "a b@example.org"])
def test_malformed_addresses_are_rejected_naming_the_field(address: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Person(name="张伟", email=address)
    error = caught.value.errors()[0]
    said = error["ctx"]["error"].args[0]  # a catalogue message, worded where the plan is known
    assert error["loc"][0] == "email" and said.id == "plan.bad_email" and said.value("value") == address
    assert "is not a valid e-mail address" in said.render("en") and "不是有效的电子邮件地址" in said.render("zh")


def test_a_unit_dropped_for_a_bad_value_leaves_its_group_known(tmp_path: Path) -> None:
    # town-a is the only unit in `towns`; its contact's address is bad. The task led by
    # group:towns must not also read "group 'towns' has no units".
    text = BAD.replace("warn_days: 99", "warn_days: 3").replace("name: 甲镇, ", "")
    code, lines = validate(tmp_path, text)
    assert code == 2
    assert not any("分组“towns”中没有单位" in line for line in lines), lines
    assert any("未知分组“town”" in line for line in lines), lines  # the check ran, in the plan's words

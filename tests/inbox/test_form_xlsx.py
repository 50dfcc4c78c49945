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
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.utils import get_column_letter

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

"""The report form as openpyxl built it before `inbox.form_xlsx` (issue 17): the reference the
XlsxWriter form is held equal to, cell by cell, as openpyxl reads both back."""

from __future__ import annotations

import datetime as dt
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.utils import get_column_letter
from openpyxl.workbook.protection import WorkbookProtection
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from plan_tracker.domain.plan import Plan, Unit
from plan_tracker.inbox import signature
from plan_tracker.inbox.columns import (
    COLUMNS,
    IDENTITY_LABELS,
    LIGHT_COLOURS,
    LIGHT_LABELS_ZH,
    META_FORMAT,
    META_SHEET,
    STATUS_CHOICES,
    indicator_label,
)
from plan_tracker.inbox.safety import put
from plan_tracker.inbox.template import FIRST_ROW, HEADER_ROW, IDENTITY_ROW, SHEET, TITLE_ROW
from plan_tracker.services.status import StatusRow

GREY = PatternFill("solid", fgColor="D9D9D9")
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
FILL_IN = PatternFill("solid", fgColor="FFFFFF")
UNLOCKED = Protection(locked=False)


def build_workbook(plan: Plan, version: int, unit: Unit, rows: list[StatusRow], *, as_of: dt.date,
                   today: dt.date, secret: str | None = None) -> Workbook:
    tasks = {t.id: t for _, t in plan.tasks()}
    indicators: list[str] = []  # column labels, in order of first use
    for row in rows:
        for ind in tasks[row.task].indicators:
            label = indicator_label(ind.model_dump())
            if label not in indicators:
                indicators.append(label)
    workbook = Workbook()
    sheet = workbook.active
    assert isinstance(sheet, Worksheet)
    sheet.title = SHEET
    width = len(COLUMNS) + len(indicators)
    _title_and_identity(sheet, plan, version, unit, as_of, width)
    _headers(sheet, indicators)
    first_indicator = len(COLUMNS) + 1
    for offset, row in enumerate(rows):
        r = FIRST_ROW + offset
        values = {"task": row.task, "title": tasks[row.task].title, "period": row.period, "due": row.due,
                  "light": LIGHT_LABELS_ZH.get(row.light, row.light)}
        for c, column in enumerate(COLUMNS, start=1):
            cell = sheet.cell(r, c)
            if column.fill_in:
                cell.protection = UNLOCKED
                cell.fill = FILL_IN
                if column.key == "note":
                    cell.alignment = Alignment(wrap_text=True, vertical="top")
                if column.key == "reported_on":
                    cell.number_format = "yyyy-mm-dd"
                continue
            put(cell, values[column.key])
            if column.key == "due":
                cell.number_format = "yyyy-mm-dd"
            if column.key == "light" and row.light in LIGHT_COLOURS:
                cell.fill = PatternFill("solid", fgColor=LIGHT_COLOURS[row.light])
        own = {indicator_label(i.model_dump()) for i in tasks[row.task].indicators}
        for i, label in enumerate(indicators):
            cell = sheet.cell(r, first_indicator + i)
            if label in own:
                cell.protection = UNLOCKED
            else:
                cell.fill = GREY
    _validations(sheet, plan, len(rows), first_indicator, indicators)
    sheet.freeze_panes = sheet.cell(FIRST_ROW, 3)
    sheet.protection.sheet = True
    sheet.protection.formatColumns = False  # widths and heights may still be changed
    sheet.protection.formatRows = False
    _meta_sheet(workbook, plan, version, unit, as_of, today, secret)
    workbook.security = WorkbookProtection(lockStructure=True)  # no sheet added, renamed or unhidden
    workbook.properties.creator = "plan-tracker"
    return workbook


def _title_and_identity(sheet: Worksheet, plan: Plan, version: int, unit: Unit, as_of: dt.date, width: int) -> None:
    put(sheet.cell(TITLE_ROW, 1), f"{plan.plan.title} — {unit.name} 工作进展反馈表（截至 {as_of.isoformat()}）")
    sheet.cell(TITLE_ROW, 1).font = Font(bold=True, size=14)
    sheet.merge_cells(start_row=TITLE_ROW, start_column=1, end_row=TITLE_ROW, end_column=max(width, 8))
    identity: list[tuple[str, Any]] = [(IDENTITY_LABELS["plan"], plan.id), (IDENTITY_LABELS["unit"], unit.id),
                                       (IDENTITY_LABELS["plan_version"], version),
                                       (IDENTITY_LABELS["as_of"], as_of.isoformat())]
    for i, (label, value) in enumerate(identity):
        put(sheet.cell(IDENTITY_ROW, 2 * i + 1), label).font = Font(bold=True)
        put(sheet.cell(IDENTITY_ROW, 2 * i + 2), value)


def _headers(sheet: Worksheet, indicators: list[str]) -> None:
    labels = [(c.label, c.width) for c in COLUMNS] + [(label, max(12, len(label) * 2)) for label in indicators]
    for c, (label, col_width) in enumerate(labels, start=1):
        cell = put(sheet.cell(HEADER_ROW, c), label)
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, horizontal="center", vertical="center")
        sheet.column_dimensions[get_column_letter(c)].width = col_width


def _validations(sheet: Worksheet, plan: Plan, count: int, first_indicator: int, indicators: list[str]) -> None:
    if count == 0:
        return
    last = FIRST_ROW + count - 1

    def span(key: str) -> str:
        letter = get_column_letter(next(i for i, c in enumerate(COLUMNS, start=1) if c.key == key))
        return f"{letter}{FIRST_ROW}:{letter}{last}"

    status = DataValidation(type="list", formula1='"' + ",".join(STATUS_CHOICES) + '"', allow_blank=True,
                            showErrorMessage=True, errorTitle="状态", error="请从下拉列表中选择：" + "、".join(STATUS_CHOICES),
                            showInputMessage=True, promptTitle="状态", prompt="请从下拉列表中选择")
    progress = DataValidation(type="whole", operator="between", formula1="0", formula2="100", allow_blank=True,
                              showErrorMessage=True, errorTitle="进度(%)", error="请填写 0 到 100 之间的整数")
    start = plan.plan.start
    reported = DataValidation(type="date", operator="greaterThanOrEqual",
                              formula1=f"DATE({start.year},{start.month},{start.day})", allow_blank=True,
                              showErrorMessage=True, errorTitle="报送日期", error="请填写日期，例如 2018-03-31")
    for validation, key in ((status, "status"), (progress, "progress"), (reported, "reported_on")):
        validation.add(span(key))
        sheet.add_data_validation(validation)
    if indicators:
        number = DataValidation(type="decimal", operator="between", formula1="-1000000000000",
                                formula2="1000000000000", allow_blank=True, showErrorMessage=True,
                                errorTitle="指标", error="请填写数字")
        first = get_column_letter(first_indicator)
        final = get_column_letter(first_indicator + len(indicators) - 1)
        number.add(f"{first}{FIRST_ROW}:{final}{last}")
        sheet.add_data_validation(number)


def _meta_sheet(workbook: Workbook, plan: Plan, version: int, unit: Unit, as_of: dt.date, today: dt.date,
                secret: str | None) -> None:
    meta = workbook.create_sheet(META_SHEET)
    entries: list[tuple[str, Any]] = [
        ("format", META_FORMAT), ("plan", plan.id), ("unit", unit.id), ("plan_version", version),
        ("as_of", as_of.isoformat()), ("generated_on", today.isoformat()), ("sheet", SHEET),
        ("header_row", HEADER_ROW),
    ]
    if secret is not None:
        entries.append((signature.KEY, signature.sign(secret, dict(entries))))
    for r, (key, value) in enumerate(entries, start=1):
        put(meta.cell(r, 1), key)
        put(meta.cell(r, 2), value)
    meta.sheet_state = "hidden"
    meta.protection.sheet = True

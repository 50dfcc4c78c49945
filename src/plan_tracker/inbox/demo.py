"""Filled templates for demonstrations: every unit answers its template as a clerk would.

`make demo` (plan_tracker.demo) can drop these into `<inbox>/<plan>/` before a night so that
the collect stage ingests them; the tests use the same helper on the founding plan.
Deterministic: the answers depend only on each row's position.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import Engine

from plan_tracker.inbox.columns import COLUMNS
from plan_tracker.inbox.template import FIRST_ROW, HEADER_ROW, SHEET, write_templates

ANSWERS = (
    ("推进中", 40, "按计划推进，已完成阶段性工作"),
    ("已完成", 100, "已完成，材料已归档"),
    ("推进中", 70, "正在组织实施"),
    ("受阻", 20, "因人员调整暂缓，已报分管领导协调"),
    (None, None, None),  # some rows are left for later
)


def filled_templates(engine: Engine, plan_id: str, *, as_of: dt.date, today: dt.date, out_dir: Path) -> list[Path]:
    """Write each unit's template into `out_dir`, filled in; returns the files."""
    paths = []
    for template in write_templates(engine, plan_id, as_of=as_of, today=today, out_dir=out_dir):
        workbook = load_workbook(template.path)
        sheet = workbook[SHEET]
        column = {c.key: i for i, c in enumerate(COLUMNS, start=1)}
        last = sheet.max_column
        for offset in range(template.rows):
            row = FIRST_ROW + offset
            status, progress, note = ANSWERS[offset % len(ANSWERS)]
            if status is None:
                continue
            sheet.cell(row, column["status"]).value = status
            sheet.cell(row, column["progress"]).value = progress
            sheet.cell(row, column["note"]).value = note
            if status == "已完成":
                sheet.cell(row, column["evidence"]).value = f"https://oa.example.org/evidence/{plan_id}/{offset}"
            for c in range(len(COLUMNS) + 1, last + 1):  # the row's own indicators are unlocked
                cell = sheet.cell(row, c)
                if cell.protection.locked is False and sheet.cell(HEADER_ROW, c).value:
                    cell.value = 10 + offset
        workbook.save(template.path)
        paths.append(template.path)
    return paths

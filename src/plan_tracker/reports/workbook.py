"""The report as an XLSX workbook (openpyxl): one sheet per part of the report.

Every cell is written through `plan_tracker.inbox.safety.put`, so text from units and plans
(names, titles, notes) is stored as text, never as a formula: a value beginning with
= + - @ tab CR or NUL gets a leading apostrophe and the cell is typed as a string. Rates are
numbers formatted as percentages, dates are dates: coordinators sort and filter them.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from plan_tracker.inbox.safety import put
from plan_tracker.reports.labels import labels, period_text
from plan_tracker.reports.model import LIGHTS, GroupFigures, Report
from plan_tracker.reports.templating import history_runs

PERCENT = "0.0%"
DATE = "yyyy-mm-dd"
_HEADER_FILL = PatternFill("solid", fgColor="F3F5F8")
_BOLD = Font(bold=True)
_TITLE = Font(bold=True, size=14)


def _width(value: Any) -> int:
    text = "" if value is None else str(value)
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def write_table(ws: Worksheet, headers: Sequence[str], rows: Sequence[Sequence[Any]], *,
                start_row: int = 1, formats: dict[int, str] | None = None) -> None:
    """A header row and data rows from `start_row`; `formats` maps column index to a number format."""
    formats = formats or {}
    widths = [_width(h) for h in headers]
    for col, header in enumerate(headers, start=1):
        cell = put(ws.cell(row=start_row, column=col), header)
        cell.font, cell.fill = _BOLD, _HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for r, row in enumerate(rows, start=start_row + 1):
        for col, value in enumerate(row, start=1):
            cell = put(ws.cell(row=r, column=col), value)
            if col - 1 in formats and value is not None:
                cell.number_format = formats[col - 1]
            elif isinstance(value, dt.date):
                cell.number_format = DATE
            widths[col - 1] = max(widths[col - 1], min(_width(value) if isinstance(value, str) else 10, 60))
    for col, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(col)].width = max(8, min(width + 2, 62))
    ws.freeze_panes = ws.cell(row=start_row + 1, column=2)
    if rows:
        ws.auto_filter.ref = f"A{start_row}:{get_column_letter(len(headers))}{start_row + len(rows)}"


def title_rows(ws: Worksheet, lines: Sequence[str]) -> int:
    """Title lines at the top of a sheet; returns the next free row."""
    for i, line in enumerate(lines, start=1):
        cell = put(ws.cell(row=i, column=1), line)
        if i == 1:
            cell.font = _TITLE
    return len(lines) + 2


def new_workbook(report_date: dt.date, title: str) -> Workbook:
    wb = Workbook()
    wb.properties.creator = "plan-tracker"
    wb.properties.title = title[:200]
    wb.properties.created = dt.datetime.combine(report_date, dt.time())
    return wb


def to_bytes(wb: Workbook) -> bytes:
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def render_xlsx(report: Report) -> bytes:
    L = labels(report.locale)
    wb = new_workbook(report.as_of, report.plan_title)
    _summary_sheet(wb.active, report, L)
    _group_sheet(wb.create_sheet(L["by_section"][:31]), report.sections, L["section"], L)
    _group_sheet(wb.create_sheet(L["by_task"][:31]), report.tasks, L["task"], L)
    _unit_sheet(wb.create_sheet(_sheet_name(L["score"], L["unit"], report.locale)), report, L)
    _indicator_sheet(wb.create_sheet(L["indicators"][:31]), report, L)
    _overdue_sheet(wb.create_sheet(L["overdue_items"][:31]), report, L)
    _notice_sheet(wb.create_sheet(L["notice"][:31]), report, L)
    return to_bytes(wb)


def _sheet_name(a: str, b: str, locale: str) -> str:
    return (f"{b} {a}" if locale == "en" else f"{b}{a}")[:31]


def _summary_sheet(ws: Worksheet, report: Report, L: dict[str, Any]) -> None:
    ws.title = L["summary"][:31]
    s = report.summary
    row = title_rows(ws, [f"{report.plan_title} — {L['report_title']}",
                          f"{L['as_of']} {report.as_of.isoformat()} · {L['issued_by']} {report.coordinator_name}"])
    figures: list[tuple[str, Any, str | None]] = [
        (L["total"], s.total, None),
        (L["expected"], s.reporting.expected, None),
        (L["received"], s.reporting.received, None),
        (L["on_time_reports"], s.reporting.on_time, None),
        (L["completion_rate"], s.reporting.completion_rate, PERCENT),
        (L["on_time_rate"], s.reporting.on_time_rate, PERCENT),
        (L["reporting_rate"], s.reporting.reporting_rate, PERCENT),
        (L["timeliness"], s.reporting.timeliness, PERCENT),
        (L["overdue_wd"], s.overdue_wd, None),
    ]
    figures += [(L["lights"][light], s.lights[light], None) for light in LIGHTS]
    figures += [(f"{L['reminders']} · {lv.wording}", s.reminders.get(lv.level, 0), None) for lv in report.levels]
    if s.change is not None and s.since is not None:
        figures += [(f"{L['change']} · {L['lights'][light]}（{s.since.isoformat()}）", s.change[light], "+0;-0;0")
                    for light in LIGHTS]
    write_table(ws, ["", ""], [(name, value) for name, value, _ in figures], start_row=row)
    for offset, (_, value, fmt) in enumerate(figures, start=row + 1):
        if fmt and value is not None:
            ws.cell(row=offset, column=2).number_format = fmt
    ws.freeze_panes = None
    put(ws.cell(row=row + len(figures) + 2, column=1), L["definitions"])


def _group_sheet(ws: Worksheet, groups: list[GroupFigures], heading: str, L: dict[str, Any]) -> None:
    headers = [heading, *[L["lights"][light] for light in LIGHTS], L["progress"], L["expected"],
               L["received"], L["completion_rate"], L["on_time_rate"], L["reporting_rate"],
               L["overdue_items"], L["overdue_wd"]]
    rows = [
        [g.title, *[g.lights[light] for light in LIGHTS],
         None if g.progress is None else g.progress / 100, g.reporting.expected, g.reporting.received,
         g.reporting.completion_rate, g.reporting.on_time_rate, g.reporting.reporting_rate,
         g.overdue, g.overdue_wd]
        for g in groups
    ]
    n = len(LIGHTS)
    write_table(ws, headers, rows, formats={n + 1: PERCENT, n + 4: PERCENT, n + 5: PERCENT, n + 6: PERCENT})


def _unit_sheet(ws: Worksheet, report: Report, L: dict[str, Any]) -> None:
    headers = [L["unit"], L["expected"], L["received"], L["on_time_reports"], L["reporting_rate"],
               L["timeliness"], L["overdue_items"], L["overdue_wd"], L["max_overdue_wd"],
               *[lv.wording for lv in report.levels], L["late_open"], L["done_late"], L["score"], L["deductions"]]
    rows = [
        [u.name, u.reporting.expected, u.reporting.received, u.reporting.on_time,
         u.reporting.reporting_rate, u.reporting.timeliness, u.overdue, u.overdue_wd, u.max_overdue_wd,
         *[u.reminders.get(lv.level, 0) for lv in report.levels], u.late_open, u.done_late, u.score,
         "；".join(f"{_deduction_name(k, report, L)} {v:g}" for k, v in u.deductions.items())]
        for u in report.units
    ]
    write_table(ws, headers, rows, formats={4: PERCENT, 5: PERCENT})


def _deduction_name(key: str, report: Report, L: dict[str, Any]) -> str:
    if key == "overdue":
        return L["late_open"]
    if key == "done_late":
        return L["done_late"]
    level = report.level(key)
    return level.wording if level else key


def _indicator_sheet(ws: Worksheet, report: Report, L: dict[str, Any]) -> None:
    headers = [L["task"], L["indicator"], "", L["target"], L["reported"], L["actual"], L["sum"],
               L["met"], L["gap"], L["trend_word"], L["period"]]
    rows = [
        [i.task_title, i.name, i.unit, i.target, i.reported, i.mean, i.total, i.met, i.gap,
         L["trend"][i.trend], "；".join(f"{p.period}: {p.mean:g}" for p in i.points if p.mean is not None)]
        for i in report.indicators
    ]
    write_table(ws, headers, rows)
    for r, ind in enumerate(report.indicators, start=2):
        if ind.target is not None:
            ws.cell(row=r, column=4).number_format = ('"≥"' if ind.direction == "at_least" else '"≤"') + "0.##"


def _overdue_sheet(ws: Worksheet, report: Report, L: dict[str, Any]) -> None:
    headers = [L["task"], L["unit"], L["period"], L["due"], L["original_due"], L["overdue_wd"],
               L["status_word"], L["last_report"], L["reminder_history"]]
    rows = [
        [o.task_title, o.unit_name, period_text(o.period, report.locale), o.due, o.original_due, o.overdue_wd,
         L["status"].get(o.status, o.status) if o.status else None, o.last_report_on,
         "；".join(f"{r.first.isoformat()} {r.wording}" + (f" ×{r.count}" if r.count > 1 else "")
                  for r in history_runs(o.reminders))]
        for o in report.overdue
    ]
    write_table(ws, headers, rows)
    if report.overdue_total > len(report.overdue):
        put(ws.cell(row=len(rows) + 3, column=1),
            L["showing"].format(first=report.overdue_offset + 1,
                                last=report.overdue_offset + len(report.overdue), total=report.overdue_total))


def _notice_sheet(ws: Worksheet, report: Report, L: dict[str, Any]) -> None:
    headers = [L["unit"], L["task"], L["period"], L["original_due"], L["due"], L["overdue_wd"],
               L["first_notified"], L["times"]]
    rows = [
        [u.unit_name, i.task_title, period_text(i.period, report.locale), i.original_due, i.due,
         i.overdue_wd, i.first_notified, i.times]
        for u in report.notice.units for i in u.items
    ]
    write_table(ws, headers, rows)
    if not rows:
        put(ws.cell(row=3, column=1), L["notice_none"])

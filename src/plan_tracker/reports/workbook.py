"""The report as an XLSX workbook (XlsxWriter): one sheet per part of the report.

Every cell is written through `plan_tracker.inbox.form_xlsx.write_cell`, so text from units
and plans (names, titles, notes) is stored as text, never as a formula: a value beginning with
= + - @ tab CR or NUL gets a leading apostrophe (`inbox.safety.safe_value`), and the shared
strings are written as text even when shaped like XlsxWriter's rich-text XML. Rates are
numbers formatted as percentages, dates are dates: coordinators sort and filter them.

The workbook is written in memory, so its zip entries carry XlsxWriter's fixed 1980-01-01,
and its document properties are dated with the report's as-of date, never the clock: the same
report is the same bytes, and a re-run of a night rewrites the same file. openpyxl wrote it
before; XlsxWriter writes a province's report in about half the time, and a night that writes
it no longer imports openpyxl (which now only reads the forms units send back). Not in
`constant_memory` mode: XlsxWriter turns it off in memory, and it was slower here (temporary
files, inline strings) for sheets of a few thousand rows at most.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.packager import Packager
from xlsxwriter.worksheet import Worksheet

from plan_tracker.inbox.form_xlsx import PIXELS_PER_CHARACTER, RowsSheet, TextStrings, write_cell
from plan_tracker.reports.labels import labels, period_text
from plan_tracker.reports.model import LIGHTS, GroupFigures, Report
from plan_tracker.reports.templating import history_runs

PERCENT = "0.0%"
DATE = "yyyy-mm-dd"
SIGNED = "+0;-0;0"
_HEADER = {"bold": True, "pattern": 1, "fg_color": "#F3F5F8", "align": "center", "valign": "vcenter",
           "text_wrap": True}
_TITLE = {"bold": True, "font_size": 14}


@dataclass(frozen=True)
class Formatted:
    """A value shown in a number format of its own (a summary rate, an indicator's target)."""

    value: Any
    number_format: str


def _width(value: Any) -> int:
    text = "" if value is None else str(value)
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


class _TextPackager(Packager):
    """XlsxWriter's packager, writing the shared strings as text (see `TextStrings`).

    `Workbook._get_packager` is XlsxWriter's place to put another packager; this one replaces
    `_write_shared_strings_file` with the same steps and `TextStrings` (XlsxWriter is pinned in
    requirements.lock; tests/reports/test_renderings.py reads such strings back unchanged)."""

    def _write_shared_strings_file(self) -> None:
        if not self.workbook.str_table.count:
            return
        strings = TextStrings()
        strings.string_table = self.workbook.str_table
        strings._set_xml_writer(self._filename("xl/sharedStrings.xml"))
        strings._assemble_xml_file()


class _Workbook(xlsxwriter.Workbook):
    def _get_packager(self) -> Packager:
        return _TextPackager()


class ReportWorkbook:
    """A workbook written in memory: sheets are added, then `bytes` closes it."""

    def __init__(self, report_date: dt.date, title: str) -> None:
        self._out = io.BytesIO()
        self._book = _Workbook(self._out, {"in_memory": True})
        self._book.set_properties({"author": "plan-tracker", "title": title[:200],
                                   "created": dt.datetime.combine(report_date, dt.time())})
        self._styles: dict[str, Format] = {}

    SHEET_CLASS: type[Worksheet] = RowsSheet  # XlsxWriter's sheet, its rows written faster

    def sheet(self, name: str) -> ReportSheet:
        return ReportSheet(self._book.add_worksheet(name[:31], worksheet_class=self.SHEET_CLASS), self)

    def style(self, name: str) -> Format:
        """The format `header`, `title`, or else the number format `name`; made once a workbook."""
        if name not in self._styles:
            spec = {"header": _HEADER, "title": _TITLE}.get(name, {"num_format": name})
            self._styles[name] = self._book.add_format(spec)
        return self._styles[name]

    def bytes(self) -> bytes:
        self._book.close()
        return self._out.getvalue()


class ReportSheet:
    """One sheet of a report workbook; rows and columns are counted from 1, as Excel shows them."""

    def __init__(self, worksheet: Worksheet, book: ReportWorkbook) -> None:
        self._sheet = worksheet
        self._book = book

    def put(self, row: int, column: int, value: Any, style: str | None = None) -> None:
        """One cell; empty text is an empty cell (a blank header, the notice's spacing line)."""
        write_cell(self._sheet, row - 1, column - 1, None if value == "" else value,
                   None if style is None else self._book.style(style))

    def title_rows(self, lines: Sequence[str]) -> int:
        """Title lines at the top of the sheet (the first one large); returns the next free row."""
        for row, line in enumerate(lines, start=1):
            self.put(row, 1, line, "title" if row == 1 else None)
        return len(lines) + 2

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[Any]], *, start_row: int = 1,
              formats: dict[int, str] | None = None, frozen: bool = True) -> None:
        """A header row and data rows from `start_row`, filtered; `formats` maps a column index
        (from 0) to the number format of its values. With `frozen`, the header row and the
        first column stay in view."""
        formats = formats or {}
        widths = [_width(h) for h in headers]
        for column, header in enumerate(headers, start=1):
            self.put(start_row, column, header, "header")
        for row, values in enumerate(rows, start=start_row + 1):
            for index, value in enumerate(values):
                self.put(row, index + 1, *_with_format(value, formats.get(index)))
                widths[index] = max(widths[index], min(_width(value) if isinstance(value, str) else 10, 60))
        for index, width in enumerate(widths):
            # stored as counted, as openpyxl stored them: XlsxWriter's `set_column` would add Excel's cell padding
            self._sheet.set_column_pixels(index, index, max(8, min(width + 2, 62)) * PIXELS_PER_CHARACTER)
        if frozen:
            self._sheet.freeze_panes(start_row, 1)
        if rows:
            self._sheet.autofilter(start_row - 1, 0, start_row - 1 + len(rows), len(headers) - 1)


def _with_format(value: Any, column_format: str | None) -> tuple[Any, str | None]:
    """A cell's value and number format: its own, else its column's, else a date's."""
    if isinstance(value, Formatted):
        return value.value, value.number_format
    if column_format is not None and value is not None:
        return value, column_format
    return value, DATE if isinstance(value, dt.date) else None


def render_xlsx(report: Report) -> bytes:
    L = labels(report.locale)
    book = ReportWorkbook(report.as_of, report.plan_title)
    _summary_sheet(book.sheet(L["summary"]), report, L)
    _group_sheet(book.sheet(L["by_section"]), report.sections, L["section"], L)
    _group_sheet(book.sheet(L["by_task"]), report.tasks, L["task"], L)
    _unit_sheet(book.sheet(_sheet_name(L["score"], L["unit"], report.locale)), report, L)
    _indicator_sheet(book.sheet(L["indicators"]), report, L)
    _overdue_sheet(book.sheet(L["overdue_items"]), report, L)
    _notice_sheet(book.sheet(L["notice"]), report, L)
    return book.bytes()


def _sheet_name(a: str, b: str, locale: str) -> str:
    return f"{b} {a}" if locale == "en" else f"{b}{a}"


def _summary_sheet(sheet: ReportSheet, report: Report, L: dict[str, Any]) -> None:
    s = report.summary
    row = sheet.title_rows([f"{report.plan_title} — {L['report_title']}",
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
        figures += [(f"{L['change']} · {L['lights'][light]}（{s.since.isoformat()}）", s.change[light], SIGNED)
                    for light in LIGHTS]
    sheet.table(["", ""], [(name, value if fmt is None or value is None else Formatted(value, fmt))
                           for name, value, fmt in figures], start_row=row, frozen=False)
    sheet.put(row + len(figures) + 2, 1, L["definitions"])


def _group_sheet(sheet: ReportSheet, groups: list[GroupFigures], heading: str, L: dict[str, Any]) -> None:
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
    sheet.table(headers, rows, formats={n + 1: PERCENT, n + 4: PERCENT, n + 5: PERCENT, n + 6: PERCENT})


def _unit_sheet(sheet: ReportSheet, report: Report, L: dict[str, Any]) -> None:
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
    sheet.table(headers, rows, formats={4: PERCENT, 5: PERCENT})


def _deduction_name(key: str, report: Report, L: dict[str, Any]) -> str:
    if key == "overdue":
        return L["late_open"]
    if key == "done_late":
        return L["done_late"]
    level = report.level(key)
    return level.wording if level else key


def _indicator_sheet(sheet: ReportSheet, report: Report, L: dict[str, Any]) -> None:
    headers = [L["task"], L["indicator"], "", L["target"], L["reported"], L["actual"], L["sum"],
               L["met"], L["gap"], L["trend_word"], L["period"]]
    rows = [
        [i.task_title, i.name, i.unit,
         None if i.target is None else Formatted(i.target, ('"≥"' if i.direction == "at_least" else '"≤"') + "0.##"),
         i.reported, i.mean, i.total, i.met, i.gap,
         L["trend"][i.trend], "；".join(f"{p.period}: {p.mean:g}" for p in i.points if p.mean is not None)]
        for i in report.indicators
    ]
    sheet.table(headers, rows)


def _overdue_sheet(sheet: ReportSheet, report: Report, L: dict[str, Any]) -> None:
    headers = [L["task"], L["unit"], L["period"], L["due"], L["original_due"], L["overdue_wd"],
               L["status_word"], L["last_report"], L["reminder_history"]]
    rows = [
        [o.task_title, o.unit_name, period_text(o.period, report.locale), o.due, o.original_due, o.overdue_wd,
         L["status"].get(o.status, o.status) if o.status else None, o.last_report_on,
         "；".join(f"{r.first.isoformat()} {r.wording}" + (f" ×{r.count}" if r.count > 1 else "")
                  for r in history_runs(o.reminders))]
        for o in report.overdue
    ]
    sheet.table(headers, rows)
    if report.overdue_total > len(report.overdue):
        sheet.put(len(rows) + 3, 1, L["showing"].format(first=report.overdue_offset + 1,
                                                        last=report.overdue_offset + len(report.overdue),
                                                        total=report.overdue_total))


def _notice_sheet(sheet: ReportSheet, report: Report, L: dict[str, Any]) -> None:
    headers = [L["unit"], L["task"], L["period"], L["original_due"], L["due"], L["overdue_wd"],
               L["first_notified"], L["times"]]
    rows = [
        [u.unit_name, i.task_title, period_text(i.period, report.locale), i.original_due, i.due,
         i.overdue_wd, i.first_notified, i.times]
        for u in report.notice.units for i in u.items
    ]
    sheet.table(headers, rows)
    if not rows:
        sheet.put(3, 1, L["notice_none"])

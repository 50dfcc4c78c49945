"""The report form's XLSX, written with XlsxWriter: the same workbook `template` describes.

Every unit contact's reminder carries one, so a province's first night makes hundreds.
openpyxl makes a cell object and a style object per cell (about 9 ms a form); XlsxWriter
writes rows straight out, and each kind of cell here has one format, made once per workbook.

The bytes depend only on what the form says: in memory, XlsxWriter dates every zip entry
1980-01-01, and the document properties are dated with the form's `today`, never the clock.
What the file holds is checked against openpyxl's reading of it (tests/inbox/test_form_xlsx.py,
against the openpyxl builder it replaced).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from plan_tracker.inbox.columns import LIGHT_COLOURS
from plan_tracker.inbox.safety import safe_value

PIXELS_PER_CHARACTER = 7  # Calibri 11's digit width, in which the widths are counted


class Kind(Enum):
    """The kinds of cell the form has, each one XlsxWriter format."""

    DEFAULT = "default"
    TITLE = "title"
    BOLD = "bold"
    HEADER = "header"
    DATE = "date"
    FILL_IN = "fill_in"
    FILL_IN_WRAP = "fill_in_wrap"
    FILL_IN_DATE = "fill_in_date"
    OPEN = "open"
    GREYED = "greyed"
    RED = "red"
    YELLOW = "yellow"
    GREEN = "green"
    PENDING = "pending"


def _solid(rgb: str) -> dict[str, Any]:
    return {"pattern": 1, "fg_color": f"#{rgb}"}


_DATE = {"num_format": "yyyy-mm-dd"}
_FILL_IN = {**_solid("FFFFFF"), "locked": False}
FORMATS: dict[Kind, dict[str, Any]] = {
    Kind.TITLE: {"bold": True, "font_size": 14},
    Kind.BOLD: {"bold": True},
    Kind.HEADER: {"bold": True, **_solid("DDEBF7"), "align": "center", "valign": "vcenter", "text_wrap": True},
    Kind.DATE: _DATE,
    Kind.FILL_IN: _FILL_IN,
    Kind.FILL_IN_WRAP: {**_FILL_IN, "text_wrap": True, "valign": "top"},
    Kind.FILL_IN_DATE: {**_FILL_IN, **_DATE},
    Kind.OPEN: {"locked": False},
    Kind.GREYED: _solid("D9D9D9"),
    **{Kind(light): _solid(rgb) for light, rgb in LIGHT_COLOURS.items()},
}
LIGHT_KIND = {light: Kind(light) for light in LIGHT_COLOURS}

Cell = tuple[Any, Kind]  # (value or None, kind)


@dataclass(frozen=True)
class Validation:
    """One data-validation rule of the sheet, in XlsxWriter's terms (`maximum` only for
    `between`; `choices` only for a list)."""

    kind: str
    cells: str
    error_title: str
    error: str
    criteria: str = "between"
    value: str | None = None
    maximum: str | None = None
    choices: Sequence[str] = ()
    prompt_title: str | None = None
    prompt: str | None = None

    def options(self) -> dict[str, Any]:
        found: dict[str, Any] = {"validate": self.kind, "error_title": self.error_title, "error_message": self.error,
                                 "show_input": self.prompt is not None}
        if self.choices:
            found["source"] = list(self.choices)
        else:
            found |= {"criteria": self.criteria, "value": self.value}
            if self.maximum is not None:
                found["maximum"] = self.maximum
        if self.prompt_title is not None and self.prompt is not None:
            found |= {"input_title": self.prompt_title, "input_message": self.prompt}
        return found


class _Workbook(xlsxwriter.Workbook):
    """XlsxWriter's workbook with its structure locked (no sheet added, renamed or unhidden).

    XlsxWriter has no workbook protection and its author does not mean to add it
    (jmcnamara/libxlsxwriter#516), so the element is written where the schema puts it, right
    after `workbookPr`. tests/inbox/test_form_xlsx.py checks that openpyxl reads it."""

    def _write_workbook_pr(self) -> None:
        super()._write_workbook_pr()
        self._xml_empty_tag("workbookProtection", [("lockStructure", 1)])


class FormWriter:
    """One form's workbook in memory: sheets are added, then `bytes` closes it."""

    def __init__(self, day: dt.date, *, creator: str = "plan-tracker") -> None:
        self._out = io.BytesIO()
        # strings are never taken for formulas or links: a cell holds what it is given
        self._book = _Workbook(self._out, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
        self._book.set_properties({"author": creator, "created": dt.datetime(day.year, day.month, day.day)})
        self._formats: dict[Kind, Format] = {}

    def format(self, kind: Kind) -> Format | None:
        """The workbook's one format of `kind`, made on first use."""
        if kind is Kind.DEFAULT:
            return None
        if kind not in self._formats:
            self._formats[kind] = self._book.add_format(FORMATS[kind])
        return self._formats[kind]

    def sheet(self, name: str, rows: Sequence[Sequence[Cell]], *, widths: Sequence[int] = (),
              merged: Sequence[tuple[int, int, int, int]] = (), validations: Sequence[Validation] = (),
              frozen: tuple[int, int] | None = None, format_rows_and_columns: bool = False,
              hidden: bool = False) -> None:
        """A protected sheet of `rows` (row 1 first, column A first). `merged` holds (first row,
        first column, last row, last column), counted from 0 and starting at a written cell;
        `frozen` is the first unfrozen (row, column), counted from 1; with
        `format_rows_and_columns`, widths and heights stay editable."""
        sheet = self._book.add_worksheet(name)
        for c, width in enumerate(widths):
            # openpyxl's widths, as stored: XlsxWriter's `set_column` would add Excel's cell padding
            sheet.set_column_pixels(c, c, width * PIXELS_PER_CHARACTER)
        for r, row in enumerate(rows):
            for c, (value, kind) in enumerate(row):
                self._write(sheet, r, c, value, kind)
        for first_row, first_col, last_row, last_col in merged:
            value, kind = rows[first_row][first_col]
            sheet.merge_range(first_row, first_col, last_row, last_col, safe_value(value), self.format(kind))
        for validation in validations:
            sheet.data_validation(validation.cells, validation.options())
        if frozen is not None:
            sheet.freeze_panes(frozen[0] - 1, frozen[1] - 1)
        # objects and scenarios stay editable, as in Excel's and openpyxl's default protection
        sheet.protect("", {"objects": True, "scenarios": True, "format_columns": format_rows_and_columns,
                           "format_rows": format_rows_and_columns})
        if hidden:
            sheet.hide()

    def _write(self, sheet: Worksheet, r: int, c: int, value: Any, kind: Kind) -> None:
        """One cell: text as text (`safe_value` quotes what a spreadsheet would run), numbers and
        dates as numbers, an empty cell only for its format."""
        value = safe_value(value)
        style = self.format(kind)
        if value is None:
            sheet.write_blank(r, c, None, style)
        elif isinstance(value, str):
            sheet.write_string(r, c, value, style)
        elif isinstance(value, bool):
            sheet.write_boolean(r, c, value, style)
        elif isinstance(value, dt.datetime):
            raise TypeError("a form holds dates, not times")  # none of its cells is a moment
        elif isinstance(value, dt.date):
            sheet.write_datetime(r, c, value, style)
        elif isinstance(value, int | float):
            sheet.write_number(r, c, value, style)
        else:
            raise TypeError(f"no cell for {type(value).__name__}")

    def bytes(self) -> bytes:
        self._book.close()
        return self._out.getvalue()

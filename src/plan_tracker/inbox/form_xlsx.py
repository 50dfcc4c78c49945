"""The report form's XLSX: the same workbook `template` describes.

Every unit contact's reminder carries one, so a province's first night makes hundreds, and
a form must cost well under a millisecond. XlsxWriter took about 9 ms a form, most of it
writing again what every form shares. So XlsxWriter writes those parts once per day and set
of sheets (`_package`: the styles with every kind of cell, the theme, the workbook with its
structure locked, the document properties), and each form writes only its own parts — its
sheets and their shared strings — as XlsxWriter spells them, into a zip whose shared entries
are compressed once.

The bytes depend only on what the form says: every zip entry is dated 1980-01-01 (as
XlsxWriter does in memory), and the document properties are dated with the form's `today`,
never the clock. What the file holds is checked against openpyxl's reading of it
(tests/inbox/test_form_xlsx.py, against the openpyxl builder it replaced).
"""

from __future__ import annotations

import datetime as dt
import io
import re
import struct
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from functools import cache, lru_cache
from typing import Any

import xlsxwriter
from xlsxwriter.utility import xl_col_to_name

from plan_tracker.inbox.columns import LIGHT_COLOURS
from plan_tracker.inbox.safety import safe_value


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

    # members are singletons: identity hashing says the same as Enum's hash of the name, in
    # C (a form looks up a kind for each of its couple of hundred cells)
    __hash__ = object.__hash__


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




# XlsxWriter's names for what `Validation` says in its own terms
_VALIDATION_TYPES = {"integer": "whole", "length": "textLength"}
_CRITERIA = {"between": "between", "not between": "notBetween", "==": "equal", "!=": "notEqual",
             ">": "greaterThan", "<": "lessThan", ">=": "greaterThanOrEqual", "<=": "lessThanOrEqual"}


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

    def xml(self) -> str:
        """The `<dataValidation>` element, as XlsxWriter writes it."""
        attributes = [("type", _VALIDATION_TYPES.get(self.kind, self.kind))]
        if not self.choices and self.criteria != "between":
            attributes.append(("operator", _CRITERIA[self.criteria]))
        attributes.append(("allowBlank", "1"))
        if self.prompt is not None:
            attributes.append(("showInputMessage", "1"))
        attributes += [("showErrorMessage", "1"), ("errorTitle", self.error_title), ("error", self.error)]
        if self.prompt_title is not None and self.prompt is not None:
            attributes += [("promptTitle", self.prompt_title), ("prompt", self.prompt)]
        attributes.append(("sqref", self.cells))
        first = '"' + ",".join(self.choices) + '"' if self.choices else _formula(self.value)
        formulas = f"<formula1>{_text(first)}</formula1>"
        if not self.choices and self.maximum is not None:
            formulas += f"<formula2>{_text(_formula(self.maximum))}</formula2>"
        return f"<dataValidation {_attributes(attributes)}>{formulas}</dataValidation>"


@lru_cache(maxsize=1024)
def _validation(rule: Validation) -> str:
    # a plan's forms of as many rows have the same rules
    return rule.xml()


def _formula(value: str | None) -> str:
    text = "" if value is None else str(value)
    return text[1:] if text.startswith("=") else text


def _text(value: str) -> str:
    """Escaped as element text."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attributes(pairs: Sequence[tuple[str, str]]) -> str:
    return " ".join(f'{name}="{_text(value).replace(chr(34), "&quot;").replace(chr(10), "&#xA;")}"'
                    for name, value in pairs)


class _Workbook(xlsxwriter.Workbook):
    """XlsxWriter's workbook with its structure locked (no sheet added, renamed or unhidden).

    XlsxWriter has no workbook protection and its author does not mean to add it
    (jmcnamara/libxlsxwriter#516), so the element is written where the schema puts it, right
    after `workbookPr`. tests/inbox/test_form_xlsx.py checks that openpyxl reads it."""

    def _write_workbook_pr(self) -> None:
        super()._write_workbook_pr()
        self._xml_empty_tag("workbookProtection", [("lockStructure", 1)])


# -- the parts every form of a day shares -------------------------------------------------------
_XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_SHEET_OPEN = (f'{_XML_HEAD}<worksheet xmlns="{_MAIN_NS}" '
               'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">')
_PAGE_MARGINS = '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>'
_STRINGS = "xl/sharedStrings.xml"
_DOS_DAY = (1 << 5) | 1  # 1980-01-01, the zip format's first day, at 00:00
_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_END = struct.Struct("<IHHHHIIH")
_MADE_BY = (3 << 8) | 20  # on Unix, by zip 2.0, as Python's zipfile says
_MODE = 0o600 << 16  # what XlsxWriter gives its entries


@dataclass(frozen=True)
class _Entry:
    """A zip entry, compressed."""

    name: bytes
    crc: int
    size: int
    data: bytes


def _pack(name: str, data: bytes, level: int = zlib.Z_BEST_SPEED) -> _Entry:
    """Raw deflate with an 8 KiB window: setting up the default 32 KiB one costs more than
    compressing a form's sheet (a shared part is compressed once, at the best level)."""
    deflate = zlib.compressobj(level, zlib.DEFLATED, -13)
    return _Entry(name.encode(), zlib.crc32(data), len(data), deflate.compress(data) + deflate.flush())


def _zip(entries: Sequence[_Entry]) -> bytes:
    """A zip of deflated entries, every one dated 1980-01-01, as XlsxWriter writes in memory."""
    out: list[bytes] = []
    directory: list[bytes] = []
    offset = 0
    for e in entries:
        local = _LOCAL.pack(0x04034B50, 20, 0, zipfile.ZIP_DEFLATED, 0, _DOS_DAY, e.crc, len(e.data), e.size,
                            len(e.name), 0) + e.name
        directory.append(_CENTRAL.pack(0x02014B50, _MADE_BY, 20, 0, zipfile.ZIP_DEFLATED, 0, _DOS_DAY, e.crc,
                                       len(e.data), e.size, len(e.name), 0, 0, 0, 0, _MODE, offset) + e.name)
        out += (local, e.data)
        offset += len(local) + len(e.data)
    central = b"".join(directory)
    return b"".join(out) + central + _END.pack(0x06054B50, 0, 0, len(entries), len(entries), len(central), offset, 0)


@dataclass(frozen=True)
class _Package:
    """What every form of a day with these sheets shares: the zip's entries in XlsxWriter's
    order, compressed (a name where a form writes its own part), and each kind's style index."""

    entries: tuple[_Entry | str, ...]
    styles: dict[Kind, str]  # the `s` attribute of a cell of that kind, or nothing for the default


@lru_cache(maxsize=16)
def _package(day: dt.date, creator: str, sheets: tuple[tuple[str, bool], ...]) -> _Package:
    """XlsxWriter writes a workbook of these sheets (name, hidden) once, every kind of cell in
    it, so its styles hold them all; the sheets and the shared strings are each form's own."""
    out = io.BytesIO()
    book = _Workbook(out, {"in_memory": True})
    book.set_properties({"author": creator, "created": dt.datetime(day.year, day.month, day.day)})
    formats = {kind: book.add_format(spec) for kind, spec in FORMATS.items()}
    for n, (name, hidden) in enumerate(sheets):
        sheet = book.add_worksheet(name)
        sheet.write_string(0, 0, name)  # so that the package has its shared strings part
        if n == 0:
            for c, made in enumerate(formats.values(), start=1):
                sheet.write_blank(0, c, None, made)
        if hidden:
            sheet.hide()
    book.close()
    own = {_STRINGS} | {f"xl/worksheets/sheet{n}.xml" for n in range(1, len(sheets) + 1)}
    with zipfile.ZipFile(out) as written:
        entries = tuple(i.filename if i.filename in own else _pack(i.filename, written.read(i), zlib.Z_BEST_COMPRESSION)
                        for i in written.infolist())
    styles = {kind: f' s="{made.xf_index}"' for kind, made in formats.items()}
    return _Package(entries, {Kind.DEFAULT: "", **styles})


# -- each form's own parts ---------------------------------------------------------------------
_ESCAPE_LIKE = re.compile("(_x[0-9a-fA-F]{4}_)")
_CONTROL = re.compile(r"([\x00-\x08\x0b-\x1f])")
_EDGE_SPACE = re.compile(r"^\s|\s$")


class _SharedStrings:
    """The workbook's strings, numbered in order of first use."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.count = 0

    def of(self, text: str) -> int:
        self.count += 1
        return self.index.setdefault(text, len(self.index))

    def xml(self) -> str:
        return (f'{_XML_HEAD}<sst xmlns="{_MAIN_NS}" count="{self.count}" uniqueCount="{len(self.index)}">'
                + "".join(map(_si, self.index)) + "</sst>")


@lru_cache(maxsize=8192)
def _si(text: str) -> str:
    """One shared string as XlsxWriter writes it: control characters as `_xHHHH_` (and a
    literal `_xHHHH_` with its underscore escaped), edge whitespace preserved. Unlike
    XlsxWriter, text that looks like rich-text XML (`<r>…</r>`) is escaped too: a cell holds
    what it is given."""
    if "_x" in text:
        text = _ESCAPE_LIKE.sub(r"_x005F\1", text)
    if _CONTROL.search(text):
        text = _CONTROL.sub(lambda m: f"_x{ord(m.group(1)):04X}_", text)
    text = text.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")
    space = ' xml:space="preserve"' if _EDGE_SPACE.search(text) else ""
    return f"<si><t{space}>{_text(text)}</t></si>"


@cache
def _column(c: int) -> str:
    return str(xl_col_to_name(c))


def column_letter(number: int) -> str:
    """The letters of column `number`, counted from 1 (openpyxl's `get_column_letter`,
    without importing openpyxl, which costs a quarter of a second)."""
    return _column(number - 1)


_EPOCH = dt.date(1899, 12, 31)


def _serial(day: dt.date) -> int:
    """Excel's day number (1900 counted as a leap year, as Excel does)."""
    days = (day - _EPOCH).days
    return days + 1 if days > 59 else days


@dataclass
class _Sheet:
    """One sheet as `FormWriter.sheet` was given it (see there)."""

    name: str
    rows: Sequence[Sequence[Cell]]
    widths: Sequence[int] = ()
    merged: Sequence[tuple[int, int, int, int]] = ()
    validations: Sequence[Validation] = ()
    frozen: tuple[int, int] | None = None
    format_rows_and_columns: bool = False
    hidden: bool = False

    def cells(self) -> list[dict[int, Cell]]:
        """Row by row, column -> cell; a merged range's other cells blank in its first cell's
        format, as XlsxWriter's `merge_range` writes them."""
        grid = [dict(enumerate(row)) for row in self.rows]
        for first_row, first_col, last_row, last_col in self.merged:
            kind = grid[first_row][first_col][1]
            while len(grid) <= last_row:
                grid.append({})
            for r in range(first_row, last_row + 1):
                for c in range(first_col, last_col + 1):
                    if (r, c) != (first_row, first_col):
                        grid[r][c] = (None, kind)
        return grid

    def xml(self, styles: dict[Kind, str], strings: _SharedStrings, selected: bool) -> str:
        rows, dimension = self._rows(styles, strings)
        parts = [_SHEET_OPEN, f'<dimension ref="{dimension}"/>', self._view(selected),
                 '<sheetFormatPr defaultRowHeight="15"/>']
        if self.widths:
            parts.append("<cols>" + "".join(f'<col min="{c}" max="{c}" width="{width:.16g}" customWidth="1"/>'
                                            for c, width in enumerate(self.widths, start=1)) + "</cols>")
        parts += ["<sheetData>", *rows, "</sheetData>"]
        # objects and scenarios stay editable, as in Excel's and openpyxl's default protection
        editable = ' formatColumns="0" formatRows="0"' if self.format_rows_and_columns else ""
        parts.append(f'<sheetProtection sheet="1"{editable}/>')
        if self.merged:
            parts.append(f'<mergeCells count="{len(self.merged)}">' + "".join(
                f'<mergeCell ref="{_column(fc)}{fr + 1}:{_column(lc)}{lr + 1}"/>' for fr, fc, lr, lc in self.merged)
                + "</mergeCells>")
        if self.validations:
            parts.append(f'<dataValidations count="{len(self.validations)}">'
                         + "".join(map(_validation, self.validations)) + "</dataValidations>")
        parts += [_PAGE_MARGINS, "</worksheet>"]
        return "".join(parts)

    def _view(self, selected: bool) -> str:
        tab = ' tabSelected="1"' if selected else ""
        if self.frozen is None:
            return f'<sheetViews><sheetView{tab} workbookViewId="0"/></sheetViews>'
        row, col = self.frozen[0] - 1, self.frozen[1] - 1  # rows and columns frozen
        corner = f"{_column(col)}{row + 1}"
        if row and col:
            pane = (f'<pane xSplit="{col}" ySplit="{row}" topLeftCell="{corner}" activePane="bottomRight" '
                    f'state="frozen"/><selection pane="topRight" activeCell="{_column(col)}1" sqref="{_column(col)}1"/>'
                    f'<selection pane="bottomLeft" activeCell="A{row + 1}" sqref="A{row + 1}"/>'
                    '<selection pane="bottomRight"/>')
        elif col:
            pane = f'<pane xSplit="{col}" topLeftCell="{corner}" activePane="topRight" state="frozen"/><selection pane="topRight"/>'
        else:
            pane = f'<pane ySplit="{row}" topLeftCell="{corner}" activePane="bottomLeft" state="frozen"/><selection pane="bottomLeft"/>'
        return f'<sheetViews><sheetView{tab} workbookViewId="0">{pane}</sheetView></sheetViews>'

    def _rows(self, styles: dict[Kind, str], strings: _SharedStrings) -> tuple[list[str], str]:
        """The `<row>` elements and the dimension of the written cells (a blank cell without a
        format is not written, as in XlsxWriter)."""
        written: list[tuple[int, list[tuple[int, str]]]] = []
        merged_rows = {r for fr, _, lr, _ in self.merged for r in range(fr, lr + 1)}
        for r, row in enumerate(self.cells()):
            cells = _row_cells(str(r + 1), sorted(row.items()) if r in merged_rows else row.items(), styles, strings)
            if cells:
                written.append((r, cells))
        if not written:
            return [], "A1"
        spans: dict[int, tuple[int, int]] = {}  # per block of 16 rows, its first and last column
        for r, cells in written:
            low, high = spans.get(r // 16, (cells[0][0], cells[-1][0]))
            spans[r // 16] = (min(low, cells[0][0]), max(high, cells[-1][0]))
        rows = []
        for r, cells in written:
            low, high = spans[r // 16]
            rows.append(f'<row r="{r + 1}" spans="{low + 1}:{high + 1}">' + "".join(xml for _, xml in cells) + "</row>")
        first_col = min(low for low, _ in spans.values())
        last_col = max(high for _, high in spans.values())
        first, last = f"{_column(first_col)}{written[0][0] + 1}", f"{_column(last_col)}{written[-1][0] + 1}"
        return rows, first if first == last else f"{first}:{last}"


def _row_cells(number: str, row: Iterable[tuple[int, Cell]], styles: dict[Kind, str],
               strings: _SharedStrings) -> list[tuple[int, str]]:
    """A row's written cells, (column, `<c>`), in column order. Text and empty cells (most of
    a form) are written here, the rest by `_cell`."""
    cells = []
    for c, (value, kind) in row:
        s = styles[kind]
        if value is None:
            if s:  # an empty cell is written only for its format
                cells.append((c, f'<c r="{_column(c)}{number}"{s}/>'))
        elif isinstance(value, str):
            cells.append((c, f'<c r="{_column(c)}{number}"{s} t="s"><v>{strings.of(_safe_text(value))}</v></c>'))
        else:
            cells.append((c, _cell(_column(c) + number, value, s)))
    return cells


def _cell(ref: str, value: Any, s: str) -> str:
    """A cell that is not text: numbers and dates as numbers (`safe_value` passes them)."""
    value = safe_value(value)
    if isinstance(value, bool):
        return f'<c r="{ref}"{s} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, dt.datetime):
        raise TypeError("a form holds dates, not times")  # none of its cells is a moment
    if isinstance(value, dt.date):
        return f'<c r="{ref}"{s}><v>{_serial(value)}</v></c>'
    if isinstance(value, int | float):
        return f'<c r="{ref}"{s}><v>{value:.16g}</v></c>'
    raise TypeError(f"no cell for {type(value).__name__}")


@lru_cache(maxsize=8192)
def _safe_text(text: str) -> str:
    # the same headers, titles and labels come back in every form of a plan
    return str(safe_value(text))


class FormWriter:
    """One form's workbook in memory: sheets are added, then `bytes` writes it."""

    def __init__(self, day: dt.date, *, creator: str = "plan-tracker") -> None:
        self._day = day
        self._creator = creator
        self._sheets: list[_Sheet] = []

    def sheet(self, name: str, rows: Sequence[Sequence[Cell]], *, widths: Sequence[int] = (),
              merged: Sequence[tuple[int, int, int, int]] = (), validations: Sequence[Validation] = (),
              frozen: tuple[int, int] | None = None, format_rows_and_columns: bool = False,
              hidden: bool = False) -> None:
        """A protected sheet of `rows` (row 1 first, column A first). `widths` in characters;
        `merged` holds (first row, first column, last row, last column), counted from 0 and
        starting at a written cell; `frozen` is the first unfrozen (row, column), counted from
        1; with `format_rows_and_columns`, widths and heights stay editable."""
        self._sheets.append(_Sheet(name, rows, widths, merged, validations, frozen, format_rows_and_columns, hidden))

    def bytes(self) -> bytes:
        package = _package(self._day, self._creator, tuple((s.name, s.hidden) for s in self._sheets))
        strings = _SharedStrings()
        own = {f"xl/worksheets/sheet{n}.xml": sheet.xml(package.styles, strings, selected=n == 1)
               for n, sheet in enumerate(self._sheets, start=1)}
        own[_STRINGS] = strings.xml()
        return _zip([_pack(e, own[e].encode()) if isinstance(e, str) else e for e in package.entries])

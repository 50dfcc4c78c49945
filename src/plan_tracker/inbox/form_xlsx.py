"""The report form's XLSX: the same workbook `template` describes.

Every unit contact's reminder carries one, so a province's first night makes hundreds. A whole
XlsxWriter workbook per form writes again, each time, what every form shares. So XlsxWriter
writes those parts once per day and set of sheets (`_package`: the styles with every kind of
cell, the theme, the workbook with its structure locked, the document properties), zipped
once; each form has only its own parts written — its sheets and their shared strings — and
`zipfile` adds them to a copy of the day's zip. A sheet's XML around its rows is the same for
every form of a day with as many items: XlsxWriter writes the first sheet of each shape
through its public worksheet API (`_Parts`), and what surrounds its rows is kept as that
shape's skeleton once the rows written here for the same cells are found byte for byte
XlsxWriter's (`_sheet_xml`); later sheets of the shape are their rows (`_rows_xml`) in the
skeleton. The shared strings' elements are kept by string (`TextStrings`). (About 0.5 ms a
form on the bench machine, against 1.1 ms with XlsxWriter writing every sheet.)

The bytes depend only on what the form says: every zip entry is dated 1980-01-01 (as
XlsxWriter does in memory), and the document properties are dated with the form's `today`,
never the clock. What the file holds is checked against openpyxl's reading of it
(tests/inbox/test_form_xlsx.py, against the openpyxl builder it replaced), and the form's own
parts against what an XlsxWriter workbook writes for the same sheets.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import cache, lru_cache
from typing import Any, ClassVar

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.sharedstrings import SharedStrings, SharedStringTable
from xlsxwriter.utility import _datetime_to_excel_datetime, xl_col_to_name
from xlsxwriter.worksheet import Worksheet

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
PIXELS_PER_CHARACTER = 7  # Calibri 11's digit width, in which the widths are counted


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
        """XlsxWriter's `data_validation` options (a new dict: XlsxWriter changes the one it is given)."""
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


# -- XlsxWriter's part writers, one part at a time ----------------------------------------------
class TextStrings(SharedStrings):
    """The shared strings, each written as text: XlsxWriter writes a string shaped like
    `<r>…</r>` as a rich string's XML, so a task titled that way read back changed, and one
    that is not well-formed XML broke the workbook. (Such a string has no edge whitespace, so
    it needs no other attribute.) The report workbook writes its strings with it too."""

    def _xml_rich_si_element(self, string: str) -> None:
        self._xml_si_element(string)

    def _write_sst_strings(self) -> None:
        """Each string's element as `_write_si` writes it, kept by string: a plan's forms
        share most of their strings (headers, labels, task titles, periods), and each took
        two regular-expression passes and an escape every time."""
        self.fh.write("".join(map(_si_element, self.string_table.string_array)))


@lru_cache(maxsize=16384)
def _si_element(string: str) -> str:
    part = TextStrings()
    out = io.StringIO()
    part._set_xml_writer(out)
    part._write_si(string)
    return out.getvalue()


class _Parts:
    """XlsxWriter writing a form's own parts — its sheets and their shared strings — without
    a workbook per form (one costs about 9 ms, most of it the parts every form shares): what
    `Workbook.add_worksheet` and `Workbook.close` (its `Packager`) do, one part at a time.

    The one place that uses XlsxWriter's private API (XlsxWriter is pinned in
    requirements.lock): a sheet is initialised (`Worksheet._initialize`) with the settings the
    day's workbook gave its own sheets (kept by `KeepsSettings`), each part is written with
    `_set_xml_writer` and `_assemble_xml_file`, the string table put in order with
    `_sort_string_data`, `TextStrings` overrides `_xml_rich_si_element` and
    `_write_sst_strings` (keeping `_write_si`'s output), `RowsSheet` `_write_rows`, and
    `_sheet_xml` reads `SharedStringTable`'s fields and a sheet's `dim_*`.
    tests/inbox/test_form_xlsx.py holds these parts equal to what XlsxWriter's `Workbook`
    writes for the same sheets, so an XlsxWriter whose internals work otherwise fails there."""

    class KeepsSettings(Worksheet):
        """The day's workbook's sheet, keeping the settings the workbook gave it."""

        settings: dict[str, Any]

        def _initialize(self, init_data: dict[str, Any]) -> None:
            super()._initialize(init_data)
            self.settings = init_data

    def __init__(self, settings: dict[str, Any]) -> None:
        self._settings = settings
        self.strings = SharedStringTable()  # the form's, shared by its sheets

    def sheet(self, name: str, index: int) -> Worksheet:
        """A new sheet, as `Workbook.add_worksheet` would make it the `index`th (from 0)."""
        sheet = _FormSheet()
        sheet._initialize({**self._settings, "name": name, "index": index, "str_table": self.strings})
        return sheet

    @staticmethod
    def xml(part: Worksheet | SharedStrings) -> bytes:
        out = io.StringIO()
        part._set_xml_writer(out)
        part._assemble_xml_file()
        return out.getvalue().encode()

    def strings_xml(self) -> bytes:
        """The shared strings part, once every sheet is written."""
        self.strings._sort_string_data()  # what Workbook.close does before packaging
        part = TextStrings()
        part.string_table = self.strings
        return self.xml(part)


class RowsSheet(Worksheet):
    """XlsxWriter's worksheet writing its rows' XML one string per row, for what forms and
    report workbooks hold (text, numbers, dates, booleans and blank cells; no row settings,
    no comments): its element-by-element writer was a third of a form's time. Any other
    cell, and a sheet with row settings or comments, is written by XlsxWriter itself
    (`_write_rows` and `_write_cell` are private API; tests/inbox/test_form_xlsx.py and
    tests/reports/test_renderings.py hold the bytes equal to XlsxWriter's own sheet's)."""

    def _write_rows(self) -> None:
        """The sheet's rows, as XlsxWriter's own `_write_rows` writes them (see the class)."""
        if self.row_info or self.comments or self.constant_memory or self.excel_version != 2007 \
                or self.default_row_height != self.original_row_height:
            super()._write_rows()
            return
        cells: dict[int, dict[int, str]] = {}
        for row_num, row in self.table.items():
            if not row:
                continue
            line = cells[row_num] = {}
            for col_num, cell in row.items():
                fragment = self._stored_cell(row_num, col_num, cell)
                if fragment is None:  # any other kind of cell (a formula, a rich string): XlsxWriter writes them
                    super()._write_rows()
                    return
                line[col_num] = fragment
        self.fh.write(_rows_xml(cells))

    def _stored_cell(self, row_num: int, col_num: int, cell: Any) -> str | None:
        style = cell.format
        if not style and col_num in self.col_info:
            style = self.col_info[col_num].column_format
        kind = type(cell).__name__
        if kind in ("Number", "Datetime"):
            return _cell_xml(row_num, col_num, style, NUMBER, cell.number)
        if kind == "String":
            return _cell_xml(row_num, col_num, style, STRING, cell.string)
        if kind == "Blank":
            return _cell_xml(row_num, col_num, style, BLANK, None)
        if kind == "Boolean":
            return _cell_xml(row_num, col_num, style, BOOLEAN, cell.boolean)
        return None


NUMBER, STRING, BLANK, BOOLEAN = "n", "s", "", "b"
ROW_BLOCK = 16  # rows that share one `spans` attribute, as XlsxWriter counts them


def _cell_xml(row_num: int, col_num: int, style: Format | None, kind: str, value: Any) -> str:
    """One `<c>` element as XlsxWriter writes a stored cell of that kind."""
    ref = f"{_column(col_num)}{row_num + 1}"
    styled = f' s="{style._get_xf_index()}"' if style else ""
    if kind == NUMBER:
        return f'<c r="{ref}"{styled}><v>{value:.16G}</v></c>'
    if kind == STRING:
        return f'<c r="{ref}"{styled} t="s"><v>{value}</v></c>'
    if kind == BOOLEAN:
        return f'<c r="{ref}"{styled} t="b"><v>{value}</v></c>'
    return f'<c r="{ref}"{styled}/>'


def _rows_xml(cells: dict[int, dict[int, str]]) -> str:
    """The `<row>` elements of `cells` (row -> column -> its `<c>`), each row with the span of
    columns its block of ROW_BLOCK rows uses, as XlsxWriter's `_calculate_spans` gives it."""
    spans: dict[int, tuple[int, int]] = {}
    for row_num, line in cells.items():
        block, low, high = row_num // ROW_BLOCK, min(line), max(line)
        if block in spans:
            low, high = min(low, spans[block][0]), max(high, spans[block][1])
        spans[block] = (low, high)
    out = []
    for row_num in sorted(cells):
        line = cells[row_num]
        low, high = spans[row_num // ROW_BLOCK]
        out.append(f'<row r="{row_num + 1}" spans="{low + 1}:{high + 1}">')
        out += [line[col_num] for col_num in sorted(line)]
        out.append("</row>")
    return "".join(out)


class _FormSheet(RowsSheet):
    """A form's sheet, its formulas prepared once a process.

    XlsxWriter prepares every formula of a data validation (a form's date rule,
    `DATE(2018,1,1)`) with some 300 regular-expression substitutions, one per newer Excel
    function it might name: a sixth of a form's time, for the same one or two formulas in
    every form of a plan. The result depends only on the formula and whether future functions
    are expanded, so it is kept (`_prepare_formula` is private API, like `_Parts`';
    tests/inbox/test_form_xlsx.py holds the kept result to XlsxWriter's own)."""

    _prepared: ClassVar[dict[tuple[str, bool], str]] = {}
    _KEEP = 256  # distinct formulas kept: a plan's forms use one or two

    def _prepare_formula(self, formula: str, expand_future_functions: bool = False) -> str:
        key = (formula, expand_future_functions or self.use_future_functions)
        prepared = self._prepared.get(key)
        if prepared is None:
            prepared = str(super()._prepare_formula(formula, expand_future_functions))
            if len(self._prepared) < self._KEEP:
                self._prepared[key] = prepared
        return prepared


# -- the parts every form of a day shares -------------------------------------------------------
_STRINGS = "xl/sharedStrings.xml"
_ZIP_DAY = (1980, 1, 1, 0, 0, 0)  # as XlsxWriter dates its entries in memory


@dataclass(frozen=True)
class _Package:
    """What every form of a day with these sheets shares: a zip of the shared parts, compressed
    once, to which a form adds its own; the format of each kind of cell (indexed as in the
    shared styles); and the settings XlsxWriter gave the sheets."""

    shared: bytes
    formats: dict[Kind, Format | None]
    settings: dict[str, Any]
    skeletons: dict[tuple[Any, ...], tuple[str, str]] = field(default_factory=dict, compare=False)  # `_sheet_xml`


@lru_cache(maxsize=16)
def _package(day: dt.date, creator: str, sheets: tuple[tuple[str, bool], ...]) -> _Package:
    """XlsxWriter writes a workbook of these sheets (name, hidden) once, every kind of cell in
    it, so its styles hold them all; the sheets and the shared strings are each form's own."""
    out = io.BytesIO()
    # strings are never taken for formulas or links: a cell holds what it is given
    book = _Workbook(out, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    book.set_properties({"author": creator, "created": dt.datetime(day.year, day.month, day.day)})
    formats = {kind: book.add_format(spec) for kind, spec in FORMATS.items()}
    written: list[_Parts.KeepsSettings] = []
    for n, (name, hidden) in enumerate(sheets):
        sheet = book.add_worksheet(name, worksheet_class=_Parts.KeepsSettings)
        sheet.write_string(0, 0, name)  # so that the package has its shared strings part
        if n == 0:
            for c, made in enumerate(formats.values(), start=1):
                sheet.write_blank(0, c, None, made)
        if hidden:
            sheet.hide()
        written.append(sheet)
    book.close()
    own = {_STRINGS} | {f"xl/worksheets/sheet{n}.xml" for n in range(1, len(sheets) + 1)}
    shared = io.BytesIO()  # compressed once a day, so at the best level
    with zipfile.ZipFile(out) as whole, zipfile.ZipFile(shared, "w") as part:
        for info in whole.infolist():
            if info.filename not in own:
                part.writestr(zipfile.ZipInfo(info.filename, _ZIP_DAY), whole.read(info), zipfile.ZIP_DEFLATED, 9)
    return _Package(shared.getvalue(), {Kind.DEFAULT: None, **formats}, written[0].settings)


# -- each form's own parts ---------------------------------------------------------------------
@cache
def _column(c: int) -> str:
    return str(xl_col_to_name(c))


def column_letter(number: int) -> str:
    """The letters of column `number`, counted from 1 (openpyxl's `get_column_letter`,
    without importing openpyxl, which costs a quarter of a second)."""
    return _column(number - 1)


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

    def write(self, sheet: Worksheet, formats: dict[Kind, Format | None]) -> None:
        """Onto an XlsxWriter worksheet, through its public API."""
        for c, width in enumerate(self.widths):
            # openpyxl's widths, as stored: XlsxWriter's `set_column` would add Excel's cell padding
            sheet.set_column_pixels(c, c, width * PIXELS_PER_CHARACTER)
        for r, row in enumerate(self.rows):
            for c, (value, kind) in enumerate(row):
                write_cell(sheet, r, c, value, formats[kind])
        for first_row, first_col, last_row, last_col in self.merged:
            value, kind = self.rows[first_row][first_col]
            sheet.merge_range(first_row, first_col, last_row, last_col, _safe(value), formats[kind])
        for validation in self.validations:
            sheet.data_validation(validation.cells, validation.options())
        if self.frozen is not None:
            sheet.freeze_panes(self.frozen[0] - 1, self.frozen[1] - 1)
        # objects and scenarios stay editable, as in Excel's and openpyxl's default protection
        sheet.protect("", {"objects": True, "scenarios": True, "format_columns": self.format_rows_and_columns,
                           "format_rows": self.format_rows_and_columns})
        if self.hidden:
            sheet.hide()

    def shape(self, n: int, bounds: tuple[int | None, ...]) -> tuple[Any, ...]:
        """What the sheet's XML around its rows depends on (`_sheet_xml`); `bounds` last."""
        return (self.name, n, tuple(self.widths), tuple(map(tuple, self.merged)), tuple(self.validations),
                self.frozen, self.format_rows_and_columns, self.hidden, bounds)

    def stored(self, formats: dict[Kind, Format | None], settings: dict[str, Any]) -> \
            tuple[list[tuple[int, int, str, Any, Format | None]], list[tuple[int, int]]] | None:
        """The cells `write` has XlsxWriter store, in the order it stores them, each as
        (row, column, kind, value, format), and the merged ranges' corners (they count in the
        sheet's dimension); None when the sheet holds something else, left to XlsxWriter."""
        if settings["strings_to_numbers"] or settings["strings_to_formulas"] or settings["strings_to_urls"]:
            return None
        cells: list[tuple[int, int, str, Any, Format | None]] = []
        for r, row in enumerate(self.rows):
            for c, (value, kind) in enumerate(row):
                cell = _stored(None if value is None else _safe(value), formats[kind], settings)
                if cell is _NOT_PLAIN:
                    return None
                if cell is not None:
                    cells.append((r, c, *cell))
        corners: list[tuple[int, int]] = []
        for first_row, first_col, last_row, last_col in self.merged:
            value, kind = self.rows[first_row][first_col]
            if not (first_row <= last_row and first_col <= last_col) or (first_row, first_col) == (last_row, last_col) \
                    or not isinstance(value, str | None):
                return None  # XlsxWriter's `merge_range` orders, refuses, or writes it otherwise
            style = formats[kind]
            value = _safe(value) if value else None  # `merge_range` writes "" as a blank
            cells += [(first_row, first_col, *cell)] if (cell := _stored(value, style, settings)) else []
            cells += [(r, c, BLANK, None, style) for r in range(first_row, last_row + 1)
                      for c in range(first_col, last_col + 1) if (r, c) != (first_row, first_col) and style]
            corners += [(first_row, first_col), (last_row, last_col)]
        return cells, corners


_NOT_PLAIN: Any = object()  # a value `_stored` leaves to XlsxWriter
_TEXT_MOST = 16_383  # longer text XlsxWriter measures in UTF-16 units, and may cut


def _stored(value: Any, style: Format | None, settings: dict[str, Any]) -> tuple[str, Any, Format | None] | None:
    """How `write_cell` has XlsxWriter store an already safe value: (kind, value, format);
    None for no cell at all, `_NOT_PLAIN` for a value left to XlsxWriter."""
    if value is None:
        return None if style is None else (BLANK, None, style)
    if isinstance(value, str):
        return (STRING, value, style) if len(value) <= _TEXT_MOST else _NOT_PLAIN
    if isinstance(value, bool):
        return (BOOLEAN, 1 if value else 0, style)
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime) and style is not None:
        return (NUMBER, _datetime_to_excel_datetime(value, settings["date_1904"], settings["remove_timezone"]), style)
    if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
        return (NUMBER, value, style)
    return _NOT_PLAIN


def write_cell(sheet: Worksheet, r: int, c: int, value: Any, style: Format | None) -> None:
    """One cell: text as text (`safe_value` quotes what a spreadsheet would run), numbers and
    dates as numbers, an empty cell only for its format (most of a form's cells)."""
    if value is None:
        if style is not None:
            sheet.write_blank(r, c, None, style)
        return
    value = _safe(value)
    if isinstance(value, str):
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


def _safe(value: Any) -> Any:
    return _safe_text(value) if isinstance(value, str) else safe_value(value)


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
        parts = _Parts(package.settings)
        own: dict[str, bytes] = {}
        for n, given in enumerate(self._sheets):
            own[f"xl/worksheets/sheet{n + 1}.xml"] = _sheet_xml(package, parts, given, n)
        own[_STRINGS] = parts.strings_xml()
        return _zip(package.shared, own)


def _written(parts: _Parts, given: _Sheet, n: int, formats: dict[Kind, Format | None]) -> tuple[bytes, Worksheet]:
    """The sheet as XlsxWriter writes it, through its public API (the `n`th of the form)."""
    sheet = parts.sheet(given.name, n)
    given.write(sheet, formats)
    if n == 0:
        sheet.select()  # as Workbook.close selects the first sheet when none is active
    return parts.xml(sheet), sheet


_SHEET_DATA, _SHEET_DATA_END = "<sheetData>", "</sheetData>"
_SKELETONS_KEPT = 1024  # shapes of a day's forms kept: one or two per count of items a unit has


def _sheet_xml(package: _Package, parts: _Parts, given: _Sheet, n: int) -> bytes:
    """The form's `n`th sheet. Around its rows a sheet's XML depends only on its shape (its
    place, widths, merged ranges, rules, frozen panes, protection, visibility and the range
    its cells cover), the same for every form of a plan and day with as many items. So the
    first sheet of a shape is written by XlsxWriter, and what surrounds its rows is kept as
    the shape's skeleton, but only once the rows and strings written here for the same cells
    are exactly XlsxWriter's (`_stored`, `_rows_xml`); every later sheet of that shape is
    the skeleton around rows written here. A sheet holding anything else (a long text, a
    formula) or a shape that cannot be a key is written by XlsxWriter every time."""
    stored = given.stored(package.formats, package.settings)
    if stored is None:
        return _written(parts, given, n, package.formats)[0]
    cells, corners = stored
    try:
        key = given.shape(n, _bounds([(r, c) for r, c, *_ in cells] + corners))
        skeleton = package.skeletons.get(key)
    except TypeError:  # an unhashable rule or width
        return _written(parts, given, n, package.formats)[0]
    if skeleton is not None:
        return (skeleton[0] + _rows_xml(_fragments(cells, parts.strings)) + skeleton[1]).encode()
    before = _copy(parts.strings)
    xml, sheet = _written(parts, given, n, package.formats)
    ours = _rows_xml(_fragments(cells, before))
    head, opened, rest = xml.decode().partition(_SHEET_DATA)
    rows, closed, tail = rest.partition(_SHEET_DATA_END)
    bounds = (sheet.dim_rowmin, sheet.dim_rowmax, sheet.dim_colmin, sheet.dim_colmax)
    if opened and closed and rows == ours and _same(before, parts.strings) and key[-1] == bounds \
            and len(package.skeletons) < _SKELETONS_KEPT:
        package.skeletons[key] = (head + opened, closed + tail)
    return xml


def _bounds(places: list[tuple[int, int]]) -> tuple[int | None, ...]:
    """The rows and columns the cells cover, as XlsxWriter's dimension holds them."""
    if not places:
        return (None, None, None, None)
    rows, columns = [r for r, _ in places], [c for _, c in places]
    return (min(rows), max(rows), min(columns), max(columns))


def _fragments(cells: list[tuple[int, int, str, Any, Format | None]],
               strings: SharedStringTable) -> dict[int, dict[int, str]]:
    """Each stored cell's `<c>`, a later one in the same place replacing it (as a merged
    range's first cell does); text gets its shared string's index, in the order stored."""
    found: dict[int, dict[int, str]] = {}
    for row_num, col_num, kind, value, style in cells:
        if kind == STRING:
            value = strings._get_shared_string_index(value)
        found.setdefault(row_num, {})[col_num] = _cell_xml(row_num, col_num, style, kind, value)
    return found


def _copy(strings: SharedStringTable) -> SharedStringTable:
    copied = SharedStringTable()
    copied.count, copied.unique_count = strings.count, strings.unique_count
    copied.string_table, copied.string_array = dict(strings.string_table), list(strings.string_array)
    return copied


def _same(ours: SharedStringTable, theirs: SharedStringTable) -> bool:
    return (ours.count, ours.unique_count, ours.string_table, ours.string_array) == \
        (theirs.count, theirs.unique_count, theirs.string_table, theirs.string_array)


# The form's own parts are compressed at zlib's fastest level: zlib's default costs about a third
# more of the zip's time (0.13 ms a form) for a file 3% smaller.
_LEVEL = 1


def _zip(shared: bytes, own: dict[str, bytes]) -> bytes:
    """The shared parts' zip with the form's own parts added: appended to a copy of it, so the
    shared parts are not compressed again (that took about 0.5 ms a form, more than the rest of
    the zip); dated as XlsxWriter dates its entries in memory."""
    out = io.BytesIO(shared)
    with zipfile.ZipFile(out, "a") as archive:
        for name, data in own.items():
            archive.writestr(zipfile.ZipInfo(name, _ZIP_DAY), data, zipfile.ZIP_DEFLATED, _LEVEL)
    return out.getvalue()

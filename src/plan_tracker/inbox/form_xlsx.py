"""The report form's XLSX, written part by part: the same workbook `template` describes, about
twenty times cheaper than building it with openpyxl.

Every unit contact's reminder carries one, so a province's first night makes hundreds. openpyxl
makes a cell object and a style object per cell and serialises them one by one (about 9 ms a
form); here the parts that never change (styles, theme, workbook, relations) are fixed text,
every style the form uses is one fixed index, and the two sheets are joined from strings.

The bytes depend only on what the form says: the zip entries and the document properties are
dated with the form's `today`, never the clock, so the same form is the same file. What the
file holds is checked against openpyxl's own reading of it (tests/inbox/test_form_xlsx.py,
against the openpyxl builder it replaced).
"""

from __future__ import annotations

import datetime as dt
import struct
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from openpyxl.utils import get_column_letter
from openpyxl.writer.theme import theme_xml

from plan_tracker.inbox.columns import LIGHT_COLOURS
from plan_tracker.inbox.safety import safe_value

XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
EXCEL_EPOCH = dt.date(1899, 12, 30)  # serial 1 is 1900-01-01 once Excel's 1900 leap day is counted

# The style indexes of `STYLES` below (cellXfs), one per kind of cell the form has.
DEFAULT, TITLE, BOLD, HEADER, DATE, FILL_IN, FILL_IN_WRAP, FILL_IN_DATE, OPEN, GREYED = range(10)
LIGHT_STYLE = {light: 10 + n for n, light in enumerate(LIGHT_COLOURS)}

_UNLOCKED = '<protection locked="0" hidden="0"/>'
_FILLS = ("DDEBF7", "FFFFFF", "D9D9D9", *LIGHT_COLOURS.values())  # fillId 2.. (header, fill-in, grey, lights)
_XFS = (
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>',
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>',
    '<xf numFmtId="0" fontId="2" fillId="0" borderId="0" xfId="0" applyFont="1"/>',
    '<xf numFmtId="0" fontId="2" fillId="2" borderId="0" xfId="0" applyFont="1" applyFill="1" applyAlignment="1">'
    '<alignment horizontal="center" vertical="center" wrapText="1"/></xf>',
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>',
    f'<xf numFmtId="0" fontId="0" fillId="3" borderId="0" xfId="0" applyFill="1" applyProtection="1">{_UNLOCKED}</xf>',
    '<xf numFmtId="0" fontId="0" fillId="3" borderId="0" xfId="0" applyFill="1" applyAlignment="1" applyProtection="1">'
    f'<alignment vertical="top" wrapText="1"/>{_UNLOCKED}</xf>',
    '<xf numFmtId="164" fontId="0" fillId="3" borderId="0" xfId="0" applyNumberFormat="1" applyFill="1" '
    f'applyProtection="1">{_UNLOCKED}</xf>',
    f'<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" applyProtection="1">{_UNLOCKED}</xf>',
    '<xf numFmtId="0" fontId="0" fillId="4" borderId="0" xfId="0" applyFill="1"/>',
    *(f'<xf numFmtId="0" fontId="0" fillId="{5 + n}" borderId="0" xfId="0" applyFill="1"/>'
      for n in range(len(LIGHT_COLOURS))),
)
STYLES = (
    f'{XML}<styleSheet xmlns="{MAIN}"><numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/></numFmts>'
    '<fonts count="3"><font><sz val="11"/><color theme="1"/><name val="Calibri"/><family val="2"/>'
    '<scheme val="minor"/></font><font><b val="1"/><sz val="14"/></font><font><b val="1"/></font></fonts>'
    f'<fills count="{2 + len(_FILLS)}"><fill><patternFill/></fill><fill><patternFill patternType="gray125"/></fill>'
    + "".join(f'<fill><patternFill patternType="solid"><fgColor rgb="00{rgb}"/></patternFill></fill>' for rgb in _FILLS)
    + '</fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    f'<cellXfs count="{len(_XFS)}">{"".join(_XFS)}</cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'
)
_SHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
CONTENT_TYPES = (
    f'{XML}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_SHEET_TYPE}"/>'
    f'<Override PartName="/xl/worksheets/sheet2.xml" ContentType="{_SHEET_TYPE}"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    '<Override PartName="/xl/theme/theme1.xml" ContentType="application/vnd.openxmlformats-officedocument.theme+xml"/>'
    '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
    '<Override PartName="/docProps/app.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/></Types>'
)
ROOT_RELS = (
    f'{XML}<Relationships xmlns="{PKG_REL}">'
    f'<Relationship Id="rId1" Type="{REL}/officeDocument" Target="xl/workbook.xml"/>'
    f'<Relationship Id="rId2" Type="{PKG_REL}/metadata/core-properties" Target="docProps/core.xml"/>'
    f'<Relationship Id="rId3" Type="{REL}/extended-properties" Target="docProps/app.xml"/></Relationships>'
)
WORKBOOK_RELS = (
    f'{XML}<Relationships xmlns="{PKG_REL}">'
    f'<Relationship Id="rId1" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{REL}/worksheet" Target="worksheets/sheet2.xml"/>'
    f'<Relationship Id="rId3" Type="{REL}/styles" Target="styles.xml"/>'
    f'<Relationship Id="rId4" Type="{REL}/theme" Target="theme/theme1.xml"/></Relationships>'
)
APP = (f'{XML}<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
       '<Application>plan-tracker</Application></Properties>')
# Excel's default sheet protection, as openpyxl writes it, with the toggles the form changes.
_PROTECTION = ('<sheetProtection sheet="1" objects="0" scenarios="0" formatCells="1" formatColumns="{columns}" '
               'formatRows="{rows}" insertColumns="1" insertRows="1" insertHyperlinks="1" deleteColumns="1" '
               'deleteRows="1" selectLockedCells="0" selectUnlockedCells="0" sort="1" autoFilter="1" pivotTables="1"/>')
_MARGINS = '<pageMargins left="0.75" right="0.75" top="1" bottom="1" header="0.5" footer="0.5"/>'
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_ATTR_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\r": "&#13;",
                               "\n": "&#10;", "\t": "&#9;"})


@dataclass(frozen=True)
class Validation:
    """One data-validation rule of the sheet (`formula2` only for a range)."""

    kind: str
    sqref: str
    formula1: str
    error_title: str
    error: str
    operator: str | None = None
    formula2: str | None = None
    prompt_title: str | None = None
    prompt: str | None = None


Cell = tuple[Any, int]  # (value or None, style index)


def attr(text: str) -> str:
    return text.translate(_ATTR_ESCAPES)


def cell_xml(ref: str, value: Any, style: int) -> str:
    """One cell: text inline (never a formula: `safe_value` quotes what a spreadsheet would
    run), numbers and dates as numbers."""
    s = f' s="{style}"' if style else ""
    value = safe_value(value)
    if value is None:
        return f'<c r="{ref}"{s}/>' if style else ""
    if isinstance(value, str):
        space = ' xml:space="preserve"' if value != value.strip() else ""
        return f'<c r="{ref}"{s} t="inlineStr"><is><t{space}>{value.translate(_TEXT_ESCAPES)}</t></is></c>'
    if isinstance(value, bool):
        return f'<c r="{ref}"{s} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, dt.datetime):
        raise TypeError("a form holds dates, not times")  # none of its cells is a moment
    if isinstance(value, dt.date):
        return f'<c r="{ref}"{s}><v>{(value - EXCEL_EPOCH).days}</v></c>'
    if isinstance(value, int | float):
        return f'<c r="{ref}"{s}><v>{value!r}</v></c>'
    raise TypeError(f"no cell for {type(value).__name__}")


def sheet_xml(rows: Sequence[Sequence[Cell]], *, widths: Sequence[float] = (), merged: Iterable[str] = (),
              validations: Sequence[Validation] = (), frozen: tuple[int, int] | None = None,
              format_rows_and_columns: bool = False) -> str:
    """A protected worksheet of `rows` (row 1 first, column A first). `frozen` is the first
    unfrozen (row, column); with `format_rows_and_columns`, widths and heights stay editable."""
    letters = [get_column_letter(c) for c in range(1, max((len(r) for r in rows), default=1) + 1)]
    parts = [f'{XML}<worksheet xmlns="{MAIN}"><dimension ref="A1:{letters[-1]}{max(len(rows), 1)}"/>']
    parts.append(_view(frozen))
    parts.append('<sheetFormatPr baseColWidth="8" defaultRowHeight="15"/>')
    if widths:
        parts.append("<cols>" + "".join(f'<col min="{c}" max="{c}" width="{w}" customWidth="1"/>'
                                        for c, w in enumerate(widths, start=1)) + "</cols>")
    parts.append("<sheetData>")
    for r, row in enumerate(rows, start=1):
        cells = "".join(cell_xml(f"{letters[c]}{r}", value, style) for c, (value, style) in enumerate(row))
        parts.append(f'<row r="{r}">{cells}</row>' if cells else "")
    parts.append("</sheetData>")
    editable = "0" if format_rows_and_columns else "1"
    parts.append(_PROTECTION.format(columns=editable, rows=editable))
    merged = list(merged)
    if merged:
        parts.append(f'<mergeCells count="{len(merged)}">'
                     + "".join(f'<mergeCell ref="{ref}"/>' for ref in merged) + "</mergeCells>")
    if validations:
        parts.append(f'<dataValidations count="{len(validations)}">'
                     + "".join(_validation(v) for v in validations) + "</dataValidations>")
    parts.append(_MARGINS + "</worksheet>")
    return "".join(parts)


def _view(frozen: tuple[int, int] | None) -> str:
    if frozen is None:
        return '<sheetViews><sheetView workbookViewId="0"><selection activeCell="A1" sqref="A1"/></sheetView></sheetViews>'
    row, column = frozen
    top_left = f"{get_column_letter(column)}{row}"
    return (f'<sheetViews><sheetView workbookViewId="0"><pane xSplit="{column - 1}" ySplit="{row - 1}" '
            f'topLeftCell="{top_left}" activePane="bottomRight" state="frozen"/><selection pane="topRight"/>'
            '<selection pane="bottomLeft"/><selection pane="bottomRight" activeCell="A1" sqref="A1"/>'
            '</sheetView></sheetViews>')


def _validation(v: Validation) -> str:
    prompt = (f' promptTitle="{attr(v.prompt_title)}" prompt="{attr(v.prompt)}"'
              if v.prompt_title is not None and v.prompt is not None else "")
    operator = f' operator="{v.operator}"' if v.operator else ""
    second = f"<formula2>{v.formula2.translate(_TEXT_ESCAPES)}</formula2>" if v.formula2 is not None else ""
    return (f'<dataValidation type="{v.kind}"{operator} allowBlank="1" showDropDown="0" '
            f'showInputMessage="{1 if prompt else 0}" showErrorMessage="1" errorTitle="{attr(v.error_title)}" '
            f'error="{attr(v.error)}"{prompt} sqref="{v.sqref}"><formula1>{v.formula1.translate(_TEXT_ESCAPES)}'
            f"</formula1>{second}</dataValidation>")


def workbook_bytes(sheets: Sequence[tuple[str, str, bool]], *, day: dt.date, creator: str = "plan-tracker") -> bytes:
    """The XLSX of `sheets` — (name, sheet XML, hidden) — with its structure locked (no sheet
    added, renamed or unhidden), dated `day` throughout."""
    names = "".join(f'<sheet name="{attr(name)}" sheetId="{n}" state="{"hidden" if hidden else "visible"}" '
                    f'r:id="rId{n}"/>' for n, (name, _, hidden) in enumerate(sheets, start=1))
    workbook = (f'{XML}<workbook xmlns="{MAIN}" xmlns:r="{REL}"><workbookPr/><workbookProtection lockStructure="1"/>'
                '<bookViews><workbookView activeTab="0"/></bookViews>'
                f'<sheets>{names}</sheets><calcPr calcId="124519" fullCalcOnLoad="1"/></workbook>')
    stamp = f"{day.isoformat()}T00:00:00Z"
    core = (f'{XML}<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
            f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dc:creator>{creator.translate(_TEXT_ESCAPES)}'
            f'</dc:creator><dcterms:created xsi:type="dcterms:W3CDTF">{stamp}</dcterms:created>'
            f'<dcterms:modified xsi:type="dcterms:W3CDTF">{stamp}</dcterms:modified></cp:coreProperties>')
    parts = [("[Content_Types].xml", _FIXED["[Content_Types].xml"]), ("_rels/.rels", _FIXED["_rels/.rels"]),
             ("docProps/app.xml", _FIXED["docProps/app.xml"]), ("docProps/core.xml", _deflated(core)),
             ("xl/workbook.xml", _deflated(workbook)), ("xl/_rels/workbook.xml.rels", _FIXED["xl/_rels/workbook.xml.rels"]),
             ("xl/styles.xml", _FIXED["xl/styles.xml"]), ("xl/theme/theme1.xml", _FIXED["xl/theme/theme1.xml"])]
    parts += [(f"xl/worksheets/sheet{n}.xml", _deflated(xml)) for n, (_, xml, _) in enumerate(sheets, start=1)]
    return zip_bytes(parts, day)


Deflated = tuple[int, int, bytes]  # (CRC-32, size, raw deflate stream) of one part


def _deflated(text: str) -> Deflated:
    data = text.encode("utf-8")
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)  # raw deflate, zipfile's default level
    return zlib.crc32(data), len(data), packer.compress(data) + packer.flush()


# The parts every form has word for word, compressed once per process.
_FIXED = {name: _deflated(text) for name, text in (
    ("[Content_Types].xml", CONTENT_TYPES), ("_rels/.rels", ROOT_RELS), ("docProps/app.xml", APP),
    ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS), ("xl/styles.xml", STYLES), ("xl/theme/theme1.xml", theme_xml))}


def zip_bytes(parts: Sequence[tuple[str, Deflated]], day: dt.date) -> bytes:
    """A zip of deflated parts, every entry dated `day` at midnight, as `zipfile` reads it
    (written here so that the fixed parts are compressed once, not once per form)."""
    stamp = ((max(day.year, 1980) - 1980) << 9) | (day.month << 5) | day.day  # MS-DOS date; the time is 00:00
    out = bytearray()
    directory = bytearray()
    for name, (crc, size, data) in parts:
        encoded = name.encode("ascii")
        offset = len(out)
        out += _LOCAL.pack(0x04034B50, 20, 0, zipfile.ZIP_DEFLATED, 0, stamp, crc, len(data), size, len(encoded), 0)
        out += encoded
        out += data
        directory += _CENTRAL.pack(0x02014B50, 0x0314, 20, 0, zipfile.ZIP_DEFLATED, 0, stamp, crc, len(data), size,
                                   len(encoded), 0, 0, 0, 0, 0o100600 << 16, offset)
        directory += encoded
    end = _END.pack(0x06054B50, 0, 0, len(parts), len(parts), len(directory), len(out), 0)
    return bytes(out + directory + end)


# zip headers (APPNOTE 4.3.7, 4.3.12, 4.3.16); "made by" 0x0314: Unix, zip 2.0
_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_END = struct.Struct("<IHHHHIIH")

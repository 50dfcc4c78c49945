"""Defences against hostile files, and formula neutralisation for every export.

Every cap is a constant here with the reason for its value; docs/INBOX.md holds the same
table (a test keeps the two equal). Time is bounded twice: the size caps bound the work
any file can cause, and a `Deadline` checked between zip chunks and between rows stops a
file that is still being read after `MAX_SECONDS`. Memory is bounded by the size caps (no
part is decompressed beyond its cap, no sheet is read beyond its row and column caps); the
tests measure the peak of each hostile case against `MEMORY_BUDGET_BYTES`.

An XLSX is inspected here *before* openpyxl sees it: openpyxl 3.1 parses with
`xml.etree` / lxml and uses defusedxml only when it is installed (it is not a dependency of
this project), so every XML part is streamed once, within the caps, and refused if it
declares a DTD (`<!DOCTYPE` / `<!ENTITY>`: entity bombs, external entities) or an encoding
other than UTF-8 (which could hide a DTD from a byte scan). Real XLSX files from Excel, WPS
and openpyxl never contain either.
"""

from __future__ import annotations

import codecs
import io
import re
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, TypeVar

from plan_tracker.inbox.errors import FileRefused
from plan_tracker.inbox.messages import Msg, msg

KiB = 1024
MiB = 1024 * KiB

# -- any file -------------------------------------------------------------------------------
# A filled template for one unit is 10-200 KB; 8 MiB leaves room for pasted screenshots.
MAX_FILE_BYTES = 8 * MiB
# YAML is composed by PyYAML's pure-Python loader (about 4 s per MiB); 256 KiB holds about
# 1 400 reports, and a YAML report file is written by a program or by hand, never that long.
MAX_YAML_BYTES = 256 * KiB
# The busiest unit of the founding plan has 24 obligations a year; ten weekly tasks give 520.
# Recording costs 4-8 ms a row (each row is validated and audited on its own), so this cap
# also bounds the time a valid file can take: about 5 s on SQLite, 8 s on PostgreSQL.
MAX_DATA_ROWS = 1_000
# The header row must be among the first rows (title and identity rows come before it).
MAX_HEADER_SEARCH = 10
# The last sheet row read: header rows, data rows and blank rows among them; content below
# it refuses the file rather than being silently ignored.
MAX_ROWS = 2_000
# Ten fixed columns plus the indicators of one unit's tasks.
MAX_COLUMNS = 64
# Excel's own limit for the text of one cell.
MAX_CELL_CHARS = 32_767
# Budget for reading one file, checked between zip chunks, sheet rows and CSV records.
MAX_SECONDS = 10.0
# Peak Python heap per file, measured by the hostile-file tests (tracemalloc); not enforced
# at run time, it follows from the size caps below.
MEMORY_BUDGET_BYTES = 64 * MiB

# -- XLSX (a zip of XML parts) ------------------------------------------------------------
# A workbook written by Excel, WPS or openpyxl has 10-40 parts.
MAX_ZIP_MEMBERS = 256
# Declared and actual uncompressed size of any one part (pictures pasted into a sheet).
MAX_PART_BYTES = 8 * MiB
# ...of one worksheet: a 1 000-row template is under 1 MiB, and openpyxl needs about a
# second per 4 MiB of sheet XML just to find the sheet's size.
MAX_SHEET_BYTES = 4 * MiB
# openpyxl keeps every shared string in memory, so this part has a smaller cap.
MAX_SHARED_STRINGS_BYTES = 4 * MiB
# All parts together, uncompressed.
MAX_TOTAL_BYTES = 32 * MiB
# Uncompressed/compressed size of a part; real sheets compress 5-30 times. Small parts
# (under RATIO_FLOOR) may compress better and cannot hurt, so the ratio applies above it.
MAX_RATIO = 100
RATIO_FLOOR = 1 * MiB
# Excel's last row and column: a cell beyond them is a forged sheet.
MAX_SHEET_ROW = 1_048_576
MAX_SHEET_COLUMN = 16_384

CHUNK = 64 * KiB
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls and password-protected Office files
ZIP_MAGIC = b"PK\x03\x04"
XML_SUFFIXES = (".xml", ".rels", ".vml")

# Cells starting with these are run as formulas by spreadsheet programs (CSV/formula
# injection): `=`, `+`, `-`, `@`, and tab, carriage return and NUL that some programs skip.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\0")
# Control characters an XLSX cell cannot hold (openpyxl refuses them).
_ILLEGAL_XLSX = re.compile(r"[\000-\010\013\014\016-\037]")

T = TypeVar("T")


def neutralise(value: T) -> T | str:
    """Make a value safe to export as a cell: text that a spreadsheet would run as a formula
    gets a leading single quote (the OWASP remedy); numbers, dates and other text pass."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def safe_value(value: T) -> T | str:
    """What a cell may hold of `value`: neutralised, without the control characters an XLSX
    cannot carry, within Excel's length for one cell."""
    safe = neutralise(value)
    if isinstance(safe, str):
        return _ILLEGAL_XLSX.sub("", safe)[:MAX_CELL_CHARS]
    return safe


def put(cell: Any, value: object) -> Any:
    """Write `value` into an openpyxl cell as data, never as a formula."""
    safe = safe_value(value)
    cell.value = safe
    if isinstance(safe, str):
        cell.data_type = "s"  # belt and braces: openpyxl takes any leading '=' as a formula
    return cell


class Deadline:
    """The time budget of one file (an elapsed-time guard, not a reading of the date)."""

    def __init__(self, seconds: float = MAX_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.seconds = seconds
        self._clock = clock
        self._end = clock() + seconds

    def check(self) -> None:
        if self._clock() > self._end:
            raise FileRefused.because("safety.too_slow", seconds=self.seconds)


# -- text files -----------------------------------------------------------------------------
def decode_text(data: bytes) -> tuple[str, str]:
    """Decode CSV bytes: UTF-8 (with or without BOM), else GB18030 (a superset of the GBK
    that WPS and Excel on Chinese Windows save). Returns (text, encoding)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or (len(data) >= 2 and 0 in data[:2]):
        raise FileRefused.because("safety.utf16")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            raise FileRefused.because("safety.nul_bytes")
        return text, encoding
    raise FileRefused.because("safety.encoding")


# -- YAML -----------------------------------------------------------------------------------
def check_yaml_tokens(text: str) -> None:
    """Refuse anchors, aliases and tags before the document is composed: a report file needs
    none of them, and an alias bomb then never expands. Scanned with LibYAML when present
    (about 0.3 s per MiB), else with PyYAML's scanner."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        for token in yaml.scan(text, Loader=loader):
            if isinstance(token, yaml.AliasToken | yaml.AnchorToken):
                kind = "safety.yaml_aliases" if isinstance(token, yaml.AliasToken) else "safety.yaml_anchors"
                raise FileRefused.because(kind, sheet="yaml", row=token.start_mark.line + 1)
            if isinstance(token, yaml.TagToken):
                raise FileRefused.because("safety.yaml_tags", sheet="yaml", row=token.start_mark.line + 1)
    except yaml.YAMLError:
        return  # a syntax error: the loader reports it with its position


# -- zip containers ---------------------------------------------------------------------------
@dataclass
class ZipReport:
    """What the inspection saw: part names, and per worksheet the furthest cell with content."""

    parts: list[str] = field(default_factory=list)
    extent: dict[str, tuple[int, int]] = field(default_factory=dict)  # part -> (max row, max column)
    total_bytes: int = 0


_DTD = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_DECLARED_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([^"']{1,40})["']""")
# A cell with content: `<c r="F12" ...>` that is not self-closing (`<c r="F12" s="3"/>` is an
# empty styled cell). Namespace prefixes (`<x:c`) occur in some generators.
_CELL = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?c\s[^<>]*?\br="([A-Za-z]{1,4})(\d{1,9})"[^<>]*?(/?)>')
_OVERLAP = 512  # bytes kept between chunks so a match split by a chunk boundary is still seen


def column_number(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + (ord(ch) - 64)
    return n


def _member_name_problem(info: zipfile.ZipInfo) -> Msg | None:
    raw = info.orig_filename
    if "\x00" in raw:
        return msg("safety.name_nul")
    if "\\" in raw or raw.startswith("/") or re.match(r"^[A-Za-z]:", raw):
        return msg("safety.name_absolute", name=raw)
    if ".." in PurePosixPath(raw).parts:
        return msg("safety.name_climbs", name=raw)
    return None


def part_cap(name: str) -> int:
    lower = name.lower()
    if lower == "xl/sharedstrings.xml":
        return MAX_SHARED_STRINGS_BYTES
    if lower.startswith("xl/worksheets/") and lower.endswith(".xml"):
        return MAX_SHEET_BYTES
    return MAX_PART_BYTES


def inspect_zip(data: bytes, deadline: Deadline) -> ZipReport:
    """Refuse a hostile or broken XLSX before any XML parser touches it."""
    if not data.startswith(ZIP_MAGIC):
        if data.startswith(OLE_MAGIC):
            raise FileRefused.because("safety.old_xls")
        raise FileRefused.because("safety.not_zip")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        raise FileRefused.because("safety.damaged", detail=str(exc)) from None
    with archive:
        infos = archive.infolist()
        report = ZipReport(parts=[i.filename for i in infos])
        _check_declared(infos)
        for info in infos:
            deadline.check()
            _stream_part(archive, info, report, deadline)
    return report


def _check_declared(infos: list[zipfile.ZipInfo]) -> None:
    if len(infos) > MAX_ZIP_MEMBERS:
        raise FileRefused.because("safety.too_many_parts", count=len(infos), limit=MAX_ZIP_MEMBERS)
    seen: set[str] = set()
    declared = 0
    for info in infos:
        problem = _member_name_problem(info)
        if problem:
            raise FileRefused.because("safety.unsafe_archive", problem=problem)
        if info.filename in seen:
            raise FileRefused.because("safety.part_twice", name=info.filename)
        seen.add(info.filename)
        if info.flag_bits & 0x1:
            raise FileRefused.because("safety.encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise FileRefused.because("safety.compression", name=info.filename)
        cap = part_cap(info.filename)
        if info.file_size > cap:
            raise FileRefused.because("safety.part_declares", name=info.filename, size=info.file_size, cap=cap)
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise FileRefused.because("safety.part_declared_ratio", name=info.filename,
                                      ratio=info.file_size // max(info.compress_size, 1), cap=MAX_RATIO)
        declared += info.file_size
        if declared > MAX_TOTAL_BYTES:
            raise FileRefused.because("safety.total_declared", limit=MAX_TOTAL_BYTES)


def _stream_part(archive: zipfile.ZipFile, info: zipfile.ZipInfo, report: ZipReport, deadline: Deadline) -> None:
    """Decompress one part in chunks, counting what actually comes out (zipfile stops at the
    declared size and then fails the CRC check, so a lying header is caught either way)."""
    name = info.filename
    cap = part_cap(name)
    is_xml = name.lower().endswith(XML_SUFFIXES)
    is_sheet = is_xml and name.lower().startswith("xl/worksheets/")
    size = 0
    tail = b""
    max_row = max_col = 0
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(CHUNK):
                deadline.check()
                size += len(chunk)
                report.total_bytes += len(chunk)
                if size > cap or report.total_bytes > MAX_TOTAL_BYTES:
                    raise FileRefused.because("safety.part_over_cap", name=name, cap=cap)
                if size > RATIO_FLOOR and size > MAX_RATIO * max(info.compress_size, 1):
                    raise FileRefused.because("safety.part_ratio", name=name, limit=MAX_RATIO)
                if not is_xml:
                    continue
                if size == len(chunk):
                    _check_prolog(name, chunk)
                window = tail + chunk
                if _DTD.search(window):
                    raise FileRefused.because("safety.dtd", name=name)
                if is_sheet:
                    max_row, max_col = _extent(name, window, max_row, max_col)
                tail = window[-_OVERLAP:]
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:  # CRC errors, truncated data
        raise FileRefused.because("safety.part_damaged", name=name, detail=str(exc)) from None
    if is_sheet:
        report.extent[name] = (max_row, max_col)


def _extent(name: str, window: bytes, max_row: int, max_col: int) -> tuple[int, int]:
    """The furthest cell with content so far; refuses, as soon as it is seen, a cell beyond
    the report caps (so openpyxl never walks an oversized sheet)."""
    cells = [(letters, digits) for letters, digits, closing in _CELL.findall(window) if not closing]
    if not cells:
        return max_row, max_col
    row = max(int(digits) for _, digits in cells)
    col = max(column_number(letters.decode()) for letters, _ in cells)
    if row > MAX_SHEET_ROW or col > MAX_SHEET_COLUMN:
        raise FileRefused.because("safety.forged", name=name)
    if col > MAX_COLUMNS:
        raise FileRefused.because("safety.too_many_columns", letters=_letters(col), limit=MAX_COLUMNS)
    if row > MAX_ROWS:
        raise FileRefused.because("safety.too_many_rows", row_number=row, limit=MAX_ROWS, data_rows=MAX_DATA_ROWS)
    return max(max_row, row), max(max_col, col)


def _letters(column: int) -> str:
    letters = ""
    while column:
        column, rest = divmod(column - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _check_prolog(name: str, first: bytes) -> None:
    head = first[3:] if first.startswith(codecs.BOM_UTF8) else first
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in head[:4]:
        raise FileRefused.because("safety.xml_not_utf8", name=name)
    declared = _DECLARED_ENCODING.match(head[:400])
    if declared and declared.group(1).lower() not in (b"utf-8", b"utf8"):
        raise FileRefused.because("safety.xml_encoding", name=name,
                                  encoding=declared.group(1).decode("ascii", "replace"))

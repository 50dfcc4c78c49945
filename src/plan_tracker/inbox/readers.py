"""Report files into rows: XLSX (a filled template), CSV and YAML, each within the caps.

A reader returns the file's identity (plan, unit, plan version: from the hidden `_meta`
sheet, an identity row, or YAML keys) and its non-blank rows, each cell located as the user
sees it (sheet, row, column letter and header). Readers check shape only; `rows` checks
the meaning of each row. Anything a reader cannot use raises `FileRefused`.
"""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from plan_tracker.inbox.columns import (
    BY_KEY,
    META_SHEET,
    REQUIRED,
    header_key,
    identity_key,
    normalise,
)
from plan_tracker.inbox.errors import FileRefused, RowError
from plan_tracker.inbox.messages import msg
from plan_tracker.inbox.safety import (
    MAX_COLUMNS,
    MAX_DATA_ROWS,
    MAX_HEADER_SEARCH,
    MAX_ROWS,
    MAX_YAML_BYTES,
    Deadline,
    check_yaml_tokens,
    decode_text,
    inspect_zip,
)

KINDS = {".xlsx": "xlsx", ".csv": "csv", ".yaml": "yaml", ".yml": "yaml"}
# Spreadsheet formats a unit may send by mistake, each with its own advice (`kind.*` messages).
REFUSED_KINDS = {".xls": "kind.xls", ".xlsm": "kind.xlsm", ".xlsb": "kind.xlsb", ".et": "kind.et", ".ods": "kind.ods"}


@dataclass(frozen=True)
class Cell:
    column: str  # "F 状态" in a sheet ("F" under a blank header), the key in YAML
    value: Any


@dataclass
class RawRow:
    sheet: str
    row: int
    fields: dict[str, Cell] = field(default_factory=dict)  # fixed columns by key
    extra: dict[str, Cell] = field(default_factory=dict)  # other columns by normalised header


@dataclass
class ReadFile:
    kind: str
    identity: dict[str, Any]
    identity_source: str
    rows: list[RawRow]
    sheet: str
    encoding: str | None = None


def kind_of(name: str) -> str:
    suffix = PurePath(name).suffix.lower()
    if suffix in KINDS:
        return KINDS[suffix]
    if suffix in REFUSED_KINDS:
        raise FileRefused.because(REFUSED_KINDS[suffix])
    if not suffix:
        raise FileRefused.because("kind.no_suffix")
    raise FileRefused.because("kind.unsupported", suffix=suffix)


def read_report(data: bytes, name: str, deadline: Deadline) -> ReadFile:
    kind = kind_of(name)
    if kind == "xlsx":
        return read_xlsx(data, deadline)
    if kind == "csv":
        return read_csv(data, deadline)
    return read_yaml(data, deadline)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


# -- grids (XLSX and CSV) -------------------------------------------------------------------
def rows_from_grid(grid: Iterable[tuple[int, Sequence[Any]]], sheet: str,
                   deadline: Deadline) -> tuple[dict[str, Any], list[RawRow]]:
    """Identity rows and the header row (within the first rows), then the data rows."""
    identity: dict[str, Any] = {}
    columns: list[tuple[str, str | None, str]] | None = None  # (label, fixed key, normalised header)
    rows: list[RawRow] = []
    for index, values in grid:
        deadline.check()
        if columns is None:
            if index > MAX_HEADER_SEARCH:
                break
            keys = [header_key(v) for v in values]
            if "task" in keys and "status" in keys:
                columns = _header(values, sheet, index)
            else:
                identity.update(_identity_pairs(values))
            continue
        if all(_blank(v) for v in values):
            continue
        if len(rows) >= MAX_DATA_ROWS:
            raise FileRefused.because("sheet.too_many_rows", sheet=sheet, row=index, limit=MAX_DATA_ROWS)
        raw = RawRow(sheet, index)
        for i, value in enumerate(values):
            if i >= len(columns):
                if not _blank(value):
                    raw.extra[f"#{i}"] = Cell(get_column_letter(i + 1), value)
                continue
            label, key, header = columns[i]
            if key is not None:
                raw.fields[key] = Cell(label, value)
            elif not _blank(value):
                raw.extra[header or f"#{i}"] = Cell(label, value)
        rows.append(raw)
    if columns is None:
        raise FileRefused.because("sheet.no_header", sheet=sheet, task=BY_KEY["task"].label,
                                  status=BY_KEY["status"].label, limit=MAX_HEADER_SEARCH)
    return identity, rows


def get_column_letter(index: int) -> str:
    """A column's letter (1 → A): openpyxl is imported only once a sheet is read, so the
    nightly run (and every command that reads no file) starts without it."""
    from openpyxl.utils import get_column_letter as letter

    return str(letter(index))


def _header(values: Sequence[Any], sheet: str, index: int) -> list[tuple[str, str | None, str]]:
    columns: list[tuple[str, str | None, str]] = []
    seen: dict[str, str] = {}
    for i, value in enumerate(values):
        letter = get_column_letter(i + 1)
        text = "" if _blank(value) else str(value).strip()
        key = header_key(text)
        label = f"{letter} {text}".strip()
        if key is not None:
            if key in seen:
                raise FileRefused.because("sheet.column_twice", sheet=sheet, row=index, column=label,
                                          name=text, first=seen[key], second=letter)
            seen[key] = letter
        columns.append((label, key, normalise(text)))
    missing = [BY_KEY[k].label for k in REQUIRED if k not in seen]
    if missing:
        raise FileRefused.because("sheet.header_lacks", sheet=sheet, row=index, missing=tuple(missing))
    return columns


def _identity_pairs(values: Sequence[Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for i, value in enumerate(values[:-1]):
        key = identity_key(value) if isinstance(value, str) else None
        if key is not None and not _blank(values[i + 1]):
            found[key] = values[i + 1]
    return found


# -- XLSX -----------------------------------------------------------------------------------
def read_xlsx(data: bytes, deadline: Deadline) -> ReadFile:
    inspect_zip(data, deadline)  # refuses bombs and oversized sheets before openpyxl
    from openpyxl import load_workbook

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "Data Validation extension is not supported"
            workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
    except Exception as exc:  # openpyxl raises many types for malformed parts; none is a crash of ours
        raise FileRefused.because("workbook.unreadable", detail=f"{type(exc).__name__}: {exc}") from None
    try:
        try:  # reliability fix (tests/reliability fuzzing): a malformed hidden sheet crashed the night
            meta = _read_meta(workbook, deadline) if META_SHEET in workbook.sheetnames else {}
        except FileRefused:
            raise
        except Exception as exc:
            raise FileRefused.because("workbook.meta_unreadable", meta_sheet=META_SHEET,
                                      detail=f"{type(exc).__name__}: {exc}") from None
        name = meta.get("sheet") if meta.get("sheet") in workbook.sheetnames else None
        name = name or next((n for n in workbook.sheetnames if n != META_SHEET), None)
        if name is None:
            raise FileRefused.because("workbook.no_sheet")
        sheet = workbook[name]
        try:
            grid = enumerate(sheet.iter_rows(min_row=1, max_row=MAX_ROWS, max_col=MAX_COLUMNS, values_only=True), 1)
            identity, rows = rows_from_grid(grid, name, deadline)
        except FileRefused:
            raise
        except Exception as exc:
            raise FileRefused.because("sheet.unreadable", sheet=name, detail=f"{type(exc).__name__}: {exc}") from None
    finally:
        workbook.close()
    source = "identity row"
    if meta:
        for key in ("plan", "unit"):
            if key in identity and key in meta and str(identity[key]).strip() != str(meta[key]).strip():
                raise FileRefused.because("workbook.meta_mismatch", sheet=name, meta_sheet=META_SHEET,
                                          key=msg(f"identity.{key}"), meta=meta[key], identity=identity[key])
        identity = {**identity, **meta}
        source = META_SHEET
    return ReadFile("xlsx", identity, source, rows, name)


def _read_meta(workbook: Any, deadline: Deadline) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for row in workbook[META_SHEET].iter_rows(min_row=1, max_row=50, max_col=2, values_only=True):
        deadline.check()
        if len(row) == 2 and isinstance(row[0], str) and not _blank(row[1]):
            meta[row[0].strip()] = row[1]
    return meta


# -- CSV ------------------------------------------------------------------------------------
def read_csv(data: bytes, deadline: Deadline) -> ReadFile:
    text, encoding = decode_text(data)
    # Trailing rows of separators only (spreadsheets export formatted empty rows) are dropped.
    text = text.rstrip(" \t\r\n,;")
    first = next((line for line in text.splitlines() if line.strip(" ,;\t")), "")
    delimiter = max((",", "\t", ";"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)

    def grid() -> Iterable[tuple[int, Sequence[Any]]]:
        for index, record in enumerate(reader, 1):
            if index > MAX_ROWS:
                raise FileRefused.because("csv.too_many_rows", sheet="csv", row=index, limit=MAX_ROWS,
                                          data_rows=MAX_DATA_ROWS)
            if len(record) > MAX_COLUMNS and any(v.strip() for v in record[MAX_COLUMNS:]):
                raise FileRefused.because("csv.too_many_columns", sheet="csv", row=index, count=len(record),
                                          limit=MAX_COLUMNS)
            yield index, record[:MAX_COLUMNS]

    try:
        identity, rows = rows_from_grid(grid(), "csv", deadline)
    except csv.Error as exc:
        raise FileRefused.because("csv.malformed", sheet="csv", row=reader.line_num, detail=str(exc)) from None
    return ReadFile("csv", identity, "identity row", rows, "csv", encoding)


# -- YAML -----------------------------------------------------------------------------------
YAML_TOP = {"plan", "unit", "plan_version", "reports"}


def read_yaml(data: bytes, deadline: Deadline) -> ReadFile:
    """`{plan, unit, plan_version?, reports: [{task, period, status, progress?, note?,
    evidence?, reported_on?, indicators?: {id: number}}]}`, composed by the plan loader's
    safe YAML layer (no tags constructed, aliases counted against its node cap)."""
    from plan_tracker.planfile import PlanFileError, parse_yaml

    if len(data) > MAX_YAML_BYTES:
        raise FileRefused.because("yaml.too_big", limit=MAX_YAML_BYTES, size=len(data))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileRefused.because("yaml.not_utf8") from None
    check_yaml_tokens(text)
    try:
        doc, tree = parse_yaml(text, "yaml", what="report_file")
    except PlanFileError as exc:
        raise FileRefused(_yaml_problems(exc.problems)) from None
    deadline.check()
    if tree.problems:
        raise FileRefused(_yaml_problems(tree.problems))
    unknown = sorted(set(doc) - YAML_TOP)
    if unknown:
        raise FileRefused.because("yaml.unknown_keys", sheet="yaml", row=tree.locate((unknown[0],), at_key=True)[0],
                                  unknown=tuple(unknown), expected=tuple(sorted(YAML_TOP)))
    reports = doc.get("reports")
    if not isinstance(reports, list):
        raise FileRefused.because("yaml.reports_not_list", sheet="yaml", row=tree.locate(("reports",))[0])
    if len(reports) > MAX_DATA_ROWS:
        raise FileRefused.because("yaml.too_many_reports", sheet="yaml", limit=MAX_DATA_ROWS)
    rows = []
    for i, item in enumerate(reports):
        line = tree.locate(("reports", i))[0]
        raw = RawRow("yaml", line)
        if not isinstance(item, dict):
            raw.extra["#item"] = Cell("(report)", item)
            rows.append(raw)
            continue
        for key, value in item.items():
            fixed = header_key(key)
            if key == "indicators" and isinstance(value, dict):
                for ident, number in value.items():
                    raw.extra[normalise(ident)] = Cell(f"indicators.{ident}", number)
            elif fixed is not None:
                raw.fields[fixed] = Cell(str(key), value)
            elif not _blank(value):
                raw.extra[normalise(key)] = Cell(str(key), value)
        rows.append(raw)
    identity = {k: doc[k] for k in ("plan", "unit", "plan_version") if k in doc}
    return ReadFile("yaml", identity, "yaml", rows, "yaml", "utf-8")


def _yaml_problems(problems: Sequence[Any]) -> list[RowError]:
    """The YAML layer's located problems (catalogue messages of the plan loader, worded in
    the same locale as the receipt)."""
    return [RowError("yaml", p.line, f"col {p.column}", msg("yaml.syntax", detail=p.message)) for p in problems]

"""One report row into a `Submission`, or every problem of that row, located.

The checks mirror what a coordinator would ask of a paper form: a task of the plan, a
period of that task, a status from the list, progress 0-100, a plausible date, a link that
is a web address, numbers for the task's own indicators. Whether the unit leads that
obligation needs the store and is decided in `ingest`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from typing import Any

from plan_tracker.domain.calendar import WorkCalendar
from plan_tracker.domain.errors import DomainError
from plan_tracker.domain.obligations import obligation_period
from plan_tracker.domain.periods import ONCE, parse_period, period_of
from plan_tracker.domain.plan import Plan, Task
from plan_tracker.domain.reports import (
    STATUS_LABELS_ZH,
    BackdatedReport,
    BadReport,
    Status,
    check_claimed_date,
    check_report,
    parse_status,
)
from plan_tracker.inbox.columns import BY_KEY, FILL_IN_KEYS, UNIT_COLUMN, indicator_aliases
from plan_tracker.inbox.errors import RowError
from plan_tracker.inbox.messages import Msg, msg
from plan_tracker.inbox.readers import Cell, RawRow
from plan_tracker.services.submissions import Submission

MAX_NOTE_CHARS = 2_000
MAX_EVIDENCE_CHARS = 500
MAX_NUMBER = 1e12
_URL = re.compile(r"^https?://[^\s<>\"]+$", re.IGNORECASE)
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日")


@dataclass(frozen=True)
class RowContext:
    plan: Plan
    unit: str
    today: dt.date
    version: int = 1  # the plan's version in the store
    template_version: int | None = None  # the version the file was made from, if it says

    def stale(self, what: str) -> Msg | None:
        """The message for something (`task`, `period`, `obligation`) a file from an older plan
        version names but the plan no longer has; None when the file is not from an older version."""
        if self.template_version is None or self.template_version >= self.version:
            return None
        return msg("row.stale", what=msg(f"stale.{what}"), old=self.template_version, new=self.version)


@dataclass
class Checked:
    raw: RawRow
    submission: Submission | None = None
    errors: list[RowError] = field(default_factory=list)
    refused: bool = False  # the row names another unit: audited as a refusal


def is_blank(raw: RawRow) -> bool:
    """Nothing filled in: pre-filled task, title, period, due and light do not count."""
    return not raw.extra and all(_text(raw.fields[k].value) is None for k in FILL_IN_KEYS if k in raw.fields)


def check_row(raw: RawRow, ctx: RowContext, tasks: dict[str, Task]) -> Checked:
    out = Checked(raw)

    def error(key_or_cell: str | Cell, expected: Msg, found: Any = None) -> None:
        out.errors.append(RowError(raw.sheet, raw.row, _where(raw, key_or_cell), expected,
                                   "" if found is None else str(found)[:200]))

    claimed = _text(_value(raw, "unit"))
    if claimed is not None and claimed != ctx.unit:
        out.refused = True
        error("unit", msg("row.other_unit", claimed=claimed, unit=ctx.unit), claimed)
        return out

    task_id = _text(_value(raw, "task"))
    task = tasks.get(task_id) if task_id else None
    if task_id is None:
        error("task", msg("row.task_required"))
    elif task is None:
        error("task", ctx.stale("task") or msg("row.unknown_task", plan=ctx.plan.id), task_id)
    period_key, period_start = None, None
    if task is not None:
        period_key, period_start = _period(raw, ctx, task, error)
    status = _status(raw, error)
    progress = _progress(raw, error)
    reported_on = _date(raw, ctx.today, error)
    note = _bounded(raw, "note", MAX_NOTE_CHARS, error)
    evidence = _bounded(raw, "evidence", MAX_EVIDENCE_CHARS, error)
    if evidence is not None and not _URL.match(evidence):
        error("evidence", msg("row.evidence_url"), evidence)
    values = _indicators(raw, task, error)
    if status is not None and reported_on is not None and period_start is not None:
        try:
            progress = check_report(status=status, progress=progress, reported_on=reported_on,
                                    today=ctx.today, period_start=period_start)
        except BadReport as exc:
            error("reported_on", _bad_report(exc, reported_on, ctx.today, period_start), reported_on.isoformat())
        else:
            _backdate(reported_on, ctx, error)
    if out.errors or task is None or period_key is None or status is None or reported_on is None:
        return out
    out.submission = Submission(ctx.plan.id, task.id, ctx.unit, period_key, status.value, reported_on,
                                progress, note, evidence, values or None)
    return out


def _where(raw: RawRow, key_or_cell: str | Cell) -> str:
    if isinstance(key_or_cell, Cell):
        return key_or_cell.column
    if key_or_cell in raw.fields:
        return raw.fields[key_or_cell].column
    column = BY_KEY.get(key_or_cell) or (UNIT_COLUMN if key_or_cell == "unit" else None)
    return column.label if column else key_or_cell


def _value(raw: RawRow, key: str) -> Any:
    cell = raw.fields.get(key)
    return None if cell is None else cell.value


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dt.datetime):
        value = value.date()
    text = value.isoformat() if isinstance(value, dt.date) else str(value)
    text = text.strip()
    return text or None


def _period(raw: RawRow, ctx: RowContext, task: Task, error: Any) -> tuple[str | None, dt.date | None]:
    plan = ctx.plan
    value = _value(raw, "period")
    if isinstance(value, dt.date) and task.every is not None:
        # Excel turns a typed "2018-07" into the date 2018-07-01: take the period containing it.
        day = value.date() if isinstance(value, dt.datetime) else value
        key: str | None = period_of(task.every, day).key
    else:
        key = _text(value)
    if key is None:
        if task.every is None:
            key = ONCE
        else:
            error("period", msg("row.period_required", every=msg(f"every.{task.every.value}"),
                                example=period_of(task.every, plan.plan.start).key))
            return None, None
    try:
        period = obligation_period(plan, task, key)
    except DomainError as exc:
        error("period", ctx.stale("period") or _bad_period(exc, plan, task, key), key)
        return None, None
    return period.key, period.start


def _bad_period(exc: DomainError, plan: Plan, task: Task, key: str) -> Msg:
    """The domain's reason a period key does not fit, as a catalogue message (English keeps
    the domain's own sentence): malformed for the task, or outside the plan's dates."""
    detail = str(exc)
    if task.every is None:
        return msg("row.period_not_once", detail=detail)
    try:
        parse_period(task.every, key)
    except DomainError:
        return msg("row.period_malformed", detail=detail, every=msg(f"every.{task.every.value}"),
                   example=period_of(task.every, plan.plan.start).key)
    return msg("row.period_outside", detail=detail, key=key, plan=plan.id, start=plan.plan.start, end=plan.plan.end)


def _backdate(reported_on: dt.date, ctx: RowContext, error: Any) -> None:
    """A unit's file may date a row at most `plan.backdate_wd` working days before the day it
    is received; older paper reports are the coordinator's to record."""
    calendar = WorkCalendar(ctx.plan.plan.calendar)
    try:
        check_claimed_date(calendar, reported_on=reported_on, received_on=ctx.today,
                           backdate_wd=ctx.plan.plan.backdate_wd)
    except BackdatedReport as exc:
        earliest = calendar.shift(ctx.today, -ctx.plan.plan.backdate_wd)
        error("reported_on", msg("row.backdated", detail=str(exc), reported_on=reported_on, today=ctx.today,
                                 days=ctx.plan.plan.backdate_wd, earliest=earliest), reported_on.isoformat())


def _bad_report(exc: BadReport, reported_on: dt.date, today: dt.date, period_start: dt.date) -> Msg:
    """Which of `check_report`'s date rules the row broke (progress is checked before it)."""
    if reported_on > today:
        return msg("row.future", detail=str(exc), reported_on=reported_on, today=today)
    if reported_on < period_start:
        return msg("row.before_period", detail=str(exc), reported_on=reported_on, start=period_start)
    return msg("row.bad_report", detail=str(exc))


def _status(raw: RawRow, error: Any) -> Status | None:
    text = _text(_value(raw, "status"))
    if text is None:
        error("status", msg("row.status_required", choices=tuple(STATUS_LABELS_ZH.values())))
        return None
    try:
        return parse_status(text)
    except BadReport:
        error("status", msg("row.status_choice", choices=tuple(STATUS_LABELS_ZH.values())), text)
        return None


def _progress(raw: RawRow, error: Any) -> int | None:
    value = _value(raw, "progress")
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip().rstrip("%％").strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number) or not number.is_integer() or not 0 <= number <= 100:
        error("progress", msg("row.progress"), value)
        return None
    return int(number)


def _date(raw: RawRow, today: dt.date, error: Any) -> dt.date | None:
    value = _value(raw, "reported_on")
    if value is None or (isinstance(value, str) and not value.strip()):
        return today  # an undated row is a report made the day the file arrives
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        for fmt in _DATE_FORMATS:
            try:
                return dt.datetime.strptime(value.strip(), fmt).date()
            except ValueError:
                continue
    error("reported_on", msg("row.date"), value)
    return None


def _bounded(raw: RawRow, key: str, limit: int, error: Any) -> str | None:
    text = _text(_value(raw, key))
    if text is not None and len(text) > limit:
        error(key, msg("row.too_long", limit=limit, length=len(text)), text[:40] + "…")
        return None
    return text


def _indicators(raw: RawRow, task: Task | None, error: Any) -> dict[str, int | float]:
    values: dict[str, int | float] = {}
    if task is None:
        return values
    own = {alias: ind.id for ind in task.indicators for alias in indicator_aliases(ind.model_dump())}
    names = tuple(i.name for i in task.indicators) or msg("none")
    for header, cell in raw.extra.items():
        ident = own.get(header)
        if ident is None:
            headless = header.startswith("#")  # a value under a blank header (readers key it by position)
            error(cell, msg("row.no_header") if headless else msg("row.not_indicator", task=task.id, names=names),
                  cell.value)
            continue
        number = _number(cell.value)
        if number is None:
            error(cell, msg("row.number"), cell.value)
        else:
            values[ident] = number
    return values


def _number(value: Any) -> int | float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip().replace(",", "").rstrip("%％"))
        except ValueError:
            return None
    else:
        return None
    if not math.isfinite(number) or abs(number) > MAX_NUMBER:
        return None
    return int(number) if number.is_integer() else number

"""Report templates: one XLSX per unit, pre-filled with its open obligations.

"Open" means not done on the as-of date and already running: lights green, yellow or red.
With a `period`, the template lists that period's obligations that are not done, including
ones whose period has not started yet (a unit may report ahead). The workbook has:

- sheet `反馈表`: title, an identity row (plan, unit, plan version, as-of date), Chinese
  headers, one row per obligation. Pre-filled cells are locked (the sheet is protected, with
  no password: it guards against slips, not against a determined unit); the cells to fill
  are unlocked, with a drop-down list for 状态, 0-100 for 进度(%), a date for 报送日期 and a
  number for each indicator that belongs to the row's task (other indicator cells are grey
  and locked).
- hidden sheet `_meta`: format, plan id, unit id, plan version, as-of and generated dates,
  so that a returned file is matched back to its plan and unit without guessing.

Every text cell goes through `safety.safe_value`, so a task title such as `=HYPERLINK(…)` lands
as text, never as a formula. The XLSX is written with XlsxWriter by `inbox.form_xlsx` (every
unit contact's reminder carries one, so it must be cheap), and the same arguments give the same
bytes.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, select

from plan_tracker.domain.errors import DomainError
from plan_tracker.domain.plan import Plan, Unit
from plan_tracker.domain.suggestions import hint
from plan_tracker.inbox import signature
from plan_tracker.inbox.columns import (
    COLUMNS,
    IDENTITY_LABELS,
    LIGHT_LABELS_ZH,
    META_FORMAT,
    META_SHEET,
    STATUS_CHOICES,
    indicator_label,
)
from plan_tracker.inbox.form_xlsx import (
    LIGHT_KIND,
    Cell,
    FormWriter,
    Kind,
    Validation,
    column_letter,
)
from plan_tracker.inbox.messages import msg
from plan_tracker.services.plans import stored_plan
from plan_tracker.services.status import StatusRow, status_rows
from plan_tracker.store.models import PlanRow

SHEET = "反馈表"
TITLE_ROW, IDENTITY_ROW, HEADER_ROW, FIRST_ROW = 1, 2, 3, 4
OPEN_LIGHTS = ("green", "yellow", "red")


class TemplateError(DomainError):
    """A template cannot be made as asked (unknown unit, nothing open); `hint` lists the
    known units for the coordinator's CLI."""



@dataclass(frozen=True)
class TemplateFile:
    unit: str
    path: Path
    rows: int


def plan_version(conn: Connection, plan_id: str) -> int:
    table = PlanRow.__table__  # type: ignore[attr-defined]
    stored_plan(conn, plan_id)  # raises UnknownPlan with a clear message
    return int(conn.execute(select(table.c.version).where(table.c.id == plan_id)).scalar_one())


def open_obligations(engine: Engine, plan_id: str, as_of: dt.date, *, unit: str | None = None,
                     period: str | None = None) -> dict[str, list[StatusRow]]:
    """Open obligations by unit, in plan order (see the module docstring for "open")."""
    by_unit: dict[str, list[StatusRow]] = defaultdict(list)
    for row in status_rows(engine, plan_id, as_of):
        if unit is not None and row.unit != unit:
            continue
        if period is not None:
            if row.period != period or row.light in ("done", "done_late"):
                continue
        elif row.light not in OPEN_LIGHTS:
            continue
        by_unit[row.unit].append(row)
    return dict(by_unit)


def write_templates(engine: Engine, plan_id: str, *, as_of: dt.date, today: dt.date, out_dir: Path,
                    unit: str | None = None, period: str | None = None,
                    secret: str | None = None) -> list[TemplateFile]:
    """Write `<plan>-<unit>-<as_of>.xlsx` into `out_dir` for each unit with open obligations;
    with `secret`, each `_meta` identity is signed (a unit may then return it by mail)."""
    with engine.connect() as conn:
        plan = stored_plan(conn, plan_id, as_of)  # the version in force on the as-of date
        version = plan_version(conn, plan_id)
    if unit is not None and unit not in {u.id for u in plan.units}:
        raise TemplateError(msg("template.unknown_unit", plan=plan_id, unit=unit),
                            hint=hint(unit, [u.id for u in plan.units]))
    rows = open_obligations(engine, plan_id, as_of, unit=unit, period=period)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for u in plan.units:  # plan order, so files come out in a stable order
        if u.id not in rows:
            continue
        path = out_dir / f"{plan_id}-{u.id}-{as_of.isoformat()}.xlsx"
        path.write_bytes(build_form(plan, version, u, rows[u.id], as_of=as_of, today=today, secret=secret))
        written.append(TemplateFile(u.id, path, len(rows[u.id])))
    return written


def build_form(plan: Plan, version: int, unit: Unit, rows: list[StatusRow], *, as_of: dt.date,
               today: dt.date, secret: str | None = None) -> bytes:
    """The unit's form as XLSX bytes (see the module docstring); the same arguments give the
    same bytes."""
    tasks = {t.id: t for _, t in plan.tasks()}
    labels = {row.task: tuple(indicator_label(i.model_dump()) for i in tasks[row.task].indicators) for row in rows}
    indicators: list[str] = []  # column labels, in order of first use
    for row in rows:
        for label in labels[row.task]:
            if label not in indicators:
                indicators.append(label)
    width = len(COLUMNS) + len(indicators)
    grid = [_title(plan, unit, as_of), _identity(plan, version, unit, as_of), _headers(indicators)]
    grid += [_row(row, tasks[row.task].title, labels[row.task], indicators) for row in rows]
    widths = [c.width for c in COLUMNS] + [max(12, len(label) * 2) for label in indicators]
    form = FormWriter(today)
    form.sheet(SHEET, grid, widths=widths, merged=[(TITLE_ROW - 1, 0, TITLE_ROW - 1, max(width, 8) - 1)],
               validations=_validations(plan, len(rows), indicators), frozen=(FIRST_ROW, 3),
               format_rows_and_columns=True)  # widths and heights may still be changed
    form.sheet(META_SHEET, _meta_rows(plan, version, unit, as_of, today, secret), hidden=True)
    return form.bytes()


def _title(plan: Plan, unit: Unit, as_of: dt.date) -> list[Cell]:
    return [(f"{plan.plan.title} — {unit.name} 工作进展反馈表（截至 {as_of.isoformat()}）", Kind.TITLE)]


def _identity(plan: Plan, version: int, unit: Unit, as_of: dt.date) -> list[Cell]:
    identity: list[tuple[str, Any]] = [(IDENTITY_LABELS["plan"], plan.id), (IDENTITY_LABELS["unit"], unit.id),
                                       (IDENTITY_LABELS["plan_version"], version),
                                       (IDENTITY_LABELS["as_of"], as_of.isoformat())]
    return [cell for label, value in identity for cell in ((label, Kind.BOLD), (value, Kind.DEFAULT))]


def _headers(indicators: list[str]) -> list[Cell]:
    return [(c.label, Kind.HEADER) for c in COLUMNS] + [(label, Kind.HEADER) for label in indicators]


def _row(row: StatusRow, title: str, own: tuple[str, ...], indicators: list[str]) -> list[Cell]:
    """Pre-filled cells locked (the due date as a date); the cells to fill unlocked, white;
    an indicator cell open only when the indicator is the row's task's, grey otherwise."""
    cells: list[Cell] = [(row.task, Kind.DEFAULT), (title, Kind.DEFAULT), (row.period, Kind.DEFAULT),
                         (row.due, Kind.DATE),
                         (LIGHT_LABELS_ZH.get(row.light, row.light), LIGHT_KIND.get(row.light, Kind.DEFAULT))]
    cells += [(None, _FILL_IN_STYLE[c.key]) for c in COLUMNS if c.fill_in]
    return cells + [(None, Kind.OPEN if label in own else Kind.GREYED) for label in indicators]


_FILL_IN_STYLE = {c.key: {"note": Kind.FILL_IN_WRAP, "reported_on": Kind.FILL_IN_DATE}.get(c.key, Kind.FILL_IN)
                  for c in COLUMNS if c.fill_in}


def _validations(plan: Plan, count: int, indicators: list[str]) -> list[Validation]:
    if count == 0:
        return []
    last = FIRST_ROW + count - 1

    def span(key: str) -> str:
        letter = column_letter(next(i for i, c in enumerate(COLUMNS, start=1) if c.key == key))
        return f"{letter}{FIRST_ROW}:{letter}{last}"

    start = plan.plan.start
    found = [
        Validation("list", span("status"), "状态", "请从下拉列表中选择：" + "、".join(STATUS_CHOICES),
                   choices=STATUS_CHOICES, prompt_title="状态", prompt="请从下拉列表中选择"),
        Validation("integer", span("progress"), "进度(%)", "请填写 0 到 100 之间的整数", value="0", maximum="100"),
        Validation("date", span("reported_on"), "报送日期", "请填写日期，例如 2018-03-31", criteria=">=",
                   value=f"DATE({start.year},{start.month},{start.day})"),
    ]
    if indicators:
        first = column_letter(len(COLUMNS) + 1)
        final = column_letter(len(COLUMNS) + len(indicators))
        found.append(Validation("decimal", f"{first}{FIRST_ROW}:{final}{last}", "指标", "请填写数字",
                                value="-1000000000000", maximum="1000000000000"))
    return found


def _meta_rows(plan: Plan, version: int, unit: Unit, as_of: dt.date, today: dt.date,
               secret: str | None) -> list[list[Cell]]:
    entries: list[tuple[str, Any]] = [
        ("format", META_FORMAT), ("plan", plan.id), ("unit", unit.id), ("plan_version", version),
        ("as_of", as_of.isoformat()), ("generated_on", today.isoformat()), ("sheet", SHEET),
        ("header_row", HEADER_ROW),
    ]
    if secret is not None:
        entries.append((signature.KEY, signature.sign(secret, dict(entries))))
    return [[(key, Kind.DEFAULT), (value, Kind.DEFAULT)] for key, value in entries]

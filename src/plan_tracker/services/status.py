"""Reading status: every obligation's light on an as-of date, computed set-based in SQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from functools import cache
from typing import Any

from sqlalchemy import Connection, Engine, TextClause, bindparam, func, select, text

from plan_tracker.services.context import PlanContext, plan_context
from plan_tracker.store.dates import stored_date as _date
from plan_tracker.store.evaluation_sql import status_rows_sql
from plan_tracker.store.models import Obligation


@dataclass(frozen=True)
class StatusRow:
    task: str
    unit: str
    period: str
    due: dt.date
    light: str
    status: str | None
    progress: int | None
    overdue_wd: int

    def as_json(self) -> dict[str, Any]:
        row = asdict(self)
        row["due"] = self.due.isoformat()
        return row


def id_bounds(conn: Connection, plan_id: str) -> tuple[int, int]:
    """The lowest and highest obligation id of a plan ((0, -1) for none), read at the ends
    of the index on (plan_id, active, id): one look-up per end and value of `active`. A
    MIN/MAX over the plan alone reads the plan's every entry of that index on SQLite (11 ms
    at 100k obligations, several times a night), since `active` sits between the two."""
    t = Obligation.__table__  # type: ignore[attr-defined]
    ends = []
    for active in (True, False):
        of_slice = (t.c.plan_id == plan_id) & (t.c.active == active)
        ends += [select(func.min(t.c.id)).where(of_slice).scalar_subquery(),
                 select(func.max(t.c.id)).where(of_slice).scalar_subquery()]
    low_on, high_on, low_off, high_off = conn.execute(select(*ends)).one()
    lows = [int(v) for v in (low_on, low_off) if v is not None]
    highs = [int(v) for v in (high_on, high_off) if v is not None]
    return (min(lows), max(highs)) if lows else (0, -1)


def eval_params(conn: Connection, plan_id: str, as_of: dt.date) -> dict[str, Any]:
    return plan_context(conn, plan_id, as_of).eval_params(conn, as_of)


def status_rows(engine: Engine, plan_id: str | PlanContext, as_of: dt.date) -> list[StatusRow]:
    """Every obligation tracked on `as_of`, as the record stood that day: the terms of the
    plan version in force then and the reports received by then."""
    with engine.connect() as conn:
        ctx = plan_id if isinstance(plan_id, PlanContext) else plan_context(conn, plan_id, as_of)
        return status_rows_in(conn, ctx, as_of)


def status_rows_in(conn: Connection, ctx: PlanContext, as_of: dt.date) -> list[StatusRow]:
    params = ctx.eval_params(conn, as_of)
    low, high = id_bounds(conn, ctx.id)
    statement = text(status_rows_sql(history=ctx.reads_history(as_of)))
    rows = [_status_row(r) for r in conn.execute(statement, {**params, "lo": low, "hi": high}).mappings()]
    order = {t.id: i for i, (_, t) in enumerate(ctx.plan.tasks())}
    rows.sort(key=lambda r: (order.get(r.task, len(order)), r.task, r.period, r.unit))
    return rows


# Obligations read per statement by `status_rows_by_id`: a delivery batch's forms (256
# recipients, half of them unit contacts with some 15 items each) in one or two statements,
# far inside SQLite's and PostgreSQL's limits on bound parameters.
IDS_PER_STATEMENT = 2000


def status_rows_by_id(conn: Connection, ctx: PlanContext, as_of: dt.date, obligation_ids: Iterable[int],
                      params: dict[str, Any] | None = None) -> dict[int, StatusRow]:
    """The rows of the listed obligations by id (the items of a batch's messages): one read
    per IDS_PER_STATEMENT ids, never a row more; an inactive or unknown id has none.
    `params`: `ctx.eval_params(conn, as_of)` when the caller has them already."""
    ids = sorted(set(obligation_ids))
    if not ids:
        return {}
    params = ctx.eval_params(conn, as_of) if params is None else params
    statement = _listed_statement(ctx.reads_history(as_of))
    found: dict[int, StatusRow] = {}
    for start in range(0, len(ids), IDS_PER_STATEMENT):
        chunk = ids[start:start + IDS_PER_STATEMENT]
        for r in conn.execute(statement, {**params, "lo": chunk[0], "hi": chunk[-1], "ids": chunk}).mappings():
            found[int(r["id"])] = _status_row(r)
    return found


@cache
def _listed_statement(history: bool) -> TextClause:
    # made once: `text` parses the long statement for its parameters, about 1 ms each time
    return text(status_rows_sql(history=history, listed=True)).bindparams(bindparam("ids", expanding=True))


def _status_row(r: Any) -> StatusRow:
    return StatusRow(r["task"], r["unit"], r["period"], _date(r["due"]), r["light"], r["status"],
                     r["progress"], int(r["overdue_wd"]))



"""Reading status: every obligation's light on an as-of date, computed set-based in SQL."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from functools import cache
from typing import Any

from sqlalchemy import Connection, Engine, TextClause, func, select, text

from plan_tracker.services.context import PlanContext, plan_context
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
    t = Obligation.__table__  # type: ignore[attr-defined]
    low, high = conn.execute(select(func.min(t.c.id), func.max(t.c.id)).where(t.c.plan_id == plan_id)).one()
    return (int(low), int(high)) if low is not None else (0, -1)


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


def status_rows_of(conn: Connection, ctx: PlanContext, as_of: dt.date, obligation_ids: list[int],
                   params: dict[str, Any] | None = None) -> list[StatusRow]:
    """The rows of a few obligations (a message's items), in no set order: one read per run
    of consecutive ids (a unit's items of one task usually are), never a row more.
    `params`: `ctx.eval_params(conn, as_of)` when the caller has them already."""
    params = ctx.eval_params(conn, as_of) if params is None else params
    statement = _status_statement(ctx.reads_history(as_of))
    return [_status_row(r) for low, high in _runs(sorted(set(obligation_ids)))
            for r in conn.execute(statement, {**params, "lo": low, "hi": high}).mappings()]


@cache
def _status_statement(history: bool) -> TextClause:
    # made once: `text` parses the long statement for its parameters, about 1 ms each time
    return text(status_rows_sql(history=history))


def _runs(ids: list[int]) -> list[tuple[int, int]]:
    """Sorted ids as (first, last) of each run of consecutive ids."""
    runs: list[tuple[int, int]] = []
    for oid in ids:
        if runs and runs[-1][1] == oid - 1:
            runs[-1] = (runs[-1][0], oid)
        else:
            runs.append((oid, oid))
    return runs


def _status_row(r: Any) -> StatusRow:
    return StatusRow(r["task"], r["unit"], r["period"], _date(r["due"]), r["light"], r["status"],
                     r["progress"], int(r["overdue_wd"]))


def _date(value: Any) -> dt.date:
    """Raw SQL returns dates as ISO strings on SQLite and as dates on PostgreSQL."""
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))

"""Reading status: every obligation's light on an as-of date, computed set-based in SQL."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, Engine, func, select, text

from plan_tracker.services.plans import stored_plan
from plan_tracker.store import calendar_table
from plan_tracker.store.evaluation_sql import STATUS_ROWS
from plan_tracker.store.models import Obligation, PlanRow


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


def plan_calendar_key(conn: Connection, plan_id: str) -> str:
    stored_plan(conn, plan_id)  # raises UnknownPlan with a clear message
    table = PlanRow.__table__  # type: ignore[attr-defined]
    return str(conn.execute(select(table.c.calendar_key).where(table.c.id == plan_id)).scalar_one())


def id_bounds(conn: Connection, plan_id: str) -> tuple[int, int]:
    t = Obligation.__table__  # type: ignore[attr-defined]
    low, high = conn.execute(select(func.min(t.c.id), func.max(t.c.id)).where(t.c.plan_id == plan_id)).one()
    return (int(low), int(high)) if low is not None else (0, -1)


def eval_params(conn: Connection, plan_id: str, as_of: dt.date) -> dict[str, Any]:
    key = plan_calendar_key(conn, plan_id)
    return {"plan": plan_id, "as_of": as_of, "cal": key, "ord_d": calendar_table.ordinal_on(conn, key, as_of)}


def status_rows(engine: Engine, plan_id: str, as_of: dt.date) -> list[StatusRow]:
    with engine.connect() as conn:
        params = eval_params(conn, plan_id, as_of)
        low, high = id_bounds(conn, plan_id)
        rows = conn.execute(text(STATUS_ROWS), {**params, "lo": low, "hi": high}).mappings()
        return [
            StatusRow(r["task"], r["unit"], r["period"], _date(r["due"]), r["light"], r["status"],
                      r["progress"], int(r["overdue_wd"]))
            for r in rows
        ]


def _date(value: Any) -> dt.date:
    """Raw SQL returns dates as ISO strings on SQLite and as dates on PostgreSQL."""
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))

"""Reading reminders: what was raised for each obligation and where delivery stands."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, Engine, and_, select

from plan_tracker.services.context import plan_context
from plan_tracker.store.evaluation_sql import as_of_statement
from plan_tracker.store.models import Obligation
from plan_tracker.store.outbox_models import Delivery, Recipient
from plan_tracker.store.recorded_steps import recorded_steps


@dataclass(frozen=True)
class ReminderRow:
    task: str
    unit: str
    period: str
    level: str
    recipients: list[str]
    fired_on: dt.date
    state: str

    def as_json(self) -> dict[str, Any]:
        row = asdict(self)
        row["fired_on"] = self.fired_on.isoformat()
        return row


def reminder_rows(engine: Engine, plan_id: str, as_of: dt.date | None = None) -> list[ReminderRow]:
    """Reminders raised on or before `as_of` (all when None) and the steps skipped beside
    them, oldest first, each under the task and unit ids its obligation had on `as_of` (a
    later rename does not rename the past)."""
    r, o = recorded_steps(), Obligation.__table__  # type: ignore[attr-defined]
    d, rc = Delivery.__table__, Recipient.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        ctx = plan_context(conn, plan_id, as_of)
        query = (
            select(r.c.id, r.c.obligation_id, o.c.task_id, o.c.unit_id, o.c.period, r.c.level, r.c.fired_on, r.c.state,
                   r.c.seq, r.c.position)
            .join(o, o.c.id == r.c.obligation_id).where(r.c.plan_id == plan_id)
            .order_by(r.c.fired_on, o.c.task_id, o.c.unit_id, o.c.period, r.c.position, r.c.seq)
        )
        if as_of is not None:
            query = query.where(r.c.fired_on <= as_of)
        rows = conn.execute(query).all()
        names = _names_on(conn, plan_id, as_of) if as_of is not None and ctx.reads_history(as_of) else {}
        recipients: dict[int, list[str]] = {}
        for reminder_id, address in conn.execute(
            select(d.c.reminder_id, rc.c.address).join(rc, and_(rc.c.plan_id == d.c.plan_id, rc.c.key == d.c.recipient_key))
            .where(d.c.plan_id == plan_id, d.c.reminder_id.is_not(None)).order_by(d.c.reminder_id, rc.c.address)
        ):
            recipients.setdefault(reminder_id, []).append(address)
    found = []
    for row in rows:
        task, unit = names.get(row.obligation_id, (row.task_id, row.unit_id))
        found.append((ReminderRow(task, unit, row.period, row.level, recipients.get(row.id, []), row.fired_on,
                                  row.state), row.position, row.seq))
    if names:
        found.sort(key=lambda f: (f[0].fired_on, f[0].task, f[0].unit, f[0].period, f[1], f[2]))
    return [f[0] for f in found]


_NAMES_ON = as_of_statement("o.id, o.task_id, o.unit_id")


def _names_on(conn: Connection, plan_id: str, day: dt.date) -> dict[int, tuple[str, str]]:
    """Each obligation's task and unit ids as they were on `day`."""
    return {int(i): (t, u) for i, t, u in conn.execute(_NAMES_ON, {"plan": plan_id, "as_of": day})}

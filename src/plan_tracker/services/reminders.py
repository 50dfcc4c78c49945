"""Reading reminders: what was raised for each obligation and where delivery stands."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Engine, and_, select

from plan_tracker.services.plans import stored_plan
from plan_tracker.store.models import Obligation
from plan_tracker.store.outbox_models import Delivery, Recipient, Reminder


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
    """Reminders raised on or before `as_of` (all when None), oldest first."""
    r, o = Reminder.__table__, Obligation.__table__  # type: ignore[attr-defined]
    d, rc = Delivery.__table__, Recipient.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        stored_plan(conn, plan_id)
        query = (
            select(r.c.id, o.c.task_id, o.c.unit_id, o.c.period, r.c.level, r.c.fired_on, r.c.state, r.c.seq, r.c.position)
            .join(o, o.c.id == r.c.obligation_id).where(r.c.plan_id == plan_id)
            .order_by(r.c.fired_on, o.c.task_id, o.c.unit_id, o.c.period, r.c.position, r.c.seq)
        )
        if as_of is not None:
            query = query.where(r.c.fired_on <= as_of)
        rows = conn.execute(query).all()
        recipients: dict[int, list[str]] = {}
        for reminder_id, address in conn.execute(
            select(d.c.reminder_id, rc.c.address).join(rc, and_(rc.c.plan_id == d.c.plan_id, rc.c.key == d.c.recipient_key))
            .where(d.c.plan_id == plan_id).order_by(d.c.reminder_id, rc.c.address)
        ):
            recipients.setdefault(reminder_id, []).append(address)
    return [
        ReminderRow(row.task_id, row.unit_id, row.period, row.level, recipients.get(row.id, []),
                    row.fired_on, row.state)
        for row in rows
    ]

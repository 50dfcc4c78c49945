"""The stored plan's last day of follow-up (domain/follow_up.py), read from the store."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, Engine, func, select

from plan_tracker.domain.follow_up import follow_up_until
from plan_tracker.services.plans import stored_plan
from plan_tracker.store.dates import stored_date_or_none as _date
from plan_tracker.store.models import Obligation

_OBLIGATIONS = Obligation.__table__  # type: ignore[attr-defined]


def follow_up_end(conn: Connection, plan_id: str) -> dt.date:
    """`plan.follow_up_until`, or 60 days after the latest due date of an active obligation."""
    header = stored_plan(conn, plan_id).plan
    if header.follow_up_until is not None:
        return header.follow_up_until
    last_due = conn.execute(select(func.max(_OBLIGATIONS.c.due)).where(
        _OBLIGATIONS.c.plan_id == plan_id, _OBLIGATIONS.c.active)).scalar_one()
    return follow_up_until(None, _date(last_due), header.end)


def follow_up_over(engine: Engine, plan_id: str, day: dt.date) -> dt.date | None:
    """The plan's last day of follow-up if `day` is after it, else None."""
    with engine.connect() as conn:
        last = follow_up_end(conn, plan_id)
    return last if day > last else None

"""Which of tonight's deliveries wait for a weekly digest, and until when.

A recipient's delivery for a step waits when every role the recipient holds among the
step's `notify` roles has a weekly cadence (`plan.cadence`; the leading group by default).
Someone who is also a daily reader of that step (a leading-group member who heads a unit)
gets it daily: cadence may delay a message, never drop one.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from sqlalchemy import Connection, select

from plan_tracker.domain.cadence import digest_day
from plan_tracker.domain.calendar import WorkCalendar
from plan_tracker.domain.plan import Cadence, Plan
from plan_tracker.store.outbox_models import RoleRecipient


@dataclass(frozen=True)
class Hold:
    level: str
    keys: list[str]
    until: dt.datetime  # UTC: midnight of the digest day in the plan's time zone


def digest_holds(conn: Connection, plan: Plan, as_of: dt.date) -> list[Hold]:
    """Per ladder level, the recipients whose deliveries raised on `as_of` wait for the digest."""
    rr = RoleRecipient.__table__  # type: ignore[attr-defined]
    roles_of: dict[str, set[str]] = {}
    for key, role in conn.execute(select(rr.c.recipient_key, rr.c.role).where(rr.c.plan_id == plan.id)):
        roles_of.setdefault(key, set()).add(role)
    day = digest_day(WorkCalendar(plan.plan.calendar), as_of)
    until = dt.datetime.combine(day, dt.time(0, 0), tzinfo=zoneinfo.ZoneInfo(plan.plan.timezone)).astimezone(dt.UTC)
    holds = []
    for step in plan.ladder():
        notified = {role.value for role in step.notify}
        keys = sorted(key for key, roles in roles_of.items()
                      if (held := roles & notified) and all(plan.cadence_of(r) is Cadence.weekly for r in held))
        if keys and day > as_of:
            holds.append(Hold(step.level, keys, until))
    return holds

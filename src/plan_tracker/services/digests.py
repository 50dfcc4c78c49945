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
class DigestHolds:
    """The night's waiting deliveries: (level, recipient key) pairs, all until one digest day."""

    until: dt.datetime  # UTC: midnight of the digest day in the plan's time zone
    pairs: list[tuple[str, str]]


def digest_holds(conn: Connection, plan: Plan, as_of: dt.date) -> DigestHolds:
    """Per ladder level, the recipients whose deliveries raised on `as_of` wait for the digest
    (none when the digest day is `as_of` itself)."""
    rr = RoleRecipient.__table__  # type: ignore[attr-defined]
    roles_of: dict[str, set[str]] = {}
    for key, role in conn.execute(select(rr.c.recipient_key, rr.c.role).where(rr.c.plan_id == plan.id)):
        roles_of.setdefault(key, set()).add(role)
    day = digest_day(WorkCalendar(plan.plan.calendar), as_of)
    until = dt.datetime.combine(day, dt.time(0, 0), tzinfo=zoneinfo.ZoneInfo(plan.plan.timezone)).astimezone(dt.UTC)
    pairs: list[tuple[str, str]] = []
    if day > as_of:
        for step in plan.ladder():
            notified = {role.value for role in step.notify}
            pairs += sorted((step.level, key) for key, roles in roles_of.items()
                            if (held := roles & notified) and all(plan.cadence_of(r) is Cadence.weekly for r in held))
    return DigestHolds(until, list(dict.fromkeys(pairs)))  # a level named twice holds once

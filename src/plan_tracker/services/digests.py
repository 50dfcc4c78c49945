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
from plan_tracker.domain.plan import Cadence, Plan, Role
from plan_tracker.store.outbox_models import RoleRecipient


@dataclass(frozen=True)
class DigestHolds:
    """The night's waiting deliveries: (level, recipient key) pairs, all until one digest day."""

    until: dt.datetime  # UTC: midnight of the digest day in the plan's time zone
    pairs: list[tuple[str, str]]


def digest_holds(conn: Connection, plan: Plan, as_of: dt.date) -> DigestHolds:
    """Per ladder level, the recipients whose deliveries raised on `as_of` wait for the digest
    (none when the digest day is `as_of` itself)."""
    day = digest_day(WorkCalendar(plan.plan.calendar), as_of)
    until = dt.datetime.combine(day, dt.time(0, 0), tzinfo=zoneinfo.ZoneInfo(plan.plan.timezone)).astimezone(dt.UTC)
    weekly = {role.value for role in Role if plan.cadence_of(role) is Cadence.weekly}
    if day <= as_of or not weekly:
        return DigestHolds(until, [])
    # Only a recipient holding a weekly role can wait: every role of theirs is read for those
    # alone (a plan of 26,667 units has 53,000 recipients and a handful of weekly readers).
    rr = RoleRecipient.__table__  # type: ignore[attr-defined]
    weekly_readers = select(rr.c.recipient_key).where(rr.c.plan_id == plan.id, rr.c.role.in_(sorted(weekly)))
    roles_of: dict[str, set[str]] = {}
    for key, role in conn.execute(select(rr.c.recipient_key, rr.c.role)
                                  .where(rr.c.plan_id == plan.id, rr.c.recipient_key.in_(weekly_readers))):
        roles_of.setdefault(key, set()).add(role)
    pairs: list[tuple[str, str]] = []
    for step in plan.ladder():
        notified = {role.value for role in step.notify}
        pairs += sorted((step.level, key) for key, roles in roles_of.items()
                        if (held := roles & notified) and held <= weekly)
    return DigestHolds(until, list(dict.fromkeys(pairs)))  # a level named twice holds once

"""Raising delivery rows not tied to a reminder: the coordinator's decisions digest here, the
week's report from `reports.weekly_mail` (through `raise_topic`). Once raised, a topic row is
delivered like a reminder's (`services.delivery`): in the recipient's one message of the
run, claimed, frozen, sent, recorded, retried.

The decisions digest: on each working day on which something waits for the coordinator
(blocked items with the unit's reason, extension requests, done reports to review), each
coordinator recipient gets one `decisions:<night>` row; with a weekly coordinator cadence it
waits for the digest day, like the coordinator's reminders. Nothing waiting, no row.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from sqlalchemy import Connection, Engine, bindparam, select, text
from sqlalchemy.types import Date
from sqlmodel.sql.sqltypes import UTCDateTime

from plan_tracker.domain.cadence import digest_day
from plan_tracker.domain.calendar import WorkCalendar
from plan_tracker.domain.errors import CalendarNotCovered
from plan_tracker.domain.plan import Cadence, Plan, Role
from plan_tracker.store.outbox_models import RoleRecipient

# The NOT EXISTS keeps PostgreSQL from drawing an id for a row already raised (ids, and so
# message keys, match a single run's); the unique index of topic rows settles a race (its
# WHERE names that partial index as the conflict's target: migration 0016).
_RAISE = text("""
INSERT INTO delivery (plan_id, recipient_key, topic, raised_on, state, attempts, next_attempt_at)
SELECT CAST(:plan AS VARCHAR(64)), CAST(:key AS VARCHAR(300)), CAST(:topic AS VARCHAR(40)), :raised_on,
       'pending', 0, :hold
WHERE NOT EXISTS (SELECT 1 FROM delivery WHERE plan_id = CAST(:plan AS VARCHAR(64))
                  AND recipient_key = CAST(:key AS VARCHAR(300)) AND topic = CAST(:topic AS VARCHAR(40)))
ON CONFLICT (plan_id, recipient_key, topic) WHERE topic IS NOT NULL DO NOTHING
""").bindparams(bindparam("raised_on", type_=Date()), bindparam("hold", type_=UTCDateTime()))


def raise_topic(conn: Connection, plan_id: str, recipient_key: str, topic: str, raised_on: dt.date,
                hold: dt.datetime | None = None) -> bool:
    """One topic row for a recipient, once (True when it is new)."""
    return bool(conn.execute(_RAISE, {"plan": plan_id, "key": recipient_key, "topic": topic,
                                      "raised_on": raised_on, "hold": hold}).rowcount)


def holders(conn: Connection, plan_id: str, role: Role) -> list[str]:
    """Recipient keys holding a plan-wide role (coordinator, leading group)."""
    rr = RoleRecipient.__table__  # type: ignore[attr-defined]
    return sorted(set(conn.execute(select(rr.c.recipient_key).where(
        rr.c.plan_id == plan_id, rr.c.unit_id == "*", rr.c.role == role.value)).scalars()))


def raise_decisions(engine: Engine, plan: Plan, as_of: dt.date) -> int:
    """The night's decisions digest rows (see the module doc); the number raised."""
    from plan_tracker.services.message_model import waiting_decisions

    calendar = WorkCalendar(plan.plan.calendar)
    try:
        if not calendar.is_working_day(as_of):
            return 0  # a weekend's decisions are Monday's
    except CalendarNotCovered:
        return 0
    with engine.begin() as conn:
        keys = holders(conn, plan.id, Role.coordinator)
        if not keys or not waiting_decisions(conn, plan, as_of):
            return 0
        hold = _digest_hold(plan, calendar, as_of) if plan.cadence_of(Role.coordinator) is Cadence.weekly else None
        return sum(raise_topic(conn, plan.id, key, f"decisions:{as_of.isoformat()}", as_of, hold) for key in keys)


def _digest_hold(plan: Plan, calendar: WorkCalendar, as_of: dt.date) -> dt.datetime | None:
    day = digest_day(calendar, as_of)
    if day <= as_of:
        return None
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=zoneinfo.ZoneInfo(plan.plan.timezone)).astimezone(dt.UTC)

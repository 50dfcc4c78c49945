"""The escalation record as its readers see it: every ladder step recorded for an obligation,
fired (a reminder, in its delivery state) or skipped (a `skipped_step`, state `skipped`).

Since migration 0013 the two kinds live apart (a skipped step is never a message, and a
first night records three times as many as it fires); readers that show the record whole
(the `reminders` listing, the report's escalation history, a rename's dry-run) read this
union, in the reminder's columns.
"""

from __future__ import annotations

from sqlalchemy import Integer, String, Subquery, cast, literal, null, select, union_all

from plan_tracker.store.models import Obligation
from plan_tracker.store.outbox_models import Reminder, SkippedStep

SKIPPED = "skipped"  # the state a skipped step shows; `reminder.state` never holds it


def recorded_steps() -> Subquery:
    """(id, plan_id, obligation_id, level, position, seq, scheduled_on, fired_on, state) of
    every recorded step; `id` is the reminder's, NULL for a skipped step (it has no
    deliveries to join)."""
    r = Reminder.__table__  # type: ignore[attr-defined]
    k, o = SkippedStep.__table__, Obligation.__table__  # type: ignore[attr-defined]
    fired = select(r.c.id, r.c.plan_id, r.c.obligation_id, r.c.level, r.c.position, r.c.seq, r.c.scheduled_on,
                   r.c.fired_on, r.c.state)
    skipped = (select(cast(null(), Integer).label("id"), o.c.plan_id, k.c.obligation_id, k.c.level, k.c.position,
                      k.c.seq, k.c.scheduled_on, k.c.fired_on, cast(literal(SKIPPED), String(10)).label("state"))
               .join(o, o.c.id == k.c.obligation_id))
    return union_all(fired, skipped).subquery("recorded_step")

"""Blocked items (受阻): the coordinator's queue and the decision to resume escalation.

A unit's `blocked` report pauses the item's escalation beyond the first step (the rule and
its reference: `domain.escalation.escalation_paused`; the fast path: `evaluation_sql._PAUSED`).
The item waits in the coordinator's queue (portal review page, coordinator message) with
the unit's reason until the coordinator:

- resumes escalation (`resume_escalation`, 恢复催办): the ladder continues where it stands;
- grants an extension (the due date moves; the unit reports again when it can); or
- cancels the item with the plan-change rules (a new plan version).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, exists, insert, select

from plan_tracker.domain.errors import DomainError
from plan_tracker.services.access import OBLIGATIONS, Conflict, NotFound
from plan_tracker.store.audit import record_event
from plan_tracker.store.dates import stored_date as _date
from plan_tracker.store.models import StatusReport
from plan_tracker.store.portal_models import EscalationResume

REPORTS = StatusReport.__table__  # type: ignore[attr-defined]
RESUMES = EscalationResume.__table__  # type: ignore[attr-defined]
MAX_REASON = 2000


class NotBlocked(Conflict):
    """Resuming an item whose latest report is not `blocked`."""


@dataclass(frozen=True)
class BlockedItem:
    obligation_id: int
    task: str
    unit: str
    period: str
    reason: str | None  # the unit's note on its blocked report
    since: dt.date  # the blocked report's date


def blocked_items(conn: Connection, plan_id: str, as_of: dt.date, *, limit: int = 500,
                  active_only: bool = True) -> list[BlockedItem]:
    """Active items whose latest report on `as_of` (dated and received by then) says blocked
    and that no resume since answers: escalation is paused for them (oldest first).
    `active_only=False` for a past date: an item cancelled later was still tracked then (the
    report filters by the terms in force on its date)."""
    newer = REPORTS.alias("newer")
    later = select(newer.c.id).where(
        newer.c.obligation_id == REPORTS.c.obligation_id, newer.c.reported_on <= as_of,
        newer.c.received_on <= as_of,
        (newer.c.reported_on > REPORTS.c.reported_on)
        | ((newer.c.reported_on == REPORTS.c.reported_on) & (newer.c.id > REPORTS.c.id)))
    resumed = select(RESUMES.c.id).where(
        RESUMES.c.obligation_id == REPORTS.c.obligation_id, RESUMES.c.resumed_on <= as_of,
        RESUMES.c.resumed_on >= REPORTS.c.reported_on)
    o = OBLIGATIONS
    owned = [o.c.id == REPORTS.c.obligation_id, o.c.plan_id == plan_id, *([o.c.active] if active_only else [])]
    # The blocked reports first, down `ix_report_blocked` (blocked reports by date: few in any
    # store), the plan a condition on each: from the plan's obligations (where SQLite's
    # planner, without statistics, starts) the query read every report of the plan to find
    # the few blocked ones, 1.0-1.5 s at 1M obligations (BENCHMARKS.md, eleventh pass).
    paused = (select(REPORTS.c.id)
              .where(REPORTS.c.status == "blocked", REPORTS.c.reported_on <= as_of, REPORTS.c.received_on <= as_of,
                     exists().where(*owned), ~later.exists(), ~resumed.exists())
              .order_by(REPORTS.c.reported_on, REPORTS.c.obligation_id).limit(limit).correlate(None))
    rows = conn.execute(
        select(o.c.id, o.c.task_id, o.c.unit_id, o.c.period, REPORTS.c.note, REPORTS.c.reported_on)
        .join(REPORTS, REPORTS.c.obligation_id == o.c.id)
        .where(REPORTS.c.id.in_(paused.scalar_subquery()))
        .order_by(REPORTS.c.reported_on, o.c.id))
    return [BlockedItem(int(r.id), r.task_id, r.unit_id, r.period, r.note, _date(r.reported_on)) for r in rows]


def find_obligation(conn: Connection, plan_id: str, task: str, unit: str, period: str) -> int:
    o = OBLIGATIONS
    found = conn.execute(select(o.c.id).where(o.c.plan_id == plan_id, o.c.task_id == task, o.c.unit_id == unit,
                                              o.c.period == period, o.c.active)).scalar_one_or_none()
    if found is None:
        raise NotFound("obligation.unknown_active", task=task, unit=unit, period=period, plan=plan_id)
    return int(found)


def resume_escalation(engine: Engine, *, plan_id: str, obligation_id: int, actor: str, reason: str | None,
                      today: dt.date, source: str, payload: dict[str, Any] | None = None) -> dt.date:
    """Record the coordinator's resume (dated `today`, plan-local) and its audit event in
    one transaction. Refused unless the item is paused now (latest report blocked, no
    resume since)."""
    why = (reason or "").strip() or None
    if why is not None and len(why) > MAX_REASON:
        raise ResumeRefused("resume.reason_too_long", length=len(why), limit=MAX_REASON)
    with engine.begin() as conn:
        o = OBLIGATIONS
        ob = conn.execute(select(o.c.task_id, o.c.unit_id, o.c.period).where(
            o.c.id == obligation_id, o.c.plan_id == plan_id, o.c.active)).first()
        if ob is None:
            raise NotFound("obligation.unknown_active_id", obligation=obligation_id, plan=plan_id)
        if not any(b.obligation_id == obligation_id for b in blocked_items(conn, plan_id, today, limit=10_000)):
            raise NotBlocked("resume.not_blocked")
        conn.execute(insert(RESUMES).values(plan_id=plan_id, obligation_id=obligation_id, resumed_on=today,
                                            reason=why, decided_by=actor))
        record_event(conn, plan_id=plan_id, kind="escalation.resumed", actor=actor, source=source,
                     payload={"obligation_id": obligation_id, "task": ob.task_id, "unit": ob.unit_id,
                              "period": ob.period, "resumed_on": today.isoformat(), "reason": why,
                              **(payload or {})})
    return today


class ResumeRefused(DomainError):
    """A resume that breaks a rule (reason too long)."""



"""Recording status reports from any source (CLI, inbox, API), each audited in the event log."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, insert, select
from sqlalchemy.exc import IntegrityError

from plan_tracker.domain.errors import DomainError
from plan_tracker.domain.obligations import obligation_period
from plan_tracker.domain.reports import (
    BackdatedReport,
    BadReport,
    check_claimed_date,
    check_report,
    parse_status,
)
from plan_tracker.domain.suggestions import hint as suggest
from plan_tracker.services.context import plan_context
from plan_tracker.store.audit import record_event
from plan_tracker.store.evaluation_sql import as_of_statement
from plan_tracker.store.models import Obligation, StatusReport, utcnow

__all__ = ["BackdatedReport", "check_claimed_date"]


class NotYourObligation(DomainError):
    """The unit does not lead this task for this period (or the task is unknown). `hint`
    (known ids, a near miss) is for the coordinator's CLI only, never a unit's client."""



@dataclass(frozen=True)
class Submission:
    plan_id: str
    task: str
    unit: str
    period: str
    status: str
    reported_on: dt.date
    progress: int | None = None
    note: str | None = None
    evidence: str | None = None
    indicator_values: dict[str, Any] | None = None


@dataclass(frozen=True)
class Receipt:
    report_id: int
    obligation_id: int
    duplicate: bool
    progress: int | None = None  # as recorded (a done report without one records 100)


_TRACKED_ON = as_of_statement(
    "o.id, o.period_start", "o.task_id = :task AND o.unit_id = :unit AND o.period = :period AND o.active = TRUE")


def find_obligation(conn: Connection, plan_id: str, task_id: str, unit_id: str, period: str,
                    day: dt.date | None = None) -> tuple[int, dt.date]:
    """The obligation (task, unit, period) as tracked on `day` (default: the latest version's
    names, today's record). Raises NotYourObligation with the reason."""
    ctx = plan_context(conn, plan_id, day)
    plan = ctx.plan
    task = next((t for _, t in plan.tasks() if t.id == task_id), None)
    if task is None:
        raise NotYourObligation("plan.no_task", plan=plan_id, task=task_id,
                                hint=suggest(task_id, [t.id for _, t in plan.tasks()]))
    if unit_id not in {u.id for u in plan.units}:
        raise NotYourObligation("plan.no_unit", plan=plan_id, unit=unit_id,
                                hint=suggest(unit_id, [u.id for u in plan.units]))
    found = obligation_period(plan, task, period)
    if day is None:
        t = Obligation.__table__  # type: ignore[attr-defined]
        row = conn.execute(
            select(t.c.id).where(t.c.plan_id == plan_id, t.c.task_id == task_id, t.c.unit_id == unit_id,
                                 t.c.period == found.key, t.c.active)
        ).scalar_one_or_none()
    else:
        row = conn.execute(_TRACKED_ON, {"plan": plan_id, "as_of": day, "task": task_id, "unit": unit_id,
                                         "period": found.key}).scalar_one_or_none()
    if row is None:
        raise NotYourObligation("submit.not_lead" if day is None else "submit.not_lead_on",
                                unit=unit_id, task=task_id, period=period, day=day)
    return int(row), found.start


REPORTS = StatusReport.__table__  # type: ignore[attr-defined]


def _dedupe_key(s: Submission, source: str) -> str:
    blob = json.dumps([s.plan_id, s.task, s.unit, s.period, s.status, s.reported_on.isoformat(),
                       s.progress, s.note, s.evidence, s.indicator_values or {}, source],
                      sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def record_report(conn: Connection, s: Submission, *, today: dt.date, actor: str, source: str,
                  dedupe: bool = False, received_on: dt.date | None = None) -> Receipt:
    """Validate and insert one report inside the caller's transaction.

    `received_on` is the day a unit sends the report (API, portal, inbox): its claimed date
    may be at most the plan's `backdate_wd` working days earlier. Without it the report is
    the coordinator's record of a paper report, received on the date it claims.
    With `dedupe`, an identical submission (e.g. the same inbox row) is recognised and not
    recorded twice, so re-ingesting a file changes nothing.
    """
    parse_status(s.status)  # a bad status is named before an unknown obligation
    if received_on is not None:
        ctx = plan_context(conn, s.plan_id, received_on)
        check_claimed_date(ctx.calendar, reported_on=s.reported_on, received_on=received_on,
                           backdate_wd=ctx.plan.plan.backdate_wd)
    obligation_id, period_start = find_obligation(conn, s.plan_id, s.task, s.unit, s.period,
                                                  received_on or s.reported_on)
    return insert_report(conn, s, obligation_id=obligation_id, period_start=period_start, today=today,
                         actor=actor, source=source, dedupe=dedupe, received_on=received_on)


_INSERT_REPORT = insert(REPORTS).returning(REPORTS.c.id)
_BY_DEDUPE_KEY = select(REPORTS.c.id).where(REPORTS.c.dedupe_key == bindparam("key"))


def insert_report(conn: Connection, s: Submission, *, obligation_id: int, period_start: dt.date,
                  today: dt.date, actor: str, source: str, dedupe: bool = False,
                  received_on: dt.date | None = None) -> Receipt:
    """`record_report` for a caller that has already found (and authorised) the obligation
    `s` names — the API reads its row to check who may write it (and checks the claimed
    date with `check_claimed_date`). `received_on` None: received on the claimed date."""
    status = parse_status(s.status)
    progress = check_report(status=status, progress=s.progress, reported_on=s.reported_on,
                            today=today, period_start=period_start)
    key = _dedupe_key(s, source) if dedupe else None
    if key is not None:
        existing = conn.execute(_BY_DEDUPE_KEY, {"key": key}).scalar_one_or_none()
        if existing is not None:
            return Receipt(int(existing), obligation_id, True)
    values = {"obligation_id": obligation_id, "status": status.value, "progress": progress,
              "note": s.note, "evidence": s.evidence, "indicator_values": s.indicator_values or {},
              "reported_on": s.reported_on, "received_on": received_on or s.reported_on,
              "received_at": utcnow(), "source": source,
              "actor": actor, "dedupe_key": key}
    report_id = conn.execute(_INSERT_REPORT, values).scalar_one()
    record_event(conn, plan_id=s.plan_id, kind="report.recorded", actor=actor, source=source,
                 payload={"report_id": report_id, "task": s.task, "unit": s.unit, "period": s.period,
                          "status": status.value, "progress": progress,
                          "reported_on": s.reported_on.isoformat(),
                          "received_on": (received_on or s.reported_on).isoformat()})
    return Receipt(int(report_id), obligation_id, False, progress)


def submit(engine: Engine, s: Submission, *, today: dt.date, actor: str, source: str = "cli") -> Receipt:
    """Record one report in its own transaction (acknowledged only once committed)."""
    try:
        with engine.begin() as conn:
            return record_report(conn, s, today=today, actor=actor, source=source)
    except IntegrityError as exc:  # a concurrent identical dedupe key: already recorded
        raise BadReport("report.already_recorded") from exc

"""The nightly report stage: the day's report files, and the weekly report to managers.

- Every night writes `<reports>/<plan>/<as-of>.<format>` in the formats of
  `PLAN_TRACKER_NIGHTLY_FORMATS` (default html, xlsx, json), each rendered once from the
  night's one report model (atomically; a re-run rewrites the same files). The stage runs
  after the reminders are recorded and delivered: a failure here loses or delays none. The
  model is usually built beside the night already (`reports.ahead`); the stage renders it.
- On the first working day of each ISO week (by the plan's calendar) the week's report goes
  to the managers — the plan's coordinator and leading-group recipients — through the
  delivery outbox (`reports.weekly_mail.raise_weekly`, raised in the delivery stage): one
  `weekly:<ISO week>` row per manager, sent in the manager's one message of the run with
  their reminders or 通报 digest (or alone), text and HTML (headline figures and the overdue
  list). A night missed on that day is caught up by a later run of the same week (see
  `weekly_due`); a failed send is retried, a disabled channel holds it, the delivery window
  applies, exactly as for reminders (`services.delivery`).
- This stage, after the snapshot, only reports where the week's rows stand.

Decision before side effect: a manager's weekly row is raised only when no `sent` record
exists for (plan, ISO week, recipient) and no row for the week exists; its delivery is
claimed, frozen and recorded like a reminder's, with the `report.weekly` event written in
the transaction that records it `sent`. The only duplicate is the documented crash window
between a send and its record, resent byte-identical (same Message-ID).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, and_, func, select

from plan_tracker.atomic_files import SHARED, write_atomically
from plan_tracker.domain.cadence import first_working_day_of_week
from plan_tracker.domain.calendar import WorkCalendar
from plan_tracker.domain.errors import CalendarNotCovered
from plan_tracker.domain.plan import Plan
from plan_tracker.reports.build import build_report
from plan_tracker.reports.files import render
from plan_tracker.reports.model import Report
from plan_tracker.services.context import PlanContext
from plan_tracker.services.plans import stored_plan
from plan_tracker.store.dates import stored_date_or_none
from plan_tracker.store.models import Event
from plan_tracker.store.outbox_models import NightlyRun, Recipient, RoleRecipient

DAILY_FORMATS = ("html", "xlsx", "json")  # the default of `Settings.nightly_formats`
MANAGER_ROLES = ("coordinator", "leading_group")
WEEKLY_EVENT = "report.weekly"


@dataclass
class WeeklyResult:
    """Where the week's report rows stand after the night (delivery is the outbox's job)."""

    week: str | None = None  # ISO week key when the weekly report is due this run
    sent: int = 0
    waiting: int = 0  # raised, not sent yet: delivery window, backoff or a disabled channel
    failed: int = 0  # dead (see `plan-tracker doctor`)


@dataclass
class ReportStageResult:
    files: list[Path] = field(default_factory=list)
    weekly: WeeklyResult = field(default_factory=WeeklyResult)

    def as_dict(self) -> dict[str, Any]:
        w = self.weekly
        return {"files": [p.name for p in self.files],
                "weekly": {"week": w.week, "sent": w.sent, "waiting": w.waiting, "failed": w.failed}}


def daily_paths(folder: Path, plan_id: str, as_of: dt.date,
                formats: Sequence[str] = DAILY_FORMATS) -> dict[str, Path]:
    return {fmt: folder / plan_id / f"{as_of.isoformat()}.{fmt}" for fmt in formats}


def write_daily_files(report: Report, folder: Path, formats: Sequence[str] = DAILY_FORMATS) -> list[Path]:
    return [write_atomically(path, render(report, fmt), mode=SHARED)
            for fmt, path in daily_paths(folder, report.plan_id, report.as_of, formats).items()]


def week_key(day: dt.date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def weekly_due(calendar: WorkCalendar, as_of: dt.date, first_night: dt.date | None) -> bool:
    """Whether a run on `as_of` should (still) send the week's report.

    From the week's first working day on, so a missed or failed night (or a message waiting
    for the delivery window) is caught up by a later run of the same week — provided the
    plan's nightly was already running by that first working day (`first_night`, the
    earliest nightly run of the plan): a store that starts mid-week begins with next week.
    """
    try:
        first = first_working_day_of_week(calendar, as_of)
    except CalendarNotCovered:
        return False
    if first is None or as_of < first:
        return False
    return as_of == first or (first_night is not None and first_night <= first)


def run_report_stage(engine: Engine, plan_id: str, as_of: dt.date, *, now: dt.datetime, settings: Any,
                     factory: Any = None, context: PlanContext | None = None,
                     built: Report | None = None) -> ReportStageResult:
    """The nightly `report` stage: write the day's files (in `settings.nightly_formats`; the
    report model is built only when one is asked for, unless the night `built` it beside its
    stages: `reports.ahead`), then the weekly report if due."""
    result = ReportStageResult()
    formats = tuple(settings.nightly_formats)
    if formats:
        daily = built or build_report(engine, context or plan_id, as_of)
        result.files = write_daily_files(daily, settings.folder("reports"), formats)
    with engine.connect() as conn:
        plan = context.plan if context is not None else stored_plan(conn, plan_id, as_of)
    if weekly_night(engine, plan, as_of):
        result.weekly = weekly_status(engine, plan_id, week_key(as_of))
    return result


def weekly_night(engine: Engine, plan: Plan, as_of: dt.date) -> bool:
    """Whether the night of `as_of` sends (or still catches up) the week's report: `weekly_due`
    with the plan's first nightly run read from the store."""
    runs = NightlyRun.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        found = conn.execute(select(func.min(runs.c.as_of)).where(runs.c.plan_id == plan.id)).scalar_one()
    return weekly_due(WorkCalendar(plan.plan.calendar), as_of, stored_date_or_none(found))


def weekly_status(engine: Engine, plan_id: str, week: str) -> WeeklyResult:
    from plan_tracker.store.outbox_models import Delivery

    d = Delivery.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        states: dict[str, int] = dict(conn.execute(select(d.c.state, func.count()).where(
            d.c.plan_id == plan_id, d.c.topic == f"weekly:{week}").group_by(d.c.state)).all())
    return WeeklyResult(week=week, sent=states.get("sent", 0),
                        waiting=sum(states.get(s, 0) for s in ("pending", "failed", "sending")),
                        failed=states.get("dead", 0))


def _managers(engine: Engine, plan_id: str) -> list[Any]:
    rr, rc = RoleRecipient.__table__, Recipient.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return list(conn.execute(
            select(rc).distinct()
            .join(rr, and_(rr.c.plan_id == rc.c.plan_id, rr.c.recipient_key == rc.c.key))
            .where(rc.c.plan_id == plan_id, rr.c.unit_id == "*", rr.c.role.in_(MANAGER_ROLES))
            .order_by(rc.c.key)
        ))


def _sent_keys(engine: Engine, plan_id: str, week: str) -> set[str]:
    ev = Event.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        rows = conn.execute(select(ev.c.payload).where(ev.c.plan_id == plan_id, ev.c.kind == WEEKLY_EVENT))
        return {p.get("recipient") for (p,) in rows
                if p.get("week") == week and p.get("state") in ("sent", "dead")}

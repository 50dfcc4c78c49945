"""The nightly report stage: the day's report files, and the weekly report to managers.

- Every night writes `<reports>/<plan>/<as-of>.html|.xlsx|.json` (atomically; a re-run
  rewrites the same files).
- On the first working day of each ISO week (by the plan's calendar) the week's report goes
  to the managers — the plan's coordinator and leading-group recipients — through the
  reminder channels: one message per recipient, text and HTML (headline figures and the
  overdue list). A manager with reminders or a digest waiting gets the report inside that
  message instead (`reports.weekly_mail`), so the week's report never makes a second message. A night
  missed on that day, a failed send or a message waiting for the delivery window is caught
  up by a later run of the same week (see `weekly_due`).

Decision before side effect: a recipient's weekly report is sent only when no `sent` record
exists for (plan, ISO week, recipient), and the send is recorded in the event log right
after. A crash between the two resends on the next run with the same message key (the file
outbox then keeps its one file; e-mail carries the same Message-ID) — the same documented
window as reminder delivery. A failing channel is recorded and never stops the night;
windowed channels (SMTP, robots) wait for the plan's delivery window like reminders do.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, and_, func, select

from plan_tracker.atomic_files import SHARED, write_atomically
from plan_tracker.channels import DeliveryError, Message, build_channel
from plan_tracker.domain.cadence import first_working_day_of_week
from plan_tracker.domain.calendar import WorkCalendar
from plan_tracker.domain.errors import CalendarNotCovered
from plan_tracker.reports.build import build_report, snapshot_on_or_before
from plan_tracker.reports.files import render
from plan_tracker.reports.model import Report
from plan_tracker.reports.weekly_mail import weekly_part
from plan_tracker.services.context import PlanContext
from plan_tracker.services.messages import MessageModel, render_model
from plan_tracker.services.plans import stored_plan
from plan_tracker.store.audit import record_event
from plan_tracker.store.models import Event
from plan_tracker.store.outbox_models import NightlyRun, Recipient, RoleRecipient

DAILY_FORMATS = ("html", "xlsx", "json")
MANAGER_ROLES = ("coordinator", "leading_group")
WEEKLY_EVENT = "report.weekly"


@dataclass
class WeeklyResult:
    week: str | None = None  # ISO week key when the weekly report is due this run
    sent: int = 0
    already_sent: int = 0
    waiting: int = 0  # outside the delivery window
    failed: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class ReportStageResult:
    files: list[Path] = field(default_factory=list)
    weekly: WeeklyResult = field(default_factory=WeeklyResult)

    def as_dict(self) -> dict[str, Any]:
        w = self.weekly
        return {"files": [p.name for p in self.files],
                "weekly": {"week": w.week, "sent": w.sent, "already_sent": w.already_sent,
                           "waiting": w.waiting, "failed": w.failed}}


def daily_paths(folder: Path, plan_id: str, as_of: dt.date) -> dict[str, Path]:
    return {fmt: folder / plan_id / f"{as_of.isoformat()}.{fmt}" for fmt in DAILY_FORMATS}


def write_daily_files(report: Report, folder: Path) -> list[Path]:
    return [write_atomically(path, render(report, fmt), mode=SHARED)
            for fmt, path in daily_paths(folder, report.plan_id, report.as_of).items()]


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
                     factory: Any = None, context: PlanContext | None = None) -> ReportStageResult:
    """The nightly `report` stage: write the day's files, then the weekly report if due."""
    result = ReportStageResult()
    daily = build_report(engine, context or plan_id, as_of)
    result.files = write_daily_files(daily, settings.folder("reports"))
    with engine.connect() as conn:
        plan = context.plan if context is not None else stored_plan(conn, plan_id, as_of)
        runs = NightlyRun.__table__  # type: ignore[attr-defined]
        found = conn.execute(select(func.min(runs.c.as_of)).where(runs.c.plan_id == plan_id)).scalar_one()
    first_night = None if found is None else found if isinstance(found, dt.date) else dt.date.fromisoformat(str(found))
    if weekly_due(WorkCalendar(plan.plan.calendar), as_of, first_night):
        result.weekly = send_weekly_report(engine, plan_id, as_of, now=now, settings=settings, factory=factory,
                                           context=context)
    return result


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


def _record(engine: Engine, plan_id: str, now: dt.datetime, payload: dict[str, Any]) -> None:
    with engine.begin() as conn:
        record_event(conn, plan_id=plan_id, kind=WEEKLY_EVENT, actor="nightly", source="nightly",
                     payload=payload, at=now)


def weekly_message_key(plan_id: str, week: str, recipient_key: str) -> str:
    return hashlib.sha256(f"weekly|{plan_id}|{week}|{recipient_key}".encode()).hexdigest()[:32]


def send_weekly_report(engine: Engine, plan_id: str, as_of: dt.date, *, now: dt.datetime, settings: Any,
                       factory: Any = None, context: PlanContext | None = None) -> WeeklyResult:
    """Send the week's report to every manager not yet sent it this ISO week."""
    from plan_tracker.services.delivery import in_window, resolve_route

    factory = factory or (lambda kind, options: build_channel(kind, **options))
    week = week_key(as_of)
    result = WeeklyResult(week=week)
    recipients = _managers(engine, plan_id)
    done = _sent_keys(engine, plan_id, week)
    pending = [r for r in recipients if r.key not in done]
    result.already_sent = len(recipients) - len(pending)
    if not pending:
        return result
    with engine.connect() as conn:
        plan = context.plan if context is not None else stored_plan(conn, plan_id, as_of)
        # "Change since the previous report": the last snapshot a week or more before.
        since = snapshot_on_or_before(conn, plan_id, as_of - dt.timedelta(days=7))
    report = build_report(engine, context or plan_id, as_of, since=since)
    # The same message templates as the reminders: text and HTML from one model, no sections.
    model = MessageModel(plan.plan.locale, "", plan.plan.title, as_of, report.coordinator_name,
                         plan.plan.portal_url or settings.portal_url, sections=[], weekly=weekly_part(report))
    window_open = in_window(plan, now)
    routes: dict[str, Any] = {}
    for recipient in pending:
        route = resolve_route(recipient, settings, factory, routes)
        if route.windowed and not window_open:
            result.waiting += 1
            continue
        rendered = render_model(plan, dataclasses.replace(model, recipient_name=recipient.name))
        message = Message(recipient_name=recipient.name, address=recipient.address, subject=rendered.subject,
                          text=rendered.text, html=rendered.html,
                          message_key=weekly_message_key(plan_id, week, recipient.key))
        try:
            receipt = route.channel.send(message)
        except DeliveryError as exc:
            result.failed += 1
            result.errors.append(f"{route.name} → {recipient.key}: {exc}")
            _record(engine, plan_id, now, {"week": week, "as_of": as_of.isoformat(), "recipient": recipient.key,
                                           "state": "dead" if exc.permanent else "failed", "error": str(exc)[:500]})
            continue
        _record(engine, plan_id, now, {"week": week, "as_of": as_of.isoformat(), "recipient": recipient.key,
                                       "state": "sent", "channel": route.name, "receipt": receipt.detail[:500]})
        result.sent += 1
    return result

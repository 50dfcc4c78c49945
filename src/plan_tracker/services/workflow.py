"""The follow-up workflow around status reports: reporting through the portal/API, extension
requests (延期申请) and their decision, the coordinator's review of done reports (审结 / 退办),
and supporting units' input (配合单位意见).

Rules:
- An extension is requested before the current due date, with a reason and a later new date
  (rolled forward to a working day). Approval moves `obligation.due` (lights and escalation
  follow it at once); `obligation.original_due` keeps the plan's date for scoring.
- Sending a done report back (退办) records, as the coordinator, an `in_progress` report dated
  the send-back date: the ordinary status rules then reopen the obligation, its light is
  recomputed from the effective due date, and the escalation ladder resumes where it stands.
- An accepted (审结) obligation is closed: further reports on it are refused.

Every change writes an audit `Event` in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from plan_tracker.domain.errors import DomainError
from plan_tracker.domain.messages import msg
from plan_tracker.domain.reports import BadReport, Status, parse_status
from plan_tracker.domain.terms import change_from
from plan_tracker.services.access import (
    OBLIGATIONS,
    Conflict,
    NotFound,
    ObligationRow,
    own_obligation,
    require_coordinator,
    supported_obligation,
)
from plan_tracker.services.plans import stored_plan
from plan_tracker.services.portal import (
    EXTENSIONS,
    REPORTS,
    REVIEWS,
    SUPPORT,
    ExtensionView,
    ObligationView,
    extension_list,
    extension_pending,
    plan_context,
    report_history,
    view_of,
)
from plan_tracker.services.submissions import (
    Submission,
    check_claimed_date,
    insert_report,
    record_report,
)
from plan_tracker.services.tokens import Principal
from plan_tracker.store import calendar_table
from plan_tracker.store.audit import record_event
from plan_tracker.store.models import PlanRow, utcnow
from plan_tracker.store.terms import load_timeline, rewrite_timelines, settle_at_least

MAX_TEXT = 2000


class BadRequest(DomainError):
    """Input that breaks a workflow rule (missing reason, date not later, ...)."""


@dataclass(frozen=True)
class ReportInput:
    status: str
    reported_on: dt.date | None = None
    progress: int | None = None
    note: str | None = None
    evidence: str | None = None
    indicator_values: dict[str, Any] | None = None


def _text(value: str | None, what: str, *, required: bool) -> str | None:
    value = (value or "").strip()
    if not value:
        if required:
            raise BadRequest("workflow.required", what=msg(what))
        return None
    if len(value) > MAX_TEXT:
        raise BadRequest("workflow.too_long", what=msg(what), length=len(value), limit=MAX_TEXT)
    return value


def _event(conn: Connection, plan_id: str, kind: str, principal: Principal, source: str, payload: dict[str, Any]) -> None:
    record_event(conn, plan_id=plan_id, kind=kind, actor=principal.actor, source=source,
                 payload={**payload, "token_prefix": principal.prefix})


def _latest_report(conn: Connection, obligation_id: int) -> Any:
    r = REPORTS
    return conn.execute(
        select(r.c.id, r.c.status, r.c.reported_on).where(r.c.obligation_id == obligation_id)
        .order_by(r.c.reported_on.desc(), r.c.id.desc()).limit(1)
    ).first()


# -- reports --------------------------------------------------------------------------------
@dataclass(frozen=True)
class SubmittedReport:
    report_id: int
    obligation: ObligationView  # as the report leaves it, on `today`


def submit_report(engine: Engine, principal: Principal, obligation_id: int, report: ReportInput, *,
                  today: dt.date, source: str) -> SubmittedReport:
    """A unit's status report on its own obligation (audited), and the obligation's view after it.

    One short transaction: the authorisation read, the closed-after-acceptance check, the
    insert and its event. The view is computed from the history read for the check plus the
    new report (the API answers with it), not re-read."""
    with engine.begin() as conn:
        row = own_obligation(conn, principal, obligation_id, action="report.submit")
        status = parse_status(report.status)
        history, reviews = report_history(conn, row.id)
        latest = max(history, default=None)
        if latest is not None and latest[2] == Status.done and reviews.get(latest[1]) == "accepted":
            raise Conflict("workflow.accepted")
        values = dict(report.indicator_values or {})
        if values:
            known = {i.id for _, t in stored_plan(conn, row.plan_id).tasks() if t.id == row.task_id for i in t.indicators}
            unknown = sorted(set(values) - known)
            if unknown:
                raise BadReport("report.unknown_indicator_known" if known else "report.unknown_indicator",
                                task=row.task_id, names=tuple(unknown), known=tuple(sorted(known)))
        submission = Submission(
            row.plan_id, row.task_id, row.unit_id, row.period, status.value,
            report.reported_on or today, report.progress, _text(report.note, "what.note", required=False),
            _text(report.evidence, "what.evidence", required=False), values or None)
        ctx = plan_context(conn, row.plan_id)
        if not principal.coordinator:  # a unit may backdate a report only so far (the coordinator vouches)
            check_claimed_date(ctx.calendar, reported_on=submission.reported_on, received_on=today,
                               backdate_wd=ctx.plan.plan.backdate_wd)
        receipt = insert_report(conn, submission, obligation_id=row.id, period_start=row.period_start,
                                today=today, actor=principal.actor, source=source, received_on=today)
        history.append((submission.reported_on, receipt.report_id, status.value, receipt.progress))
        view = view_of(ctx, row, history, reviews,
                       extension_pending(conn, row.id), today)
        return SubmittedReport(receipt.report_id, view)


# -- extensions -------------------------------------------------------------------------------
def request_extension(engine: Engine, principal: Principal, obligation_id: int, *, new_due: dt.date,
                      reason: str | None, today: dt.date, source: str) -> ExtensionView:
    """A unit asks to move its obligation's due date (before that date, with a reason)."""
    with engine.begin() as conn:
        row = own_obligation(conn, principal, obligation_id, action="extension.request")
        why = _text(reason, "what.reason", required=True)
        if today >= row.due:
            raise BadRequest("workflow.extension_too_late", due=row.due, today=today)
        latest = _latest_report(conn, row.id)
        if latest is not None and latest.status == Status.done:
            raise Conflict("workflow.already_done")
        if conn.execute(select(EXTENSIONS.c.id).where(
                EXTENSIONS.c.obligation_id == row.id, EXTENSIONS.c.state == "pending")).first() is not None:
            raise Conflict("workflow.extension_waiting")
        ctx = plan_context(conn, row.plan_id)
        rolled = ctx.calendar.roll_forward(new_due)
        if rolled <= row.due:
            raise BadRequest("workflow.new_due_not_later", new_due=new_due, due=row.due)
        _covered(conn, row.plan_id, rolled)
        ext_id = conn.execute(insert(EXTENSIONS).values(
            plan_id=row.plan_id, obligation_id=row.id, requested_by=principal.actor, reason=why,
            old_due=row.due, new_due=rolled, requested_on=today, requested_at=utcnow(), state="pending",
        ).returning(EXTENSIONS.c.id)).scalar_one()
        _event(conn, row.plan_id, "extension.requested", principal, source, _ext_payload(row, int(ext_id), rolled, why))
        return extension_list(conn, row.plan_id, obligation_id=row.id, limit=1)[0]


def _covered(conn: Connection, plan_id: str, day: dt.date) -> None:
    """The nightly SQL needs the new due date in the calendar table."""
    plans = PlanRow.__table__  # type: ignore[attr-defined]
    key = conn.execute(select(plans.c.calendar_key).where(plans.c.id == plan_id)).scalar_one()
    calendar_table.ordinal_on(conn, str(key), day)  # raises DateNotCovered


def _move_due(conn: Connection, plan_id: str, ext: Any, today: dt.date) -> None:
    """An approved extension moves the due date from the decision day on (延期); the plan's
    date stays `original_due` for scoring, and the record of earlier days is unchanged."""
    timeline = load_timeline(conn, int(ext.obligation_id))
    terms = timeline[-1].terms
    if terms.due != ext.old_due or not terms.active:
        raise Conflict("workflow.due_changed")
    rewrite_timelines(conn, plan_id, {int(ext.obligation_id): change_from(timeline, today, replace(terms, due=ext.new_due))})
    settle_at_least(conn, plan_id, today)


def _ext_payload(row: ObligationRow, ext_id: int, new_due: dt.date, reason: str | None) -> dict[str, Any]:
    return {"extension_id": ext_id, "obligation_id": row.id, "task": row.task_id, "unit": row.unit_id,
            "period": row.period, "old_due": row.due.isoformat(), "new_due": new_due.isoformat(),
            "reason": reason}


def decide_extension(engine: Engine, principal: Principal, extension_id: int, *, approve: bool,
                     reason: str | None, source: str, today: dt.date) -> ExtensionView:
    """The coordinator approves (the due date moves from `today` on: earlier days keep the
    old date in the record) or rejects (with a reason) a pending request."""
    with engine.begin() as conn:
        require_coordinator(principal, action="extension.decide")
        e = EXTENSIONS
        ext = conn.execute(select(e).where(e.c.id == extension_id, e.c.plan_id == principal.plan_id)).first()
        if ext is None:
            raise NotFound("workflow.unknown_extension", extension=extension_id)
        why = _text(reason, "what.rejection_reason", required=not approve)
        if ext.state != "pending":
            raise Conflict("workflow.extension_decided", extension=extension_id, state=ext.state)
        claimed = conn.execute(update(e).where(e.c.id == extension_id, e.c.state == "pending").values(
            state="approved" if approve else "rejected", decided_by=principal.actor, decided_at=utcnow(),
            decision_reason=why)).rowcount
        if claimed != 1:
            raise Conflict("workflow.extension_decided_meanwhile", extension=extension_id)
        o = OBLIGATIONS
        if approve:
            _move_due(conn, principal.plan_id, ext, today)
        ob = conn.execute(select(o.c.task_id, o.c.unit_id, o.c.period).where(o.c.id == ext.obligation_id)).one()
        _event(conn, principal.plan_id, "extension.approved" if approve else "extension.rejected", principal, source,
               {"extension_id": extension_id, "obligation_id": ext.obligation_id, "task": ob.task_id,
                "unit": ob.unit_id, "period": ob.period, "old_due": ext.old_due.isoformat(),
                "new_due": ext.new_due.isoformat(), "reason": why})
        return extension_list(conn, principal.plan_id, obligation_id=ext.obligation_id, limit=1)[0]


# -- review (审结 / 退办) -----------------------------------------------------------------------
@dataclass(frozen=True)
class ReviewResult:
    report_id: int
    obligation_id: int
    decision: str
    reason: str | None
    decided_on: dt.date
    reopen_report_id: int | None

    def as_json(self) -> dict[str, Any]:
        return {"report_id": self.report_id, "obligation_id": self.obligation_id, "decision": self.decision,
                "reason": self.reason, "decided_on": self.decided_on.isoformat(),
                "reopen_report_id": self.reopen_report_id}


def review_report(engine: Engine, principal: Principal, report_id: int, *, accept: bool, reason: str | None,
                  today: dt.date, source: str) -> ReviewResult:
    """Accept (审结) or send back (退办, reason required) the latest done report of an obligation."""
    try:
        with engine.begin() as conn:
            return _review(conn, principal, report_id, accept=accept, reason=reason, today=today, source=source)
    except IntegrityError as exc:  # a concurrent review of the same report
        raise Conflict("workflow.reviewed_meanwhile", report=report_id) from exc


def _review(conn: Connection, principal: Principal, report_id: int, *, accept: bool, reason: str | None,
            today: dt.date, source: str) -> ReviewResult:
    require_coordinator(principal, action="report.review")
    r, o = REPORTS, OBLIGATIONS
    rep = conn.execute(
        select(r.c.id, r.c.status, r.c.obligation_id, o.c.task_id, o.c.unit_id, o.c.period)
        .join(o, o.c.id == r.c.obligation_id)
        .where(r.c.id == report_id, o.c.plan_id == principal.plan_id, o.c.active)
    ).first()
    if rep is None:
        raise NotFound("workflow.unknown_report", report=report_id)
    why = _text(reason, "what.send_back_reason", required=not accept)
    if rep.status != Status.done:
        raise Conflict("workflow.not_done_report", report=report_id, status=rep.status)
    if conn.execute(select(REVIEWS.c.decision).where(REVIEWS.c.report_id == report_id)).first() is not None:
        raise Conflict("workflow.already_reviewed", report=report_id)
    latest = _latest_report(conn, rep.obligation_id)
    if latest.id != report_id:
        raise Conflict("workflow.not_latest", report=report_id)
    decision = "accepted" if accept else "sent_back"
    review_id = conn.execute(insert(REVIEWS).values(
        plan_id=principal.plan_id, report_id=report_id, obligation_id=rep.obligation_id, decision=decision,
        reason=why, decided_by=principal.actor, decided_on=today, decided_at=utcnow(),
    ).returning(REVIEWS.c.id)).scalar_one()
    reopen_id = None
    if not accept:
        receipt = record_report(conn, Submission(
            principal.plan_id, rep.task_id, rep.unit_id, rep.period, Status.in_progress.value, today,
            None, f"退办：{why}"), today=today, actor="coordinator", source=source)
        reopen_id = receipt.report_id
        conn.execute(update(REVIEWS).where(REVIEWS.c.id == review_id).values(reopen_report_id=reopen_id))
    _event(conn, principal.plan_id, f"report.{decision}", principal, source,
           {"report_id": report_id, "obligation_id": rep.obligation_id, "task": rep.task_id, "unit": rep.unit_id,
            "period": rep.period, "reason": why, "reopen_report_id": reopen_id})
    return ReviewResult(report_id, int(rep.obligation_id), decision, why, today, reopen_id)


# -- supporting units ----------------------------------------------------------------------------
@dataclass(frozen=True)
class SupportReceipt:
    id: int
    obligation_id: int
    unit: str
    submitted_on: dt.date

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "obligation_id": self.obligation_id, "unit": self.unit,
                "submitted_on": self.submitted_on.isoformat()}


def add_support_input(engine: Engine, principal: Principal, obligation_id: int, *, note: str | None,
                      evidence: str | None, today: dt.date, source: str) -> SupportReceipt:
    """A supporting unit's input on a lead unit's obligation (shown on the lead's page)."""
    with engine.begin() as conn:
        row = supported_obligation(conn, principal, obligation_id, action="support.add")
        text_ = _text(note, "what.a_note", required=True)
        link = _text(evidence, "what.evidence", required=False)
        input_id = conn.execute(insert(SUPPORT).values(
            plan_id=row.plan_id, obligation_id=row.id, unit_id=principal.unit_id, note=text_, evidence=link,
            submitted_on=today, received_at=utcnow()).returning(SUPPORT.c.id)).scalar_one()
        _event(conn, row.plan_id, "support.recorded", principal, source,
               {"support_input_id": int(input_id), "obligation_id": row.id, "task": row.task_id,
                "lead_unit": row.unit_id, "period": row.period})
        return SupportReceipt(int(input_id), row.id, str(principal.unit_id), today)

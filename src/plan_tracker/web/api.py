"""The JSON API under /api/v1: thin routes that authenticate, check the plan, call one service
function and shape the answer. Object-level rules live in `services.access`; workflow rules
in `services.workflow`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from plan_tracker.services import portal, workflow
from plan_tracker.services.access import (
    Refused,
    readable_obligation,
    require_coordinator,
    require_plan,
    require_unit,
)
from plan_tracker.services.tokens import Principal
from plan_tracker.web.auth import ApiPrincipal, ApiToken, verify_token
from plan_tracker.web.errors import ErrorBody
from plan_tracker.web.fields import TEXT_PATTERN, IsoDate, NonBlankText, Number, Percent, Text
from plan_tracker.web.idempotency import idempotency_header

SOURCE = "api"
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in ((400, "a body that cannot be parsed"),
                         (401, "no token, or an invalid or revoked one"),
                         (403, "not allowed to change this object, or a request from another site (Origin)"),
                         (404, "no such object (or not yours to read)"),
                         (409, "the object's state does not allow this; or an Idempotency-Key used for "
                               "another request, or still running"),
                         (413, "a body larger than the cap (PLAN_TRACKER_MAX_BODY_BYTES, 1 MB)"),
                         (422, "invalid input"),
                         (429, "too many failed authentication attempts"))
}

router = APIRouter(prefix="/api/v1", responses=ERRORS)
IDEMPOTENT = [Depends(idempotency_header)]  # every POST: see web/idempotency.py

Id = Annotated[int, Path(ge=1, le=2_147_483_647)]
PlanId = Annotated[str, Path(max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")]
UnitFilter = Annotated[str | None, Query(max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$", description="only this unit's (coordinator; a unit may name itself)")]
AsOf = Annotated[IsoDate | None, Query(description="YYYY-MM-DD; default today in the plan's time zone")]
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]


IndicatorValues = Annotated[
    dict[Annotated[Text, Field(max_length=128)], Number],
    WithJsonSchema({"type": "object", "maxProperties": 50,
                    "propertyNames": {"type": "string", "maxLength": 128, "pattern": TEXT_PATTERN},
                    "additionalProperties": {"type": "number"}}),
]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReportIn(Input):
    status: Literal["not_started", "in_progress", "done", "blocked"]
    progress: Percent | None = None
    reported_on: IsoDate | None = Field(default=None, description="default today; never in the future")
    note: Text | None = Field(default=None, max_length=2000)
    evidence: Text | None = Field(default=None, max_length=2000, description="a link to supporting material")
    indicator_values: IndicatorValues | None = Field(
        default=None, max_length=50, description="indicator id -> value")


class ExtensionIn(Input):
    new_due: IsoDate = Field(description="the date asked for; rolled forward to a working day")
    reason: NonBlankText = Field(min_length=1, max_length=2000)


class SupportIn(Input):
    note: NonBlankText = Field(min_length=1, max_length=2000)
    evidence: Text | None = Field(default=None, max_length=2000)


class AcceptIn(Input):
    decision: Literal["accept"] = Field(description="accept = 审结")
    reason: Text | None = Field(default=None, max_length=2000)


class SendBackIn(Input):
    decision: Literal["send_back"] = Field(description="send_back = 退办 (reason required)")
    reason: NonBlankText = Field(min_length=1, max_length=2000)


# The schema says which decision needs a reason, so a client (or schemathesis) knows before asking.
ReviewIn = Annotated[AcceptIn | SendBackIn, Field(discriminator="decision")]


class ApproveIn(Input):
    decision: Literal["approve"]
    reason: Text | None = Field(default=None, max_length=2000)


class RejectIn(Input):
    decision: Literal["reject"]
    reason: NonBlankText = Field(min_length=1, max_length=2000, description="required to reject")


DecisionIn = Annotated[ApproveIn | RejectIn, Field(discriminator="decision")]


class MeOut(BaseModel):
    plan: str
    unit: str | None
    role: Literal["unit", "coordinator"]
    token_prefix: str


class ObligationOut(BaseModel):
    id: int
    task: str
    task_title: str
    section_title: str
    unit: str
    unit_name: str
    period: str
    period_start: dt.date
    due: dt.date = Field(description="effective due date (after an approved extension)")
    original_due: dt.date = Field(description="the plan's due date (scoring uses it)")
    extended: bool
    light: Literal["pending", "green", "yellow", "red", "done", "done_late"]
    overdue_wd: int
    status: str | None
    progress: int | None
    reported_on: dt.date | None
    review: Literal["accepted", "sent_back"] | None
    extension_pending: bool


class ReportOut(BaseModel):
    id: int
    obligation_id: int
    task: str
    unit: str
    period: str
    status: str
    progress: int | None
    note: str | None
    evidence: str | None
    indicator_values: dict[str, Any]
    reported_on: dt.date
    received_at: dt.datetime
    source: str
    actor: str
    review: Literal["accepted", "sent_back"] | None
    review_reason: str | None
    latest: bool


class ExtensionOut(BaseModel):
    id: int
    obligation_id: int
    task: str
    unit: str
    period: str
    requested_by: str
    reason: str
    old_due: dt.date
    new_due: dt.date
    requested_on: dt.date
    state: Literal["pending", "approved", "rejected"]
    decided_by: str | None
    decision_reason: str | None


class SupportOut(BaseModel):
    id: int
    obligation_id: int
    unit: str
    unit_name: str
    note: str
    evidence: str | None
    submitted_on: dt.date


class ObligationDetailOut(BaseModel):
    obligation: ObligationOut
    reports: list[ReportOut]
    extensions: list[ExtensionOut]
    support_inputs: list[SupportOut]
    supporters: list[str]
    indicators: list[dict[str, Any]]


class ReportReceiptOut(BaseModel):
    report_id: int
    obligation: ObligationOut


class ReviewOut(BaseModel):
    report_id: int
    obligation_id: int
    decision: Literal["accepted", "sent_back"]
    reason: str | None
    decided_on: dt.date
    reopen_report_id: int | None


class SupportReceiptOut(BaseModel):
    id: int
    obligation_id: int
    unit: str
    submitted_on: dt.date


def _today(request: Request, principal: Principal) -> dt.date:
    today: dt.date = request.app.state.today(principal.timezone)
    return today


def _engine(request: Request) -> Any:
    return request.app.state.engine


def _unit_scope(principal: Principal, unit: str | None, action: str) -> str | None:
    """Which unit's rows a listing shows: a unit sees only its own; the coordinator any."""
    if principal.coordinator:
        return unit
    if unit is not None and unit != principal.unit_id:
        raise Refused(f"no unit {unit!r} visible to this token", write=False, action=action, target={"unit": unit})
    return principal.unit_id


@router.get("/me", response_model=MeOut, summary="Who this token is")
def me(principal: ApiPrincipal) -> dict[str, Any]:
    return principal.as_json()


@router.get("/plans/{plan_id}/obligations", response_model=list[ObligationOut],
            summary="Obligations with their lights (a unit: its own; the coordinator: all)")
def list_obligations(request: Request, principal: ApiPrincipal, plan_id: PlanId, as_of: AsOf = None,
                     unit: UnitFilter = None, limit: Limit = 200, offset: Offset = 0) -> list[dict[str, Any]]:
    require_plan(principal, plan_id, write=False, action="obligation.list")
    scope = _unit_scope(principal, unit, "obligation.list")
    day = as_of or _today(request, principal)
    with _engine(request).connect() as conn:
        views = portal.list_obligations(conn, plan_id, day, unit_id=scope, limit=limit, offset=offset)
    return [v.as_json() for v in views]


@router.get("/plans/{plan_id}/obligations/{obligation_id}", response_model=ObligationDetailOut,
            summary="One obligation with its reports, extension requests and supporting input")
def get_obligation(request: Request, principal: ApiPrincipal, plan_id: PlanId, obligation_id: Id,
                   as_of: AsOf = None) -> dict[str, Any]:
    require_plan(principal, plan_id, write=False, action="obligation.read")
    with _engine(request).connect() as conn:
        row = readable_obligation(conn, principal, obligation_id, action="obligation.read")
        return portal.obligation_detail(conn, row, as_of or _today(request, principal)).as_json()


@router.post("/plans/{plan_id}/obligations/{obligation_id}/reports", status_code=201,
             response_model=ReportReceiptOut, summary="Submit a status report on one's own obligation",
             dependencies=IDEMPOTENT)
async def submit_report(request: Request, token: ApiToken, plan_id: PlanId, obligation_id: Id,
                        body: ReportIn) -> Response:
    """The busiest route, so it makes one trip to the database (see `web.database`): the token
    check, then the report's transaction (authorisation, closed check, insert, event), whose
    answer carries the obligation's view as the report leaves it."""
    submitted = await request.app.state.database.run(_submit, request, token, plan_id, obligation_id, body)
    return JSONResponse({"report_id": submitted.report_id, "obligation": submitted.obligation.as_json()},
                        status_code=201)


def _submit(request: Request, token: str, plan_id: str, obligation_id: int,
            body: ReportIn) -> workflow.SubmittedReport:
    principal = verify_token(request, token, source="api")
    require_plan(principal, plan_id, write=True, action="report.submit")
    return workflow.submit_report(
        _engine(request), principal, obligation_id,
        workflow.ReportInput(body.status, body.reported_on, body.progress, body.note, body.evidence,
                             body.indicator_values),
        today=_today(request, principal), source=SOURCE)


@router.post("/plans/{plan_id}/obligations/{obligation_id}/extensions", status_code=201,
             response_model=ExtensionOut, summary="Ask for a later due date (before the current one)", dependencies=IDEMPOTENT)
def request_extension(request: Request, principal: ApiPrincipal, plan_id: PlanId, obligation_id: Id,
                      body: ExtensionIn) -> dict[str, Any]:
    require_plan(principal, plan_id, write=True, action="extension.request")
    view = workflow.request_extension(_engine(request), principal, obligation_id, new_due=body.new_due,
                                      reason=body.reason, today=_today(request, principal), source=SOURCE)
    return view.as_json()


@router.post("/plans/{plan_id}/obligations/{obligation_id}/support-inputs", status_code=201,
             response_model=SupportReceiptOut, summary="A supporting unit's input on a lead unit's obligation",
             dependencies=IDEMPOTENT)
def add_support_input(request: Request, principal: ApiPrincipal, plan_id: PlanId, obligation_id: Id,
                      body: SupportIn) -> dict[str, Any]:
    require_plan(principal, plan_id, write=True, action="support.add")
    receipt = workflow.add_support_input(_engine(request), principal, obligation_id, note=body.note,
                                         evidence=body.evidence, today=_today(request, principal), source=SOURCE)
    return receipt.as_json()


@router.get("/plans/{plan_id}/supporting", response_model=list[ObligationOut],
            summary="Obligations of tasks this unit supports (配合)")
def supporting(request: Request, principal: ApiPrincipal, plan_id: PlanId, as_of: AsOf = None) -> list[dict[str, Any]]:
    require_plan(principal, plan_id, write=False, action="support.list")
    require_unit(principal, action="support.list")
    with _engine(request).connect() as conn:
        views = portal.supported_obligations(conn, plan_id, str(principal.unit_id), as_of or _today(request, principal))
    return [v.as_json() for v in views]


@router.get("/plans/{plan_id}/reports", response_model=list[ReportOut],
            summary="Status reports, newest first (a unit: its own); awaiting_review: the coordinator's queue")
def list_reports(request: Request, principal: ApiPrincipal, plan_id: PlanId, awaiting_review: bool = False,
                 unit: UnitFilter = None, limit: Limit = 200, offset: Offset = 0) -> list[dict[str, Any]]:
    require_plan(principal, plan_id, write=False, action="report.list")
    scope = _unit_scope(principal, unit, "report.list")
    with _engine(request).connect() as conn:
        rows = portal.report_list(conn, plan_id, awaiting_review=awaiting_review, unit_id=scope,
                                  limit=limit, offset=offset)
    return [r.as_json() for r in rows]


@router.post("/plans/{plan_id}/reports/{report_id}/review", response_model=ReviewOut,
             summary="The coordinator accepts (审结) or sends back (退办) a done report",
             dependencies=IDEMPOTENT)
def review_report(request: Request, principal: ApiPrincipal, plan_id: PlanId, report_id: Id,
                  body: ReviewIn) -> dict[str, Any]:
    require_plan(principal, plan_id, write=True, action="report.review")
    result = workflow.review_report(_engine(request), principal, report_id, accept=body.decision == "accept",
                                    reason=body.reason, today=_today(request, principal), source=SOURCE)
    return result.as_json()


@router.get("/plans/{plan_id}/extensions", response_model=list[ExtensionOut],
            summary="Extension requests, newest first (a unit: its own)")
def list_extensions(request: Request, principal: ApiPrincipal, plan_id: PlanId,
                    state: Literal["pending", "approved", "rejected"] | None = None,
                    unit: UnitFilter = None, limit: Limit = 200, offset: Offset = 0) -> list[dict[str, Any]]:
    require_plan(principal, plan_id, write=False, action="extension.list")
    scope = _unit_scope(principal, unit, "extension.list")
    with _engine(request).connect() as conn:
        rows = portal.extension_list(conn, plan_id, state=state, unit_id=scope, limit=limit, offset=offset)
    return [e.as_json() for e in rows]


@router.post("/plans/{plan_id}/extensions/{extension_id}/decision", response_model=ExtensionOut,
             summary="The coordinator approves (the due date moves) or rejects an extension request",
             dependencies=IDEMPOTENT)
def decide_extension(request: Request, principal: ApiPrincipal, plan_id: PlanId, extension_id: Id,
                     body: DecisionIn) -> dict[str, Any]:
    require_plan(principal, plan_id, write=True, action="extension.decide")
    require_coordinator(principal, action="extension.decide")
    view = workflow.decide_extension(_engine(request), principal, extension_id, approve=body.decision == "approve",
                                     reason=body.reason, source=SOURCE, today=_today(request, principal))
    return view.as_json()

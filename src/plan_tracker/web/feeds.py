"""Managers' report page and units' calendar feeds.

- `/portal/report`: the coordinator's report page (the same self-contained HTML as
  `plan-tracker report --format html`), behind the portal session.
- `/units/{unit}/deadlines.ics`: a unit's deadlines for calendar applications. Token-protected
  with `Authorization: Bearer <token>` or HTTP Basic with the token as password (what
  calendar apps send for subscriptions); a unit reads only its own feed, the coordinator any.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from plan_tracker.services.access import Refused, require_coordinator
from plan_tracker.services.tokens import Principal
from plan_tracker.web.auth import check_rate_limit, verify_token
from plan_tracker.web.errors import ApiError
from plan_tracker.web.fields import IsoDate
from plan_tracker.web.pages import PagePrincipal

router = APIRouter(include_in_schema=False)
UnitId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)]


def _today(request: Request, principal: Principal) -> dt.date:
    today: dt.date = request.app.state.today(principal.timezone)
    return today


@router.get("/portal/report", response_class=HTMLResponse)
def report_page(request: Request, principal: PagePrincipal,
                as_of: Annotated[IsoDate | None, Query()] = None) -> HTMLResponse:
    from plan_tracker.reports import build_report, render_html

    require_coordinator(principal, action="report.read", write=False)
    report = build_report(request.app.state.engine, principal.plan_id, as_of or _today(request, principal))
    return HTMLResponse(render_html(report))


def _feed_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    if scheme.lower() == "basic" and value:
        try:
            _, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            password = ""
        if password:
            return password
    raise ApiError(401, "unauthenticated", "a token is required (Bearer, or Basic with the token as password)",
                   headers={"WWW-Authenticate": 'Basic realm="plan-tracker deadlines"'})


@router.get("/units/{unit_id}/deadlines.ics")
def deadlines_feed(request: Request, unit_id: UnitId) -> Response:
    from plan_tracker.reports import ics_for_unit
    from plan_tracker.reports.ics import UnknownUnit

    check_rate_limit(request)
    principal = verify_token(request, _feed_token(request), source="api")
    if not principal.coordinator and principal.unit_id != unit_id:
        raise Refused(f"no unit {unit_id!r} visible to this token", write=False, action="deadlines.read",
                      target={"unit": unit_id})
    try:
        body = ics_for_unit(request.app.state.engine, principal.plan_id, unit_id, _today(request, principal))
    except UnknownUnit:  # only the coordinator gets here: a unit may name only itself
        raise ApiError(404, "not_found", f"plan {principal.plan_id!r} has no unit {unit_id!r}") from None
    return Response(body, media_type="text/calendar; charset=utf-8",
                    headers={"Content-Disposition": f'inline; filename="{unit_id}-deadlines.ics"'})

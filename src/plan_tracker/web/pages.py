"""Server-rendered pages: a unit's obligations and forms (report, extension, supporting input),
the coordinator's review queue. Chinese by default; usable on a phone (one column, cards).

Forms post `application/x-www-form-urlencoded` (parsed here; no multipart needed), carry a
CSRF token tied to the session cookie, and answer with a redirect (303) on success or the
same page with the error on failure.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from plan_tracker.clock import now_utc
from plan_tracker.domain.errors import DomainError, WordedError
from plan_tracker.domain.messages import msg
from plan_tracker.services import portal, sessions, workflow
from plan_tracker.services.access import (
    Conflict,
    readable_obligation,
    require_coordinator,
    require_unit,
)
from plan_tracker.services.blocked import blocked_items, resume_escalation
from plan_tracker.services.tokens import Principal
from plan_tracker.web.auth import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    check_rate_limit,
    csrf_ok,
    csrf_token,
    new_login_seed,
    session_principal_async,
    verify_token,
)
from plan_tracker.web.errors import ApiError
from plan_tracker.web.i18n import LANGS, Translator, choose_lang

SOURCE = "web"
MAX_FORM_BYTES = 64 * 1024
router = APIRouter(include_in_schema=False)
Id = Annotated[int, Path(ge=1, le=2_147_483_647)]


class LoginRequired(Exception):
    """No valid session: the page answers with a redirect to the login form."""


async def page_principal(request: Request) -> Principal:
    principal = await session_principal_async(request)
    if principal is None:
        raise LoginRequired()
    return principal


PagePrincipal = Annotated[Principal, Depends(page_principal)]


async def form_data(request: Request) -> dict[str, str]:
    """The posted form (urlencoded), first value of each field, once its CSRF token matches
    the session (or, for the login form, the login form's cookie)."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise ApiError(413, "too_large", "the form is too large")
    fields = {k: v[0] for k, v in parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True).items()}
    if not csrf_ok(request, fields.get("csrf")):
        raise ApiError(403, "forbidden", "the form has expired; reload the page and try again")
    return fields


Form = Annotated[dict[str, str], Depends(form_data)]


# -- rendering ----------------------------------------------------------------------------
def render(request: Request, name: str, *, status: int = 200, login_seed: str | None = None,
           **context: Any) -> HTMLResponse:
    lang = choose_lang(request)
    t = Translator(lang)
    principal: Principal | None = getattr(request.state, "principal", None)
    label = None
    if principal is not None:
        try:
            with request.app.state.engine.connect() as conn:
                names = portal.plan_context(conn, principal.plan_id).unit_names
        except Exception:  # an error page must render even when the store is the problem
            names = {}
        who = t("coordinator") if principal.coordinator else names.get(str(principal.unit_id), str(principal.unit_id))
        label = f"{who} · {principal.plan_id}"
    msg = request.query_params.get("msg")
    flash = t(f"msg_{msg}") if msg and f"msg_{msg}" in _known_messages() else None
    html = request.app.state.jinja.get_template(name).render(
        t=t, lang=lang, principal=principal, principal_label=label, csrf=csrf_token(request, login_seed), flash=flash,
        **context)
    response = HTMLResponse(html, status_code=status)
    if request.query_params.get("lang") in LANGS:
        response.set_cookie("lang", lang, max_age=365 * 86400, samesite="lax", httponly=True,
                            secure=request.app.state.settings.secure_cookies())
    return response


def _known_messages() -> set[str]:
    from plan_tracker.web.i18n import MESSAGES

    return set(MESSAGES)


def error_page(request: Request, status: int, code: str, message: str,
               headers: dict[str, str] | None = None) -> Response:
    t = Translator(choose_lang(request))
    heading = {404: t("not_found"), 403: t("forbidden"), 429: t("too_many")}.get(status, t("error"))
    response = render(request, "error.html", status=status, status_code=status, heading=heading,
                      message=message, code=code)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _today(request: Request, principal: Principal) -> dt.date:
    today: dt.date = request.app.state.today(principal.timezone)
    return today


# -- login -----------------------------------------------------------------------------------
@router.get("/")
def root() -> RedirectResponse:
    return _redirect("/portal")


LOGIN_FORM_MAX_AGE_S = 3600  # a login form left open longer must be reloaded


def _login_page(request: Request, *, status: int = 200, error: str | None = None) -> Response:
    """The login form, with a CSRF token tied to this browser's login cookie (set here if it
    has none yet): a page elsewhere cannot post a login form in the victim's browser."""
    seed = request.cookies.get(LOGIN_COOKIE) or new_login_seed()
    response = render(request, "login.html", status=status, error=error, login_seed=seed)
    if seed != request.cookies.get(LOGIN_COOKIE):
        response.set_cookie(LOGIN_COOKIE, seed, max_age=LOGIN_FORM_MAX_AGE_S, httponly=True, samesite="lax",
                            secure=request.app.state.settings.secure_cookies(), path="/login")
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request) -> Response:
    return _login_page(request)


@router.post("/login")
async def login(request: Request, form: Form) -> Response:
    from starlette.concurrency import run_in_threadpool

    t = Translator(choose_lang(request))
    try:
        check_rate_limit(request)
    except ApiError:
        return _login_page(request, status=429, error=t("too_many"))
    try:
        principal = await run_in_threadpool(verify_token, request, form.get("token", "").strip(), source=SOURCE)
    except ApiError:
        return _login_page(request, status=401, error=t("login_failed"))
    settings = request.app.state.settings
    session_id = await run_in_threadpool(sessions.start_session, request.app.state.engine, principal,
                                         now=now_utc(), max_age_s=settings.session_max_age_s)
    response = _redirect("/portal")
    response.set_cookie(SESSION_COOKIE, session_id, max_age=settings.session_max_age_s,
                        httponly=True, samesite="lax", secure=settings.secure_cookies(), path="/")
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request, form: Form) -> Response:
    """Ends the session on the server, not only in this browser: a copy of the cookie stops
    working too."""
    from starlette.concurrency import run_in_threadpool

    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        await run_in_threadpool(sessions.end_session, request.app.state.engine, session_id, now=now_utc())
    response = _redirect("/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# -- a unit's pages ---------------------------------------------------------------------------
@router.get("/portal", response_class=HTMLResponse)
def home(request: Request, principal: PagePrincipal) -> Response:
    if principal.coordinator:
        return _redirect("/portal/review")
    t = Translator(choose_lang(request))
    today = _today(request, principal)
    with request.app.state.engine.connect() as conn:
        views = portal.list_obligations(conn, principal.plan_id, today, unit_id=principal.unit_id, limit=1000)
    return render(request, "obligations.html", heading=t("my_obligations"), obligations=views, as_of=today,
                  show_unit=False)


@router.get("/portal/all", response_class=HTMLResponse)
def all_obligations(request: Request, principal: PagePrincipal, unit: str | None = None, offset: int = 0) -> Response:
    require_coordinator(principal, action="obligation.list", write=True)
    t = Translator(choose_lang(request))
    today = _today(request, principal)
    with request.app.state.engine.connect() as conn:
        views = portal.list_obligations(conn, principal.plan_id, today, unit_id=unit, limit=500,
                                        offset=max(0, min(offset, 10_000_000)))
    return render(request, "obligations.html", heading=t("all_obligations"), obligations=views, as_of=today,
                  show_unit=True)


def _obligation_page(request: Request, principal: Principal, obligation_id: int, *, status: int = 200,
                     error: str | None = None, form: dict[str, str] | None = None) -> Response:
    today = _today(request, principal)
    with request.app.state.engine.connect() as conn:
        row = readable_obligation(conn, principal, obligation_id, action="obligation.read")
        detail = portal.obligation_detail(conn, row, today)
    o = detail.obligation
    can_report = not principal.coordinator and o.unit == principal.unit_id
    can_extend = can_report and today < o.due and o.status != "done" and not o.extension_pending
    return render(request, "obligation.html", status=status, error=error, detail=detail, today=today,
                  can_report=can_report, can_extend=can_extend, form=form or {})


@router.get("/portal/obligations/{obligation_id}", response_class=HTMLResponse)
def obligation(request: Request, principal: PagePrincipal, obligation_id: Id) -> Response:
    return _obligation_page(request, principal, obligation_id)


def _failure(request: Request, exc: Exception) -> tuple[int, str]:
    t = Translator(choose_lang(request))
    status = 409 if isinstance(exc, Conflict) else 422
    said = exc.render(t.lang) if isinstance(exc, WordedError) else str(exc)
    return status, f"{t('error')}：{said}"


def _int(value: str | None) -> int | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise workflow.BadRequest("form.not_whole", value=value) from None


def _day(value: str | None, what: str) -> dt.date | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise workflow.BadRequest("form.not_a_date", what=msg(what), value=value) from None


def _indicators(form: dict[str, str]) -> dict[str, float]:
    values = {}
    for key, raw in form.items():
        if key.startswith("indicator.") and raw.strip():
            try:
                values[key.removeprefix("indicator.")] = float(raw)
            except ValueError:
                raise workflow.BadRequest("form.not_a_number", value=raw) from None
    return values


def _clean(value: str | None) -> str | None:
    return value.replace("\x00", "") if value is not None else None


@router.post("/portal/obligations/{obligation_id}/report")
def post_report(request: Request, principal: PagePrincipal, obligation_id: Id, form: Form) -> Response:
    try:
        report = workflow.ReportInput(
            form.get("status", ""), _day(form.get("reported_on"), "what.reported_on"), _int(form.get("progress")),
            _clean(form.get("note")), _clean(form.get("evidence")), _indicators(form) or None)
        workflow.submit_report(request.app.state.engine, principal, obligation_id, report,
                               today=_today(request, principal), source=SOURCE)
    except DomainError as exc:
        status, message = _failure(request, exc)
        return _obligation_page(request, principal, obligation_id, status=status, error=message, form=form)
    return _redirect(f"/portal/obligations/{obligation_id}?msg=report_recorded")


@router.post("/portal/obligations/{obligation_id}/extension")
def post_extension(request: Request, principal: PagePrincipal, obligation_id: Id, form: Form) -> Response:
    try:
        new_due = _day(form.get("new_due"), "what.new_due")
        if new_due is None:
            raise workflow.BadRequest("form.new_due_required")
        workflow.request_extension(request.app.state.engine, principal, obligation_id, new_due=new_due,
                                   reason=_clean(form.get("reason")), today=_today(request, principal), source=SOURCE)
    except DomainError as exc:
        status, message = _failure(request, exc)
        return _obligation_page(request, principal, obligation_id, status=status, error=message)
    return _redirect(f"/portal/obligations/{obligation_id}?msg=extension_requested")


@router.get("/portal/supporting", response_class=HTMLResponse)
def supporting(request: Request, principal: PagePrincipal) -> Response:
    return _supporting_page(request, principal)


def _supporting_page(request: Request, principal: Principal, *, status: int = 200, error: str | None = None) -> Response:
    require_unit(principal, action="support.list")
    today = _today(request, principal)
    with request.app.state.engine.connect() as conn:
        views = portal.supported_obligations(conn, principal.plan_id, str(principal.unit_id), today)
    return render(request, "supporting.html", status=status, error=error, obligations=views)


@router.post("/portal/obligations/{obligation_id}/support")
def post_support(request: Request, principal: PagePrincipal, obligation_id: Id, form: Form) -> Response:
    try:
        workflow.add_support_input(request.app.state.engine, principal, obligation_id, note=_clean(form.get("note")),
                                   evidence=_clean(form.get("evidence")), today=_today(request, principal),
                                   source=SOURCE)
    except DomainError as exc:
        status, message = _failure(request, exc)
        return _supporting_page(request, principal, status=status, error=message)
    return _redirect("/portal/supporting?msg=support_recorded")


# -- the coordinator's review queue ------------------------------------------------------------
def _review_page(request: Request, principal: Principal, *, status: int = 200, error: str | None = None) -> Response:
    require_coordinator(principal, action="review.queue", write=True)
    with request.app.state.engine.connect() as conn:
        extensions = portal.extension_list(conn, principal.plan_id, state="pending")
        reports = portal.report_list(conn, principal.plan_id, awaiting_review=True, limit=500)
        blocked = blocked_items(conn, principal.plan_id, _today(request, principal))
        ctx = portal.plan_context(conn, principal.plan_id)
    return render(request, "review.html", status=status, error=error, extensions=extensions, reports=reports,
                  blocked=blocked, titles={k: v[0] for k, v in ctx.task_titles.items()}, units=ctx.unit_names)


@router.get("/portal/review", response_class=HTMLResponse)
def review(request: Request, principal: PagePrincipal) -> Response:
    return _review_page(request, principal)


@router.post("/portal/extensions/{extension_id}/decision")
def post_decision(request: Request, principal: PagePrincipal, extension_id: Id, form: Form) -> Response:
    decision = form.get("decision")
    try:
        if decision not in ("approve", "reject"):
            raise workflow.BadRequest("form.approve_or_reject")
        require_coordinator(principal, action="extension.decide")
        workflow.decide_extension(request.app.state.engine, principal, extension_id, approve=decision == "approve",
                                  reason=_clean(form.get("reason")), source=SOURCE,
                                  today=_today(request, principal))
    except DomainError as exc:
        status, message = _failure(request, exc)
        return _review_page(request, principal, status=status, error=message)
    return _redirect(f"/portal/review?msg=extension_{'approved' if decision == 'approve' else 'rejected'}")


@router.post("/portal/obligations/{obligation_id}/resume")
def post_resume(request: Request, principal: PagePrincipal, obligation_id: Id, form: Form) -> Response:
    """The coordinator resumes the escalation of an item reported blocked (恢复催办)."""
    try:
        require_coordinator(principal, action="escalation.resume")
        resume_escalation(request.app.state.engine, plan_id=principal.plan_id, obligation_id=obligation_id,
                          actor=principal.actor, reason=_clean(form.get("reason")), today=_today(request, principal),
                          source=SOURCE, payload={"token_prefix": principal.prefix})
    except DomainError as exc:
        status, message = _failure(request, exc)
        return _review_page(request, principal, status=status, error=message)
    return _redirect("/portal/review?msg=escalation_resumed")


@router.post("/portal/reports/{report_id}/review")
def post_review(request: Request, principal: PagePrincipal, report_id: Id, form: Form) -> Response:
    decision = form.get("decision")
    try:
        if decision not in ("accept", "send_back"):
            raise workflow.BadRequest("form.accept_or_send_back")
        workflow.review_report(request.app.state.engine, principal, report_id, accept=decision == "accept",
                               reason=_clean(form.get("reason")), today=_today(request, principal), source=SOURCE)
    except DomainError as exc:
        status, message = _failure(request, exc)
        return _review_page(request, principal, status=status, error=message)
    return _redirect(f"/portal/review?msg=report_{'accepted' if decision == 'accept' else 'sent_back'}")

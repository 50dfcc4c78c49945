"""One error shape for the API, whatever went wrong:

    {"error": {"code": "not_found", "message": "no obligation 7", "details": null}}

Library errors are translated here, at the edge (STYLE habit 5). Under /api every error —
validation, unknown route, wrong method, refusal, conflict, internal — has this shape;
elsewhere (the pages) the same errors render as an HTML page.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from plan_tracker.domain.errors import DomainError
from plan_tracker.services.access import Conflict, NotFound, Refused, audit_refusal, audit_repeated
from plan_tracker.services.plans import UnknownPlan

log = logging.getLogger(__name__)

HTTP_CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
              422: "invalid", 429: "rate_limited", 500: "internal_error"}


class ErrorInfo(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorBody(BaseModel):
    """The shape of every error answer."""

    error: ErrorInfo


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: Any = None,
                 headers: dict[str, str] | None = None):
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers
        super().__init__(message)


def error_response(status: int, code: str, message: str, details: Any = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "details": details}},
                        status_code=status, headers=headers)


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api")


async def _render(request: Request, status: int, code: str, message: str, details: Any = None,
                  headers: dict[str, str] | None = None) -> Response:
    if is_api(request):
        return error_response(status, code, message, details, headers)
    from plan_tracker.web.pages import error_page

    # the page names the signed-in unit, which takes a (small) query: off the event loop
    return await run_in_threadpool(error_page, request, status, code, message, headers)


def _encodable(value: Any) -> Any:
    """`value` with unpaired surrogates escaped: an unknown key like "\ud800" is echoed in an
    error's `loc`, and no JSON encoder can write it as UTF-8."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        return await _render(request, exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
        message = str(exc.detail) if exc.detail else code
        if exc.status_code == 404 and exc.detail == "Not Found":
            message = f"no such route: {request.method} {request.url.path}"
        return await _render(request, exc.status_code, code, message, None, dict(exc.headers or {}) or None)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        details: list[dict[str, Any]] = [{"loc": [_encodable(p) for p in e.get("loc", ())],
                                          "message": _encodable(str(e.get("msg", ""))),
                                          "type": str(e.get("type", ""))}
                                         for e in exc.errors()]
        first: dict[str, Any] = details[0] if details else {"loc": [], "message": "invalid request"}
        where = ".".join(str(p) for p in first["loc"])
        return await _render(request, 422, "validation_error", f"{where}: {first['message']}" if where else first["message"], details)

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> Response:
        principal = getattr(request.state, "principal", None)
        client = request.client.host if request.client else None
        in_full, repeated = request.app.state.refusals.admit(
            client or "unknown", "auth.refused", principal.prefix if principal else None)
        if in_full:
            await run_in_threadpool(audit_refusal, request.app.state.engine, principal=principal, refused=exc,
                                    source="api" if is_api(request) else "web", client=client)
        if repeated:
            await run_in_threadpool(audit_repeated, request.app.state.engine, repeated)
        if exc.write:
            return await _render(request, 403, "forbidden", str(exc))
        return await _render(request, 404, "not_found", str(exc))

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> Response:
        return await _render(request, 404, "not_found", str(exc))

    @app.exception_handler(UnknownPlan)
    async def _unknown_plan(request: Request, exc: UnknownPlan) -> Response:
        return await _render(request, 404, "not_found", f"no plan {exc.plan_id!r}")

    @app.exception_handler(Conflict)
    async def _conflict(request: Request, exc: Conflict) -> Response:
        return await _render(request, 409, "conflict", str(exc))

    @app.exception_handler(DomainError)
    async def _domain_error(request: Request, exc: DomainError) -> Response:
        return await _render(request, 422, "invalid", str(exc))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> Response:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return await _render(request, 500, "internal_error", "internal error; it has been logged")

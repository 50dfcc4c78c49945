"""The application factory. Nothing is built at import: `create_app()` makes the engine (or
takes one), the settings, the templates and the rate limiter.

    uvicorn --factory plan_tracker.web.app:create_server_app     # what `plan-tracker serve` runs
"""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Engine
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from plan_tracker.settings import Settings

Today = Callable[[str], dt.date]  # a plan's time zone -> today's date there


def create_app(engine: Engine | None = None, settings: Settings | None = None, *,
               today: Today | None = None) -> FastAPI:
    """The portal and API. `today` reads the clock once per request (tests pass a fixed day)."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    from plan_tracker.clock import today_in
    from plan_tracker.settings import get_settings
    from plan_tracker.store.db import engine_for, make_engine
    from plan_tracker.token_secret import resolve_secret
    from plan_tracker.web import api, feeds, pages
    from plan_tracker.web.database import RequestDatabase
    from plan_tracker.web.errors import install_error_handlers
    from plan_tracker.web.guards import BodyLimit, SameOrigin
    from plan_tracker.web.idempotency import IdempotentPosts
    from plan_tracker.web.ratelimit import FailureLimiter
    from plan_tracker.web.refusals import RefusalLog

    settings = settings or get_settings()
    secret = resolve_secret(settings)  # WeakSecret: no app is built on a secret anyone can guess
    if engine is None:
        url = settings.resolved_database_url()
        engine = engine_for(url)  # migrated
        if engine.dialect.name == "sqlite":
            engine = make_engine(url, serial=True)  # see make_engine: request threads take turns
    database = RequestDatabase(engine)

    @asynccontextmanager
    async def lifespan(started: FastAPI) -> AsyncIterator[None]:
        if getattr(started.state, "freeze_gc", False):
            gc.collect()
            gc.freeze()
        yield
        from plan_tracker.services.access import audit_repeated

        audit_repeated(engine, started.state.refusals.flush())  # counts of the last minute
        database.close()

    app = FastAPI(
        lifespan=lifespan,
        title="plan-tracker API",
        version="1",
        description="督查督办 follow-up: units report and ask for extensions; the coordinator reviews. "
                    "Every error has the shape {\"error\": {\"code\", \"message\", \"details\"}}.",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # the bundled docs page loads scripts from a CDN; the schema is enough
        redoc_url=None,
    )
    app.state.engine = engine
    app.state.database = database
    app.state.settings = settings
    app.state.secret = secret
    app.state.today = today or today_in
    app.state.limiter = FailureLimiter(settings.auth_max_failures, settings.auth_failure_window_s)
    app.state.refusals = RefusalLog()
    app.state.jinja = Environment(loader=PackageLoader("plan_tracker.web", "templates"),
                                  autoescape=select_autoescape(["html"]))
    # Evidence is free text from units: only http(s) links become links (no javascript: URLs).
    app.state.jinja.tests["http_url"] = lambda value: str(value).lower().startswith(("http://", "https://"))
    install_error_handlers(app)

    @app.exception_handler(pages.LoginRequired)
    async def _login_required(request: Request, exc: pages.LoginRequired) -> Response:
        return RedirectResponse("/login", status_code=303)

    # outermost last: security headers on every answer, then the body cap, then the origin
    # check, then idempotency keys (which buffer the body the cap has bounded)
    app.add_middleware(IdempotentPosts)
    app.add_middleware(SameOrigin, portal_url=settings.portal_url)
    app.add_middleware(BodyLimit, api_max_bytes=settings.max_body_bytes, page_max_bytes=pages.MAX_FORM_BYTES)
    app.add_middleware(SecurityHeaders, hsts=settings.sends_hsts())
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(feeds.router)
    return app


def create_server_app() -> FastAPI:
    """`create_app()` as `plan-tracker serve` runs it: once started, everything built so far
    (modules, routes, schemas: a few hundred thousand objects) is moved out of the cyclic garbage
    collector's sight (`gc.freeze`). Each full collection otherwise walks them all — measured
    at 42–53 ms, every 1–2 s under load, a stall of every request in flight (it made the
    API's p99); frozen, it takes 3–4 ms. Those objects live as long as the process anyway."""
    app = create_app()
    app.state.freeze_gc = True
    return app


# the pages need no script at all, and nothing from elsewhere
PAGE_CSP = ("default-src 'self'; script-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


HSTS = "max-age=31536000"  # one year; sent only when the portal's address is https


class SecurityHeaders:
    """Security headers on every answer (the pages get a few more), unless a route set its own.

    A plain ASGI middleware: `@app.middleware("http")` (BaseHTTPMiddleware) costs a task and
    a stream per request, which the API's load measurably paid."""

    def __init__(self, app: ASGIApp, *, hsts: bool = False):
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        page = not scope["path"].startswith("/api")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                if self.hsts:
                    headers.setdefault("Strict-Transport-Security", HSTS)
                if page:
                    headers.setdefault("X-Frame-Options", "DENY")
                    headers.setdefault("Content-Security-Policy", PAGE_CSP)
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)

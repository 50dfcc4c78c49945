"""The application factory. Nothing is built at import: `create_app()` makes the engine (or
takes one), the settings, the templates and the rate limiter.

    uvicorn --factory plan_tracker.web.app:create_app     # what `plan-tracker serve` runs
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Engine

from plan_tracker.settings import Settings

Today = Callable[[str], dt.date]  # a plan's time zone -> today's date there


def create_app(engine: Engine | None = None, settings: Settings | None = None, *,
               today: Today | None = None) -> FastAPI:
    """The portal and API. `today` reads the clock once per request (tests pass a fixed day)."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    from plan_tracker.clock import today_in
    from plan_tracker.settings import get_settings
    from plan_tracker.store.db import engine_for, make_engine
    from plan_tracker.web import api, feeds, pages
    from plan_tracker.web.errors import install_error_handlers
    from plan_tracker.web.ratelimit import FailureLimiter

    settings = settings or get_settings()
    if engine is None:
        url = settings.resolved_database_url()
        engine = engine_for(url)  # migrated
        if engine.dialect.name == "sqlite":
            engine = make_engine(url, serial=True)  # see make_engine: request threads take turns
    app = FastAPI(
        title="plan-tracker API",
        version="1",
        description="督查督办 follow-up: units report and ask for extensions; the coordinator reviews. "
                    "Every error has the shape {\"error\": {\"code\", \"message\", \"details\"}}.",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # the bundled docs page loads scripts from a CDN; the schema is enough
        redoc_url=None,
    )
    app.state.engine = engine
    app.state.settings = settings
    app.state.today = today or today_in
    app.state.limiter = FailureLimiter(settings.auth_max_failures, settings.auth_failure_window_s)
    app.state.jinja = Environment(loader=PackageLoader("plan_tracker.web", "templates"),
                                  autoescape=select_autoescape(["html"]))
    # Evidence is free text from units: only http(s) links become links (no javascript: URLs).
    app.state.jinja.tests["http_url"] = lambda value: str(value).lower().startswith(("http://", "https://"))
    install_error_handlers(app)

    @app.exception_handler(pages.LoginRequired)
    async def _login_required(request: Request, exc: pages.LoginRequired) -> Response:
        return RedirectResponse("/login", status_code=303)

    @app.middleware("http")
    async def _security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if not request.url.path.startswith("/api"):
            response.headers.setdefault("X-Frame-Options", "DENY")
            # the pages need no script at all, and nothing from elsewhere
            response.headers.setdefault("Content-Security-Policy", (
                "default-src 'self'; script-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
                "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"))
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(feeds.router)
    return app

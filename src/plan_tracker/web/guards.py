"""Checks every request passes before any route, parser or authentication sees it.

- `BodyLimit`: a body larger than the cap is refused with 413 — from its `Content-Length`
  before a byte is read, or, for a chunked body, as soon as the running count passes the
  cap. The API's cap is `settings.max_body_bytes` (1 MB); the pages' forms are small
  (`pages.MAX_FORM_BYTES`, 64 KB). Nothing larger is ever buffered, parsed or authenticated.
- `SameOrigin`: a state-changing request (POST, PUT, PATCH, DELETE) whose `Origin` — or,
  without one, `Referer` — names another site is refused with 403. Browsers send `Origin`
  on every cross-site POST, so a page elsewhere cannot submit the portal's forms (the CSRF
  tokens are the second lock); programs that send neither header (API clients) pass.

Both are plain ASGI middlewares (see `app.SecurityHeaders` for why) and answer in the one
error shape under /api, with the error page elsewhere.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from plan_tracker.web.errors import error_response

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def refuse(scope: Scope, receive: Receive, send: Send, status: int, code: str, message: str,
                 details: Any = None) -> None:
    """Answer `status` in the error shape of the path (JSON under /api, a page elsewhere)."""
    response: Response
    if scope["path"].startswith("/api"):
        response = error_response(status, code, message, details)
    else:
        from plan_tracker.web.pages import error_page

        response = await run_in_threadpool(error_page, Request(scope), status, code, message)
    await response(scope, receive, send)


class BodyLimit:
    def __init__(self, app: ASGIApp, *, api_max_bytes: int, page_max_bytes: int):
        self.app = app
        self.api_max_bytes = api_max_bytes
        self.page_max_bytes = page_max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.api_max_bytes if scope["path"].startswith("/api") else self.page_max_bytes
        message = f"the request body is larger than {limit} bytes"
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await refuse(scope, receive, send, 413, "too_large", message, {"max_bytes": limit})
            return

        received = 0
        refused = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            event = await receive()
            if event["type"] == "http.request":
                received += len(event.get("body", b""))
                if received > limit:
                    refused = True
                    if not started:
                        await refuse(scope, receive, send, 413, "too_large", message, {"max_bytes": limit})
                    # the application sees a client that went away and stops reading
                    return {"type": "http.disconnect"}
            return event

        async def guarded_send(event: Message) -> None:
            nonlocal started
            if refused:
                return  # our 413 has been sent; whatever the application answers is dropped
            if event["type"] == "http.response.start":
                started = True
            await send(event)

        await self.app(scope, counting_receive, guarded_send)


def origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


class SameOrigin:
    def __init__(self, app: ASGIApp, *, portal_url: str | None):
        self.app = app
        self.portal_origin = origin_of(portal_url) if portal_url else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in UNSAFE_METHODS:
            headers = Headers(scope=scope)
            claimed = headers.get("origin")
            if claimed is None and headers.get("referer"):
                claimed = origin_of(headers["referer"]) or "null"
            if claimed is not None and claimed.lower() not in self.allowed(scope, headers):
                await refuse(scope, receive, send, 403, "forbidden",
                             "a request from another site was refused (Origin / Referer)",
                             {"origin": claimed[:200]})
                return
        await self.app(scope, receive, send)

    def allowed(self, scope: Scope, headers: Headers) -> set[str]:
        """The portal's own origin: as configured, and as this request reached the server."""
        found = {f"{scope.get('scheme', 'http')}://{headers.get('host', '')}".lower()}
        if self.portal_origin:
            found.add(self.portal_origin)
        return found

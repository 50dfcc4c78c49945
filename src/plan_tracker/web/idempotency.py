"""`Idempotency-Key` on the API's POSTs (rules in `services.idempotency`): a plain ASGI
middleware inside the body cap and the origin check, so the body it buffers is bounded."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Annotated, Any

from fastapi import Header
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from plan_tracker.clock import now_utc
from plan_tracker.services import idempotency
from plan_tracker.web.errors import error_response

HEADER = "idempotency-key"
KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"  # printable ASCII, no spaces, as Stripe's
_KEY = re.compile(KEY_PATTERN)
NOT_KEPT = frozenset({400, 401, 413, 429})  # the request never ran: the key is released


def idempotency_header(
    key: Annotated[str | None, Header(
        alias="Idempotency-Key", pattern=KEY_PATTERN, max_length=255,
        description="any unique string (e.g. a UUID): a retry with the same key and body gets the first "
                    "answer again instead of writing twice; the same key with another body gets 409; kept 24 h",
    )] = None,
) -> None:
    """Declares the header in the schema (and refuses a malformed key with 422); the work is
    done by `IdempotentPosts`."""


class IdempotentPosts:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        key = headers.get(HEADER)
        if key is None or not _KEY.match(key) or not headers.get("authorization"):
            await self.app(scope, receive, send)  # a malformed key is refused by the route (422)
            return
        body = await _read_body(receive)
        if body is None:
            return  # the client went away
        database = scope["app"].state.database
        engine = database.engine
        caller = hashlib.sha256(headers["authorization"].encode()).hexdigest()
        fingerprint = hashlib.sha256(b"\n".join([scope["method"].encode(), scope["path"].encode(),
                                                 scope.get("query_string", b""), body])).hexdigest()
        claim = await database.run(idempotency.claim, engine, scope=caller, key=key, fingerprint=fingerprint,
                                   now=now_utc())
        if isinstance(claim, idempotency.Replay):
            await _send(send, claim.status, claim.body, claim.content_type, replayed=True)
            return
        if isinstance(claim, idempotency.Mismatch):
            await error_response(409, "conflict", "this Idempotency-Key was used for a different request",
                                 {"idempotency_key": key})(scope, receive, send)
            return
        if isinstance(claim, idempotency.InProgress):
            await error_response(409, "conflict", "a request with this Idempotency-Key is still running; retry shortly",
                                 {"idempotency_key": key}, headers={"Retry-After": "1"})(scope, receive, send)
            return

        answer: dict[str, Any] = {"status": None, "content_type": None, "body": []}

        async def replay_body() -> Message:
            nonlocal body
            chunk, body = body, b""
            return {"type": "http.request", "body": chunk, "more_body": False}

        async def capturing_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                answer["content_type"] = Headers(raw=message.get("headers", [])).get("content-type")
            elif message["type"] == "http.response.body":
                answer["body"].append(message.get("body", b""))
            await send(message)

        kept = False
        try:
            await self.app(scope, replay_body, capturing_send)
            status, content = answer["status"], b"".join(answer["body"])
            if status is not None and _keep(status, content):
                await database.run(idempotency.complete, engine, claim.row_id, status=status, body=content,
                                   content_type=answer["content_type"])
                kept = True
        finally:
            if not kept:
                await database.run(idempotency.release, engine, claim.row_id)


def _keep(status: int, content: bytes) -> bool:
    """Whether an answer is the request's outcome (kept) or says it never ran (released)."""
    if status >= 500 or status in NOT_KEPT:
        return False
    if status == 422:  # a schema error never ran; a broken rule (`invalid`) is an outcome
        try:
            return bool(json.loads(content)["error"]["code"] != "validation_error")
        except (ValueError, KeyError, TypeError):
            return False
    return True


async def _read_body(receive: Receive) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send(send: Send, status: int, body: bytes, content_type: str | None, *, replayed: bool) -> None:
    headers = [(b"content-length", str(len(body)).encode())]
    if content_type:
        headers.append((b"content-type", content_type.encode()))
    if replayed:
        headers.append((b"idempotent-replayed", b"true"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

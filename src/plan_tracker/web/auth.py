"""Authentication at the edge: bearer tokens for the API, an HttpOnly session cookie for the
pages, CSRF tokens for the pages' forms, and rate limiting of failed attempts.

The session cookie names the token row and when it was issued, signed with an HMAC keyed by
`settings.token_secret`; every request re-reads the token row, so revoking a token ends its
sessions at once. Tokens are accepted in the Authorization header or the login form's body,
never in a URL, so they cannot reach an access log.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from plan_tracker.clock import now_utc
from plan_tracker.services.access import audit_failed_authentication
from plan_tracker.services.tokens import (
    AuthenticationFailed,
    Principal,
    authenticate,
    principal_by_id,
)
from plan_tracker.web.errors import ApiError

SESSION_COOKIE = "pt_session"

bearer = HTTPBearer(auto_error=False, scheme_name="token",
                    description="A unit or coordinator token from `plan-tracker tokens create`")


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _secret(request: Request) -> str:
    return request.app.state.settings.token_secret.get_secret_value()


def check_rate_limit(request: Request) -> None:
    wait = request.app.state.limiter.retry_after(client_of(request))
    if wait is not None:
        raise ApiError(429, "rate_limited", "too many failed authentication attempts; try again later",
                       {"retry_after_s": int(wait) + 1}, headers={"Retry-After": str(int(wait) + 1)})


def verify_token(request: Request, token: str, *, source: str) -> Principal:
    """The principal of `token`, or a counted, audited failure (ApiError 401)."""
    try:
        principal = authenticate(request.app.state.engine, token, secret_key=_secret(request), now=now_utc())
    except AuthenticationFailed as exc:
        request.app.state.limiter.record_failure(client_of(request))
        audit_failed_authentication(request.app.state.engine, reason=exc.reason, prefix=exc.prefix,
                                    source=source, client=client_of(request))
        raise ApiError(401, "invalid_token", "the token is invalid or has been revoked",
                       headers={"WWW-Authenticate": "Bearer"}) from None
    request.state.principal = principal
    return principal


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def bearer_token(request: Request, credentials: HTTPAuthorizationCredentials | None) -> str:
    """The presented bearer token (not yet verified), once the client is not rate limited."""
    check_rate_limit(request)
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(401, "unauthenticated", "an `Authorization: Bearer <token>` header is required",
                       headers={"WWW-Authenticate": "Bearer"})
    return credentials.credentials


def api_principal(request: Request, credentials: Credentials) -> Principal:
    """FastAPI dependency of every API endpoint (but one: see `ApiToken`)."""
    return verify_token(request, bearer_token(request, credentials), source="api")


ApiPrincipal = Annotated[Principal, Depends(api_principal)]


async def api_token(request: Request, credentials: Credentials) -> str:
    """The dependency of an endpoint that verifies the token itself, in the same trip to the
    database as its work (`verify_token`): a rate-limited client or one without a token is
    answered (429, 401) before its body is read, as with `ApiPrincipal`; a present but wrong
    token with an invalid body gets the 422 first (it learns nothing about the token)."""
    return bearer_token(request, credentials)


ApiToken = Annotated[str, Depends(api_token)]


# -- the pages' session -------------------------------------------------------------------------
def _sign(secret: str, purpose: str, value: str) -> str:
    return hmac.new(secret.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def session_value(request: Request, principal: Principal) -> str:
    body = f"{principal.token_id}.{int(time.time())}"
    return f"{body}.{_sign(_secret(request), 'session', body)}"


def session_principal(request: Request) -> Principal | None:
    """The principal of a valid, unexpired session cookie whose token is not revoked."""
    value = request.cookies.get(SESSION_COOKIE)
    if not value or value.count(".") != 2:
        return None
    token_id, issued, signature = value.split(".")
    if not hmac.compare_digest(_sign(_secret(request), "session", f"{token_id}.{issued}"), signature):
        return None
    if not (token_id.isdigit() and issued.isdigit()):
        return None
    if time.time() - int(issued) > request.app.state.settings.session_max_age_s:
        return None
    principal = principal_by_id(request.app.state.engine, int(token_id))
    if principal is not None:
        request.state.principal = principal
    return principal


async def session_principal_async(request: Request) -> Principal | None:
    return await run_in_threadpool(session_principal, request)


def csrf_token(request: Request) -> str:
    return _sign(_secret(request), "csrf", request.cookies.get(SESSION_COOKIE, ""))[:32]


def csrf_ok(request: Request, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(csrf_token(request), presented or "")

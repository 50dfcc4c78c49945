"""Authentication at the edge: bearer tokens for the API, an HttpOnly session cookie for the
pages, CSRF tokens for the pages' forms (the login form included), and rate limiting of
failed attempts.

The session cookie holds a random id stored server-side (`services.sessions`); every request
re-reads the session with its token row, so logout, revoking a token or its unit leaving the
plan ends the session at once. Tokens are accepted in the Authorization header or the login
form's body, never in a URL, so they cannot reach an access log.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from plan_tracker.clock import now_utc
from plan_tracker.services import sessions
from plan_tracker.services.access import audit_failed_authentication, audit_repeated
from plan_tracker.services.tokens import AuthenticationFailed, Principal, authenticate
from plan_tracker.web.errors import ApiError

SESSION_COOKIE = "pt_session"
LOGIN_COOKIE = "pt_login"  # ties the login form's CSRF token to this browser

bearer = HTTPBearer(auto_error=False, scheme_name="token",
                    description="A unit or coordinator token from `plan-tracker tokens create`")


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _secret(request: Request) -> str:
    secret: str = request.app.state.secret
    return secret


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
        in_full, repeated = request.app.state.refusals.admit(client_of(request), "auth.failed")
        if in_full:
            audit_failed_authentication(request.app.state.engine, reason=exc.reason, prefix=exc.prefix,
                                        source=source, client=client_of(request))
        audit_repeated(request.app.state.engine, repeated)
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


def session_principal(request: Request) -> Principal | None:
    """The principal of the request's live session (see `services.sessions`), if any."""
    value = request.cookies.get(SESSION_COOKIE)
    if not value:
        return None
    principal = sessions.session_principal(request.app.state.engine, value, now=now_utc())
    if principal is not None:
        request.state.principal = principal
    return principal


async def session_principal_async(request: Request) -> Principal | None:
    return await run_in_threadpool(session_principal, request)


def new_login_seed() -> str:
    """The value of the pre-session cookie the login form's CSRF token is tied to."""
    return secrets.token_urlsafe(16)


def csrf_token(request: Request, login_seed: str | None = None) -> str:
    """The CSRF token of the request's forms: tied to the session, or — before there is one —
    to the login form's own cookie (`login_seed` when it is being set by this answer), so a
    third-party page cannot log a victim in under the attacker's token."""
    session = request.cookies.get(SESSION_COOKIE)
    if session:
        return _sign(_secret(request), "csrf", session)[:32]
    seed = login_seed or request.cookies.get(LOGIN_COOKIE)
    return _sign(_secret(request), "login", seed)[:32] if seed else ""


def csrf_ok(request: Request, presented: str | None) -> bool:
    expected = csrf_token(request)
    return bool(expected) and bool(presented) and hmac.compare_digest(expected, presented or "")

"""Portal sessions, kept server-side.

A session id is 32 random bytes (URL-safe base64 in the `pt_session` cookie); the store
keeps only its SHA-256 (a plain hash suffices: the id is random, not guessable like a
password). Nothing in the cookie can be computed from the secret or a token id, every login
gets a new id, and a session ends at logout, when its token is revoked (or its unit leaves
the plan: the token row is read with the session) and at its expiry. A row issued in the
future — a clock stepped back, a row written by hand — is refused rather than trusted for
longer than its lifetime.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import Engine, bindparam, delete, insert, update

from plan_tracker.services.tokens import PRINCIPAL_ROW, SESSIONS, TOKENS, Principal, principal_of

ID_BYTES = 32
CLOCK_SKEW = dt.timedelta(seconds=60)  # an issue time further ahead than this is refused

_BY_DIGEST = (PRINCIPAL_ROW.add_columns(SESSIONS.c.created_at.label("session_created_at"),
                                        SESSIONS.c.expires_at.label("session_expires_at"),
                                        SESSIONS.c.ended_at.label("session_ended_at"))
              .join(SESSIONS, SESSIONS.c.token_id == TOKENS.c.id)
              .where(SESSIONS.c.digest == bindparam("digest")))


def session_digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def start_session(engine: Engine, principal: Principal, *, now: dt.datetime, max_age_s: int) -> str:
    """A new session of `principal`'s token; returns the id for the cookie (shown only there).
    Sessions that expired are deleted on the way, so the table holds live ones (and ended
    ones until their expiry)."""
    session_id = secrets.token_urlsafe(ID_BYTES)
    with engine.begin() as conn:
        conn.execute(delete(SESSIONS).where(SESSIONS.c.expires_at < now))
        conn.execute(insert(SESSIONS).values(digest=session_digest(session_id), token_id=principal.token_id,
                                             created_at=now, expires_at=now + dt.timedelta(seconds=max_age_s)))
    return session_id


def session_principal(engine: Engine, session_id: str, *, now: dt.datetime) -> Principal | None:
    """The principal of a live session, or None (unknown, ended, expired, issued in the
    future, token revoked, unit gone)."""
    if not session_id or len(session_id) > 100:
        return None
    with engine.connect() as conn:
        row = conn.execute(_BY_DIGEST, {"digest": session_digest(session_id)}).first()
    if row is None or row.session_ended_at is not None:
        return None
    if not (_aware(row.session_created_at) <= now + CLOCK_SKEW and now < _aware(row.session_expires_at)):
        return None
    return principal_of(row)


def end_session(engine: Engine, session_id: str, *, now: dt.datetime) -> bool:
    """End a session (logout); True if a live one was ended."""
    with engine.begin() as conn:
        ended = conn.execute(update(SESSIONS).where(SESSIONS.c.digest == session_digest(session_id),
                                                    SESSIONS.c.ended_at.is_(None)).values(ended_at=now))
    return bool(ended.rowcount)


def _aware(value: dt.datetime) -> dt.datetime:
    """SQLite hands timestamps back naive; they are stored in UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)

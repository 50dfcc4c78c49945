"""Idempotency keys of API writes, with Stripe's semantics.

A POST sent with `Idempotency-Key: K` is claimed under (caller, K) before it runs:
- the first request with K runs, and its answer is kept for `TTL` (24 h);
- the same K with the same request (method, path, body) gets that answer again, replayed;
- the same K with a different request gets 409;
- the same K while the first request is still running gets 409 (try again shortly): twenty
  identical requests sent at once store one report.

Answers that mean the request never ran — a failed authentication, a schema error, a body
too large, a server error (its transaction was rolled back) — are not kept: the key is
released and the same request may be retried. A request whose process died mid-way leaves
its claim unanswered; after `LEASE` the key may be claimed again (the one window in which a
retried key can run twice, as for deliveries: README "Crash policy").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine, and_, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from plan_tracker.store.portal_models import IdempotencyKey

KEYS = IdempotencyKey.__table__  # type: ignore[attr-defined]
TTL = dt.timedelta(hours=24)
LEASE = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class Claimed:
    """This request is the first with its key: run it, then `complete` or `release`."""

    row_id: int


@dataclass(frozen=True)
class Replay:
    status: int
    body: bytes
    content_type: str | None


@dataclass(frozen=True)
class Mismatch:
    """The key was used for a different request."""


@dataclass(frozen=True)
class InProgress:
    """The first request with this key has not finished."""


Claim = Claimed | Replay | Mismatch | InProgress


def claim(engine: Engine, *, scope: str, key: str, fingerprint: str, now: dt.datetime) -> Claim:
    with engine.begin() as conn:
        # expired keys (everyone's), and this key's abandoned claim, make room
        conn.execute(delete(KEYS).where(or_(
            KEYS.c.created_at < now - TTL,
            and_(KEYS.c.scope == scope, KEYS.c.key == key, KEYS.c.status.is_(None), KEYS.c.created_at < now - LEASE))))
    try:
        with engine.begin() as conn:
            row_id = conn.execute(insert(KEYS).values(scope=scope, key=key, fingerprint=fingerprint, created_at=now)
                                  .returning(KEYS.c.id)).scalar_one()
        return Claimed(int(row_id))
    except IntegrityError:
        pass
    with engine.connect() as conn:
        row = conn.execute(select(KEYS).where(KEYS.c.scope == scope, KEYS.c.key == key)).first()
    if row is None:  # released between our insert and this read: the caller may simply retry
        return InProgress()
    if row.fingerprint != fingerprint:
        return Mismatch()
    if row.status is None:
        return InProgress()
    return Replay(int(row.status), bytes(row.body or b""), row.content_type)


def complete(engine: Engine, row_id: int, *, status: int, body: bytes, content_type: str | None) -> None:
    with engine.begin() as conn:
        conn.execute(update(KEYS).where(KEYS.c.id == row_id).values(status=status, body=body,
                                                                     content_type=content_type))


def release(engine: Engine, row_id: int) -> None:
    with engine.begin() as conn:
        conn.execute(delete(KEYS).where(KEYS.c.id == row_id, KEYS.c.status.is_(None)))

"""API tokens: created for one unit (or the coordinator) of one plan, shown once, stored as a
public prefix plus an HMAC-SHA256 keyed with `settings.token_secret`, compared in constant
time, revocable. A token never reaches a log or an event: only its prefix does.

Format: ``pt_<prefix>_<secret>`` — the prefix (10 hex digits) finds the row, the HMAC of the
whole token proves it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, insert, or_, select, update

from plan_tracker.domain.errors import DomainError, WordedError
from plan_tracker.services.plans import stored_plan
from plan_tracker.store.audit import record_event
from plan_tracker.store.models import PlanRow, UnitRow
from plan_tracker.store.portal_models import ApiToken, PortalSession

TOKENS = ApiToken.__table__  # type: ignore[attr-defined]
SESSIONS = PortalSession.__table__  # type: ignore[attr-defined]
TOKEN_RE = re.compile(r"^pt_([0-9a-f]{10})_[A-Za-z0-9_-]{43}$")
# last_used_at is refreshed at most this often, so reading with a token is not a write per request.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


class BadTokenRequest(DomainError):
    """A token cannot be created as asked (unknown unit, both or neither of unit/coordinator)."""


class UnknownToken(WordedError, LookupError):
    def __init__(self, prefix: str):
        super().__init__("token.unknown", prefix=prefix)


class AuthenticationFailed(Exception):
    """The presented token is malformed, unknown, wrong or revoked (the reason is for the audit
    log only; clients are told nothing more than 'invalid token')."""

    def __init__(self, reason: str, prefix: str | None = None):
        self.reason = reason
        self.prefix = prefix
        super().__init__(reason)


@dataclass(frozen=True)
class Principal:
    """Who is calling: a unit of a plan, or the plan's coordinator."""

    token_id: int
    prefix: str
    plan_id: str
    unit_id: str | None
    coordinator: bool
    timezone: str

    @property
    def actor(self) -> str:
        return "coordinator" if self.coordinator else str(self.unit_id)

    def as_json(self) -> dict[str, Any]:
        return {"plan": self.plan_id, "unit": self.unit_id,
                "role": "coordinator" if self.coordinator else "unit", "token_prefix": self.prefix}


@dataclass(frozen=True)
class TokenInfo:
    prefix: str
    plan_id: str
    unit_id: str | None
    coordinator: bool
    label: str | None
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None

    @property
    def holder(self) -> str:
        return "coordinator" if self.coordinator else f"unit {self.unit_id}"


@dataclass(frozen=True)
class CreatedToken:
    token: str  # shown once; never stored
    info: TokenInfo


def token_digest(secret_key: str, token: str) -> str:
    return hmac.new(secret_key.encode(), token.encode(), hashlib.sha256).hexdigest()


def _new_token() -> tuple[str, str]:
    prefix = secrets.token_hex(5)
    return prefix, f"pt_{prefix}_{secrets.token_urlsafe(32)}"


def _info(row: Any) -> TokenInfo:
    return TokenInfo(row.prefix, row.plan_id, row.unit_id, row.coordinator, row.label,
                     row.created_at, row.revoked_at, row.last_used_at)


def create_token(engine: Engine, *, secret_key: str, plan_id: str, unit_id: str | None = None,
                 coordinator: bool = False, label: str | None = None, now: dt.datetime,
                 actor: str = "cli") -> CreatedToken:
    """A new token for a unit of `plan_id` or for its coordinator (exactly one of the two)."""
    if coordinator == (unit_id is not None):
        raise BadTokenRequest("token.unit_or_coordinator")
    with engine.begin() as conn:
        stored_plan(conn, plan_id)  # raises UnknownPlan
        if unit_id is not None:
            units = UnitRow.__table__  # type: ignore[attr-defined]
            known = conn.execute(select(units.c.id).where(
                units.c.plan_id == plan_id, units.c.id == unit_id, units.c.active)).scalar_one_or_none()
            if known is None:
                raise BadTokenRequest("plan.no_unit", plan=plan_id, unit=unit_id)
        prefix, token = _new_token()
        values = {"prefix": prefix, "digest": token_digest(secret_key, token), "plan_id": plan_id,
                  "unit_id": unit_id, "coordinator": coordinator, "label": label, "created_at": now}
        conn.execute(insert(TOKENS).values(**values))
        _event(conn, plan_id, "token.created", actor, {"prefix": prefix, "unit": unit_id, "coordinator": coordinator}, now)
    info = TokenInfo(prefix, plan_id, unit_id, coordinator, label, now, None, None)
    return CreatedToken(token, info)


def list_tokens(engine: Engine, plan_id: str | None = None) -> list[TokenInfo]:
    query = select(TOKENS).order_by(TOKENS.c.plan_id, TOKENS.c.id)
    if plan_id is not None:
        query = query.where(TOKENS.c.plan_id == plan_id)
    with engine.connect() as conn:
        return [_info(r) for r in conn.execute(query)]


def revoke_token(engine: Engine, prefix: str, *, now: dt.datetime, actor: str = "cli") -> TokenInfo:
    """Revoke a token by its prefix (idempotent: a revoked token stays revoked at its first time)."""
    prefix = prefix.removeprefix("pt_").split("_")[0]
    with engine.begin() as conn:
        row = conn.execute(select(TOKENS).where(TOKENS.c.prefix == prefix)).first()
        if row is None:
            raise UnknownToken(prefix)
        if row.revoked_at is None:
            conn.execute(update(TOKENS).where(TOKENS.c.id == row.id).values(revoked_at=now))
            _event(conn, row.plan_id, "token.revoked", actor, {"prefix": prefix}, now)
        # its portal sessions end with it (lookups also check the token, belt and braces)
        conn.execute(update(SESSIONS).where(SESSIONS.c.token_id == row.id, SESSIONS.c.ended_at.is_(None))
                     .values(ended_at=now))
        row = conn.execute(select(TOKENS).where(TOKENS.c.id == row.id)).one()
    return _info(row)


PLANS = PlanRow.__table__  # type: ignore[attr-defined]
UNITS = UnitRow.__table__  # type: ignore[attr-defined]
# A token row with its plan's time zone and whether its unit is still in the plan (a
# coordinator token has no unit: NULL). Built once: every API request runs it.
PRINCIPAL_ROW = (
    select(TOKENS, PLANS.c.timezone, UNITS.c.active.label("unit_active"))
    .join(PLANS, PLANS.c.id == TOKENS.c.plan_id)
    .outerjoin(UNITS, and_(UNITS.c.plan_id == TOKENS.c.plan_id, UNITS.c.id == TOKENS.c.unit_id))
)
_BY_PREFIX = PRINCIPAL_ROW.where(TOKENS.c.prefix == bindparam("prefix"))


def principal_of(row: Any) -> Principal | None:
    """The principal of a token row read through PRINCIPAL_ROW, or None if the token is
    revoked or its unit has left the plan."""
    if row.revoked_at is not None or not unit_in_plan(row):
        return None
    return Principal(int(row.id), row.prefix, row.plan_id, row.unit_id, bool(row.coordinator), row.timezone)


def unit_in_plan(row: Any) -> bool:
    return bool(row.coordinator) or bool(row.unit_active)


def authenticate(engine: Engine, token: str, *, secret_key: str, now: dt.datetime) -> Principal:
    """The principal a token stands for, or AuthenticationFailed."""
    match = TOKEN_RE.match(token)
    if match is None:
        raise AuthenticationFailed("malformed token")
    prefix = match.group(1)
    with engine.connect() as conn:
        row = conn.execute(_BY_PREFIX, {"prefix": prefix}).first()
    # Compare even when the prefix is unknown, so timing does not tell which prefixes exist.
    expected = row.digest if row is not None else "0" * 64
    if not hmac.compare_digest(token_digest(secret_key, token), expected) or row is None:
        raise AuthenticationFailed("unknown token", prefix)
    if row.revoked_at is not None:
        raise AuthenticationFailed("revoked token", prefix)
    if not unit_in_plan(row):
        raise AuthenticationFailed("unit no longer in the plan", prefix)
    if row.last_used_at is None or _aware(row.last_used_at) < now - LAST_USED_RESOLUTION:
        with engine.begin() as conn:
            conn.execute(update(TOKENS).where(
                TOKENS.c.id == row.id,
                or_(TOKENS.c.last_used_at.is_(None), TOKENS.c.last_used_at < now - LAST_USED_RESOLUTION),
            ).values(last_used_at=now))
    return Principal(int(row.id), prefix, row.plan_id, row.unit_id, bool(row.coordinator), row.timezone)


def _aware(value: dt.datetime) -> dt.datetime:
    """SQLite hands timestamps back naive; they are stored in UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _event(conn: Connection, plan_id: str, kind: str, actor: str, payload: dict[str, Any], now: dt.datetime) -> None:
    record_event(conn, plan_id=plan_id, kind=kind, actor=actor, source="cli", payload=payload, at=now)

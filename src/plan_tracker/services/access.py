"""Object-level authorisation: who may read and change which obligation, report, request.

Rules (every API endpoint and page goes through them):
- a unit reads and writes only obligations it leads; a supporting unit (配合单位) may add
  input to obligations of tasks it supports, and nothing else;
- the coordinator reads everything of its plan and decides (extensions, reviews), but does
  not report on a unit's behalf;
- a token is bound to one plan: anything of another plan is someone else's.

Reading someone else's object is answered as if it did not exist (404), writing it is
refused (403); both raise `Refused`, which the edge audits as an `auth.refused` event in its
own transaction (the refused work itself is rolled back, so nothing changes).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, select

from plan_tracker.domain.errors import DomainError, WordedError
from plan_tracker.services.tokens import Principal
from plan_tracker.store.audit import record_event
from plan_tracker.store.models import Obligation, TaskRow

OBLIGATIONS = Obligation.__table__  # type: ignore[attr-defined]
TASKS = TaskRow.__table__  # type: ignore[attr-defined]


class NotFound(WordedError, LookupError):
    """The object does not exist (for anyone)."""


class Conflict(DomainError):
    """The request is well-formed but the object's state does not allow it (HTTP 409)."""


class Refused(Exception):
    """The principal may not do this to this object; `write` decides 403 (write) or 404 (read)."""

    def __init__(self, message: str, *, write: bool, action: str, target: dict[str, Any]):
        self.write = write
        self.action = action
        self.target = target
        super().__init__(message)


@dataclass(frozen=True)
class ObligationRow:
    id: int
    plan_id: str
    task_id: str
    unit_id: str
    period: str
    period_start: dt.date
    period_end: dt.date
    due: dt.date
    original_due: dt.date
    warn_days: int


_OBLIGATION_ROW = (
    select(OBLIGATIONS.c.id, OBLIGATIONS.c.plan_id, OBLIGATIONS.c.task_id, OBLIGATIONS.c.unit_id,
           OBLIGATIONS.c.period, OBLIGATIONS.c.period_start, OBLIGATIONS.c.period_end, OBLIGATIONS.c.due,
           OBLIGATIONS.c.original_due, OBLIGATIONS.c.warn_days)
    .where(OBLIGATIONS.c.id == bindparam("id"), OBLIGATIONS.c.active)
)  # built once: every API request reads one row through it


def obligation_row(conn: Connection, obligation_id: int) -> ObligationRow | None:
    row = conn.execute(_OBLIGATION_ROW, {"id": obligation_id}).first()
    return ObligationRow(**row._mapping) if row is not None else None


def supporters(conn: Connection, plan_id: str, task_id: str) -> list[str]:
    value = conn.execute(select(TASKS.c.support).where(TASKS.c.plan_id == plan_id, TASKS.c.id == task_id)).scalar_one_or_none()
    return list(value or [])


def require_plan(principal: Principal, plan_id: str, *, write: bool, action: str) -> None:
    if plan_id != principal.plan_id:
        raise Refused(f"this token is not valid for plan {plan_id!r}", write=write, action=action,
                      target={"plan": plan_id})


def require_coordinator(principal: Principal, *, action: str, write: bool = True) -> None:
    if not principal.coordinator:
        raise Refused("only the plan's coordinator may do this", write=write, action=action,
                      target={"plan": principal.plan_id}, )


def require_unit(principal: Principal, *, action: str) -> None:
    if principal.coordinator:
        raise Refused("the coordinator does not report on a unit's behalf; use the unit's token",
                      write=True, action=action, target={"plan": principal.plan_id})


def readable_obligation(conn: Connection, principal: Principal, obligation_id: int, *, action: str) -> ObligationRow:
    """An obligation the principal may read: its own (lead unit) or any of its plan (coordinator)."""
    row = obligation_row(conn, obligation_id)
    if row is None:
        raise NotFound("obligation.unknown", obligation=obligation_id)
    if row.plan_id != principal.plan_id or not (principal.coordinator or row.unit_id == principal.unit_id):
        raise Refused(f"no obligation {obligation_id}", write=False, action=action,
                      target={"obligation": obligation_id})
    return row


def own_obligation(conn: Connection, principal: Principal, obligation_id: int, *, action: str) -> ObligationRow:
    """An obligation the principal leads (writes: reports, extension requests)."""
    row = obligation_row(conn, obligation_id)
    if row is None:
        raise NotFound("obligation.unknown", obligation=obligation_id)
    require_unit(principal, action=action)
    if row.plan_id != principal.plan_id or row.unit_id != principal.unit_id:
        raise Refused(f"obligation {obligation_id} is not your unit's", write=True, action=action,
                      target={"obligation": obligation_id})
    return row


def supported_obligation(conn: Connection, principal: Principal, obligation_id: int, *, action: str) -> ObligationRow:
    """An obligation of a task the principal's unit supports (and does not lead)."""
    row = obligation_row(conn, obligation_id)
    if row is None:
        raise NotFound("obligation.unknown", obligation=obligation_id)
    require_unit(principal, action=action)
    if (row.plan_id != principal.plan_id or row.unit_id == principal.unit_id
            or principal.unit_id not in supporters(conn, row.plan_id, row.task_id)):
        raise Refused(f"your unit is not a supporting unit of obligation {obligation_id}", write=True,
                      action=action, target={"obligation": obligation_id})
    return row


def audit_refusal(engine: Engine, *, principal: Principal | None, refused: Refused, source: str,
                  client: str | None) -> None:
    """Record a refusal in its own transaction (the refused work has been rolled back)."""
    payload = {"action": refused.action, "target": refused.target, "reason": str(refused),
               "status": 403 if refused.write else 404, "client": client,
               "token_prefix": principal.prefix if principal else None}
    _event(engine, principal.plan_id if principal else None, "auth.refused",
           principal.actor if principal else "anonymous", source, payload)


def audit_failed_authentication(engine: Engine, *, reason: str, prefix: str | None, source: str,
                                client: str | None) -> None:
    _event(engine, None, "auth.failed", "anonymous", source,
           {"reason": reason, "token_prefix": prefix, "client": client})


def audit_repeated(engine: Engine, repeated: list[Any]) -> None:
    """Counts of refusals not written one by one (see `web.refusals`): one event per client,
    kind and minute."""
    if repeated:
        with engine.begin() as conn:
            for r in repeated:
                record_event(conn, plan_id=None, kind="auth.refused.repeated", actor="anonymous", source="web",
                             payload=r.payload)


def _event(engine: Engine, plan_id: str | None, kind: str, actor: str, source: str, payload: dict[str, Any]) -> None:
    with engine.begin() as conn:
        record_event(conn, plan_id=plan_id, kind=kind, actor=actor, source=source, payload=payload)

"""The append-only audit log: one way to write an event, whoever records it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, insert

from plan_tracker.store.models import Event, utcnow

EVENTS = Event.__table__  # type: ignore[attr-defined]
_INSERT = insert(EVENTS)  # built once: every API submission writes an event


def record_event(conn: Connection, *, plan_id: str | None, kind: str, actor: str, source: str,
                 payload: dict[str, Any], at: dt.datetime | None = None) -> None:
    """Append one event inside the caller's transaction (`at` defaults to now, UTC)."""
    conn.execute(_INSERT, {"at": at or utcnow(), "plan_id": plan_id, "kind": kind,
                           "actor": actor, "source": source, "payload": payload})

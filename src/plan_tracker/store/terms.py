"""Obligation timelines in the store: the `obligation` row holds the terms in force from
`terms_from` on; `obligation_term` rows hold the superseded ones (see `domain.terms`).

Only obligations whose terms change are read and written segment by segment; status and
the nightly evaluation read the rows directly for any date on or after the plan's
`terms_settled_from`, and `evaluation_sql.OBLIGATIONS_AS_OF` for an earlier date.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from plan_tracker.domain.terms import Segment, Terms
from plan_tracker.store.dates import stored_date, stored_date_or_none
from plan_tracker.store.models import Obligation, ObligationTerm, PlanRow

OBLIGATION = Obligation.__table__  # type: ignore[attr-defined]
TERM = ObligationTerm.__table__  # type: ignore[attr-defined]
PLAN = PlanRow.__table__  # type: ignore[attr-defined]
BATCH = 5_000
_TERM_COLUMNS = ("task_id", "unit_id", "period", "period_start", "period_end", "due", "original_due",
                 "warn_days", "active")


def _terms(row: Any) -> Terms:
    return Terms(row.task_id, row.unit_id, row.period, stored_date(row.period_start), stored_date(row.period_end),
                 stored_date(row.due), stored_date(row.original_due), int(row.warn_days), bool(row.active))


def _superseded(row: Any) -> Segment:
    """A row of `obligation_term` as a segment of its obligation's timeline."""
    return Segment(stored_date_or_none(row.valid_from), stored_date(row.valid_until), _terms(row))


def _in_force(row: Any) -> Segment:
    """An `obligation` row as the last, open segment of its timeline."""
    return Segment(stored_date_or_none(row.terms_from), None, _terms(row))


_ROW_COLUMNS = [OBLIGATION.c.terms_from, *[OBLIGATION.c[c] for c in _TERM_COLUMNS]]


def load_timelines(conn: Connection, plan_id: str) -> dict[int, list[Segment]]:
    """Every obligation of the plan (tracked or not) with its whole timeline."""
    history: dict[int, list[Segment]] = defaultdict(list)
    for row in conn.execute(select(TERM).where(TERM.c.plan_id == plan_id)
                            .order_by(TERM.c.obligation_id, TERM.c.valid_until)):
        history[int(row.obligation_id)].append(_superseded(row))
    return {int(row.id): [*history.get(int(row.id), []), _in_force(row)]
            for row in conn.execute(select(OBLIGATION.c.id, *_ROW_COLUMNS).where(OBLIGATION.c.plan_id == plan_id))}


def load_timeline(conn: Connection, obligation_id: int) -> list[Segment]:
    """One obligation's timeline (for a change to a single obligation, e.g. an extension)."""
    history = [_superseded(r) for r in conn.execute(select(TERM).where(TERM.c.obligation_id == obligation_id)
                                                    .order_by(TERM.c.valid_until))]
    return [*history, _in_force(conn.execute(select(*_ROW_COLUMNS).where(OBLIGATION.c.id == obligation_id)).one())]


def _row_values(final: Segment) -> dict[str, Any]:
    t = final.terms
    return {"task_id": t.task_id, "unit_id": t.unit_id, "period": t.period, "period_start": t.period_start,
            "period_end": t.period_end, "due": t.due, "original_due": t.original_due,
            "warn_days": t.warn_days, "active": t.active, "terms_from": final.start}


def _history_rows(plan_id: str, oid: int, timeline: list[Segment]) -> list[dict[str, Any]]:
    rows = []
    for s in timeline[:-1]:
        t = s.terms
        rows.append({"obligation_id": oid, "plan_id": plan_id, "valid_from": s.start, "valid_until": s.end,
                     "task_id": t.task_id, "unit_id": t.unit_id, "period": t.period,
                     "period_start": t.period_start, "period_end": t.period_end, "due": t.due,
                     "original_due": t.original_due, "warn_days": t.warn_days, "active": t.active})
    return rows


def insert_rows(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """New obligations whose only terms are their row (no history), in batches."""
    for start in range(0, len(rows), BATCH):
        conn.execute(insert(OBLIGATION), rows[start:start + BATCH])


def insert_obligations(conn: Connection, plan_id: str, timelines: Iterable[list[Segment]]) -> None:
    """New obligations, each with its timeline (the last segment is the row)."""
    batch: list[list[Segment]] = []
    for timeline in timelines:
        batch.append(timeline)
        if len(batch) >= BATCH:
            _insert_batch(conn, plan_id, batch)
            batch = []
    if batch:
        _insert_batch(conn, plan_id, batch)


def _insert_batch(conn: Connection, plan_id: str, batch: list[list[Segment]]) -> None:
    rows = [{"plan_id": plan_id, "overdue_wd": 0, **_row_values(t[-1])} for t in batch]
    with_history = [t for t in batch if len(t) > 1]
    if not with_history:
        conn.execute(insert(OBLIGATION), rows)
        return
    ids = conn.execute(insert(OBLIGATION).returning(OBLIGATION.c.id, sort_by_parameter_order=True), rows).scalars().all()
    history = [h for oid, t in zip(ids, batch, strict=True) if len(t) > 1 for h in _history_rows(plan_id, int(oid), t)]
    conn.execute(insert(TERM), history)


def rewrite_timelines(conn: Connection, plan_id: str, changed: dict[int, list[Segment]]) -> None:
    """Replace the timelines of existing obligations (their history rows and their row)."""
    ids = list(changed)
    for start in range(0, len(ids), BATCH):
        conn.execute(delete(TERM).where(TERM.c.obligation_id.in_(ids[start:start + BATCH])))
    history = [h for oid, t in changed.items() for h in _history_rows(plan_id, oid, t)]
    for start in range(0, len(history), BATCH):
        conn.execute(insert(TERM), history[start:start + BATCH])
    if changed:
        stmt = update(OBLIGATION).where(OBLIGATION.c.id == bindparam("oid")).values(
            **{c: bindparam(f"v_{c}") for c in (*_TERM_COLUMNS, "terms_from")})
        params = [{"oid": oid, **{f"v_{k}": v for k, v in _row_values(t[-1]).items()}} for oid, t in changed.items()]
        for start in range(0, len(params), BATCH):
            conn.execute(stmt, params[start:start + BATCH])


def settle(conn: Connection, plan_id: str) -> dt.date | None:
    """Record the latest date from which any obligation's terms changed (see PlanRow)."""
    latest = conn.execute(select(func.max(OBLIGATION.c.terms_from)).where(OBLIGATION.c.plan_id == plan_id)).scalar()
    value = stored_date_or_none(latest)
    conn.execute(update(PLAN).where(PLAN.c.id == plan_id).values(terms_settled_from=value))
    return value


def settle_at_least(conn: Connection, plan_id: str, day: dt.date) -> None:
    """A change from `day` on (one obligation's): an earlier as-of date reads the history."""
    current = conn.execute(select(PLAN.c.terms_settled_from).where(PLAN.c.id == plan_id)).scalar()
    if current is None or stored_date(current) < day:
        conn.execute(update(PLAN).where(PLAN.c.id == plan_id).values(terms_settled_from=day))

"""`plans list`: the plans in a store, each with its version, dates, obligations and the
last night that ran to the end."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select

from plan_tracker.store.dates import stored_date as _date
from plan_tracker.store.models import Obligation, PlanRow
from plan_tracker.store.outbox_models import NightlyRun

_PLANS = PlanRow.__table__  # type: ignore[attr-defined]
_OBLIGATIONS = Obligation.__table__  # type: ignore[attr-defined]
_RUNS = NightlyRun.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class PlanSummary:
    id: str
    title: str
    version: int
    start: dt.date
    end: dt.date
    obligations: int
    last_night: dt.date | None  # the latest as-of date of a successful nightly run
    follow_up_until: dt.date  # no nightly run after it (plan.follow_up_until or its default)

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "version": self.version, "start": self.start.isoformat(),
                "end": self.end.isoformat(), "obligations": self.obligations,
                "last_night": self.last_night.isoformat() if self.last_night else None,
                "follow_up_until": self.follow_up_until.isoformat()}


def list_plans(engine: Engine) -> list[PlanSummary]:
    """Every plan in the store, by id (three queries, and one per plan for its follow-up)."""
    from plan_tracker.services.follow_up import follow_up_end

    with engine.connect() as conn:
        counts: dict[str, int] = dict(conn.execute(
            select(_OBLIGATIONS.c.plan_id, func.count()).where(_OBLIGATIONS.c.active)
            .group_by(_OBLIGATIONS.c.plan_id)).tuples().all())
        nights: dict[str, Any] = dict(conn.execute(
            select(_RUNS.c.plan_id, func.max(_RUNS.c.as_of)).where(_RUNS.c.ok)
            .group_by(_RUNS.c.plan_id)).tuples().all())
        rows = conn.execute(
            select(_PLANS.c.id, _PLANS.c.title, _PLANS.c.version, _PLANS.c.start, _PLANS.c.end)
            .order_by(_PLANS.c.id)).all()
        ends = {r.id: follow_up_end(conn, r.id) for r in rows}
    return [PlanSummary(r.id, r.title, int(r.version), _date(r.start), _date(r.end), int(counts.get(r.id, 0)),
                        _date(nights[r.id]) if nights.get(r.id) is not None else None, ends[r.id]) for r in rows]

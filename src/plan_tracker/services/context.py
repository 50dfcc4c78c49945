"""The plan context: resolved once at the edge of a command, request or flow run, passed down.

A context is the plan *version in force on a date* (its units, tasks, ladder and scoring),
its calendar and time zone, its content digest, and what the store needs to read the record
as of that date (the calendar key; whether obligations' terms changed after that date, so
their history must be read). Services take the context, never a plan id to look up again.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sqlalchemy import Connection, bindparam, select

from plan_tracker.domain.calendar import WorkCalendar
from plan_tracker.domain.errors import DomainError
from plan_tracker.domain.plan import STORED_PLAN, Plan
from plan_tracker.domain.suggestions import did_you_mean
from plan_tracker.store import calendar_table
from plan_tracker.store.dates import stored_date, stored_date_or_none
from plan_tracker.store.models import PlanRow, PlanVersion

_PLANS = PlanRow.__table__  # type: ignore[attr-defined]
_VERSIONS = PlanVersion.__table__  # type: ignore[attr-defined]


class UnknownPlan(DomainError):
    def __init__(self, plan_id: str, known: list[str] | None = None):
        self.plan_id = plan_id
        self.known = known or []
        if self.known:
            super().__init__("store.unknown_plan_known", plan=plan_id, known=tuple(self.known),
                             did_you_mean=did_you_mean(plan_id, self.known))
        else:
            super().__init__("store.unknown_plan", plan=plan_id)


@dataclass(frozen=True)
class VersionInfo:
    number: int
    effective_from: dt.date
    digest: str


@dataclass(frozen=True)
class PlanContext:
    """One plan as in force on `as_of` (None: the latest version, for authoring and lists)."""

    plan: Plan
    version: VersionInfo
    versions: tuple[VersionInfo, ...]
    calendar: WorkCalendar
    calendar_key: str
    as_of: dt.date | None
    terms_settled_from: dt.date | None

    @property
    def id(self) -> str:
        return self.plan.id

    @property
    def digest(self) -> str:
        return self.version.digest

    @property
    def timezone(self) -> str:
        return self.plan.plan.timezone

    def reads_history(self, day: dt.date) -> bool:
        """Whether obligations' terms on `day` differ from the rows as they stand (a version,
        cancellation or extension took effect after `day`): then the term history is read."""
        return self.terms_settled_from is not None and day < self.terms_settled_from

    @cached_property
    def task_titles(self) -> dict[str, tuple[str, str]]:
        """task id -> (title, section title), of this version."""
        return {t.id: (t.title, s.title) for s, t in self.plan.tasks()}

    @cached_property
    def unit_names(self) -> dict[str, str]:
        return {u.id: u.name for u in self.plan.units}

    def eval_params(self, conn: Connection, day: dt.date) -> dict[str, Any]:
        """The bound parameters of the evaluation SQL for `day` (raises DateNotCovered)."""
        return {"plan": self.id, "as_of": day, "cal": self.calendar_key,
                "ord_d": calendar_table.ordinal_on(conn, self.calendar_key, day)}


_PARSED: dict[str, tuple[Plan, WorkCalendar, str]] = {}  # digest -> parsed version (immutable per digest)
_PARSED_LOCK = threading.Lock()
_PLAN_ROW = select(_PLANS.c.id, _PLANS.c.terms_settled_from).where(_PLANS.c.id == bindparam("plan_id"))
_VERSION_ROWS = (select(_VERSIONS.c.version, _VERSIONS.c.effective_from, _VERSIONS.c.content_hash)
                 .where(_VERSIONS.c.plan_id == bindparam("plan_id")).order_by(_VERSIONS.c.version))


def plan_context(conn: Connection, plan_id: str, as_of: dt.date | None = None) -> PlanContext:
    """The context of `plan_id` as in force on `as_of` (raises UnknownPlan). Two small
    queries; the version's parsed plan and calendar are cached by content digest."""
    row = conn.execute(_PLAN_ROW, {"plan_id": plan_id}).first()
    if row is None:
        known = [str(r[0]) for r in conn.execute(select(_PLANS.c.id).order_by(_PLANS.c.id))]
        raise UnknownPlan(plan_id, known)
    versions = tuple(VersionInfo(int(v), stored_date(e), str(d)) for v, e, d in conn.execute(_VERSION_ROWS, {"plan_id": plan_id}))
    version = in_force(versions, as_of)
    plan, calendar, key = _parsed(conn, plan_id, version)
    settled = row.terms_settled_from
    return PlanContext(plan, version, versions, calendar, key, as_of,
                       stored_date_or_none(settled))


def versions_until(conn: Connection, ctx: PlanContext, day: dt.date) -> list[tuple[VersionInfo, Plan]]:
    """Every version that was in force on some day up to `day`, oldest first, with its plan."""
    chosen: list[VersionInfo] = []
    for v in ctx.versions:
        if v.effective_from <= day or not chosen:
            if chosen and chosen[-1].effective_from == v.effective_from:
                chosen[-1] = v  # a later version on the same day replaced it before it was ever read
            else:
                chosen.append(v)
    return [(v, _parsed(conn, ctx.id, v)[0]) for v in chosen]


def in_force(versions: tuple[VersionInfo, ...], day: dt.date | None) -> VersionInfo:
    """The version in force on `day`: the latest whose effective date is on or before it (the
    first version is in force from the plan's start, and before it); None: the latest."""
    if day is None:
        return versions[-1]
    chosen = versions[0]
    for v in versions:
        if v.effective_from <= day:
            chosen = v
    return chosen


def _parsed(conn: Connection, plan_id: str, version: VersionInfo) -> tuple[Plan, WorkCalendar, str]:
    with _PARSED_LOCK:
        cached = _PARSED.get(version.digest)
    if cached is not None:
        return cached
    spec = conn.execute(select(_VERSIONS.c.spec).where(_VERSIONS.c.plan_id == plan_id,
                                                       _VERSIONS.c.version == version.number)).scalar_one()
    plan = Plan.model_validate(spec, context=STORED_PLAN)  # checked when applied: addresses not again
    parsed = (plan, WorkCalendar(plan.plan.calendar), calendar_table.calendar_key(plan.plan.calendar))
    with _PARSED_LOCK:
        if len(_PARSED) >= 64:
            _PARSED.pop(next(iter(_PARSED)))
        _PARSED[version.digest] = parsed
    return parsed

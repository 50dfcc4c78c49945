"""What the portal and the API show: obligations with their lights, one obligation's history,
reports and extension requests awaiting the coordinator.

Lights here are computed for the few obligations a page shows with the pure reference rules
of the domain (`state_as_of`, `light_on`) — the same rules the nightly SQL is held equal to by
a property test — so a page never waits for a plan-wide evaluation, and an approved
extension shows at once, not after the next night.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, bindparam, exists, func, or_, select
from sqlalchemy.sql import Select

from plan_tracker.domain.lights import light_on
from plan_tracker.domain.reports import state_as_of
from plan_tracker.services.access import OBLIGATIONS, TASKS, ObligationRow, supporters
from plan_tracker.services.context import PlanContext, plan_context
from plan_tracker.store.dates import stored_date as _date
from plan_tracker.store.models import StatusReport, UnitRow
from plan_tracker.store.portal_models import ExtensionRequest, ReportReview, SupportInput

REPORTS = StatusReport.__table__  # type: ignore[attr-defined]
REVIEWS = ReportReview.__table__  # type: ignore[attr-defined]
EXTENSIONS = ExtensionRequest.__table__  # type: ignore[attr-defined]
SUPPORT = SupportInput.__table__  # type: ignore[attr-defined]
CHUNK = 500
HistoryRow = tuple[dt.date, int, str, int | None]  # (reported_on, id, status, progress)


# -- plan context (parsed plan + calendar), cached per content hash -------------------------


# -- views ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ObligationView:
    id: int
    task: str
    task_title: str
    section_title: str
    unit: str
    unit_name: str
    period: str
    period_start: dt.date
    due: dt.date
    original_due: dt.date
    light: str
    overdue_wd: int
    status: str | None
    progress: int | None
    reported_on: dt.date | None
    review: str | None  # accepted | sent_back, for the latest report
    extension_pending: bool

    @property
    def extended(self) -> bool:
        return self.due != self.original_due

    def as_json(self) -> dict[str, Any]:
        # its fields are flat values: a shallow copy is what `asdict` would deep-copy, 10x faster
        return {**_jsonable(dict(vars(self))), "extended": self.extended}


@dataclass(frozen=True)
class ReportView:
    id: int
    obligation_id: int
    task: str
    unit: str
    period: str
    status: str
    progress: int | None
    note: str | None
    evidence: str | None
    indicator_values: dict[str, Any]
    reported_on: dt.date
    received_at: dt.datetime
    source: str
    actor: str
    review: str | None = None
    review_reason: str | None = None
    latest: bool = False

    def as_json(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass(frozen=True)
class ExtensionView:
    id: int
    obligation_id: int
    task: str
    unit: str
    period: str
    requested_by: str
    reason: str
    old_due: dt.date
    new_due: dt.date
    requested_on: dt.date
    state: str
    decided_by: str | None
    decision_reason: str | None

    def as_json(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass(frozen=True)
class SupportView:
    id: int
    obligation_id: int
    unit: str
    unit_name: str
    note: str
    evidence: str | None
    submitted_on: dt.date

    def as_json(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass(frozen=True)
class ObligationDetail:
    obligation: ObligationView
    reports: list[ReportView]
    extensions: list[ExtensionView]
    support_inputs: list[SupportView]
    supporters: list[str]
    indicators: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"obligation": self.obligation.as_json(),
                "reports": [r.as_json() for r in self.reports],
                "extensions": [e.as_json() for e in self.extensions],
                "support_inputs": [s.as_json() for s in self.support_inputs],
                "supporters": self.supporters, "indicators": self.indicators}


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, dt.date | dt.datetime) else v for k, v in data.items()}


# -- obligations ------------------------------------------------------------------------------
def _obligation_query(plan_id: str) -> Select[Any]:
    o, t = OBLIGATIONS, TASKS
    return (
        select(o.c.id, o.c.plan_id, o.c.task_id, o.c.unit_id, o.c.period, o.c.period_start,
               o.c.period_end, o.c.due, o.c.original_due, o.c.warn_days)
        .join(t, and_(t.c.plan_id == o.c.plan_id, t.c.id == o.c.task_id))
        .where(o.c.plan_id == plan_id, o.c.active)
        .order_by(t.c.position, o.c.period, o.c.unit_id)
    )


def list_obligations(conn: Connection, plan_id: str, as_of: dt.date, *, unit_id: str | None = None,
                     task_ids: list[str] | None = None, limit: int = 200, offset: int = 0) -> list[ObligationView]:
    query = _obligation_query(plan_id)
    if unit_id is not None:
        query = query.where(OBLIGATIONS.c.unit_id == unit_id)
    if task_ids is not None:
        query = query.where(OBLIGATIONS.c.task_id.in_(task_ids))
    rows = [ObligationRow(**r._mapping) for r in conn.execute(query.limit(limit).offset(offset))]
    return views_of(conn, plan_id, rows, as_of)


def supported_obligations(conn: Connection, plan_id: str, unit_id: str, as_of: dt.date) -> list[ObligationView]:
    """Obligations of tasks the unit supports (配合) but does not lead."""
    tasks = [tid for tid, support in conn.execute(
        select(TASKS.c.id, TASKS.c.support).where(TASKS.c.plan_id == plan_id, TASKS.c.active)) if unit_id in (support or [])]
    if not tasks:
        return []
    views = list_obligations(conn, plan_id, as_of, task_ids=tasks, limit=10_000)
    return [v for v in views if v.unit != unit_id]


def views_of(conn: Connection, plan_id: str, rows: list[ObligationRow], as_of: dt.date) -> list[ObligationView]:
    """Each obligation's light on `as_of`, by the domain's reference rules."""
    if not rows:
        return []
    ctx = plan_context(conn, plan_id)
    ids = [r.id for r in rows]
    history: dict[int, list[HistoryRow]] = defaultdict(list)
    reviews: dict[int, str] = {}
    pending: set[int] = set()
    for start in range(0, len(ids), CHUNK):
        part = ids[start:start + CHUNK]
        for oid, rid, day, status, progress in conn.execute(
            select(REPORTS.c.obligation_id, REPORTS.c.id, REPORTS.c.reported_on, REPORTS.c.status,
                   REPORTS.c.progress).where(REPORTS.c.obligation_id.in_(part))
        ):
            history[oid].append((_date(day), int(rid), status, progress))
        for rid, decision in conn.execute(
            select(REVIEWS.c.report_id, REVIEWS.c.decision).where(REVIEWS.c.obligation_id.in_(part))
        ):
            reviews[int(rid)] = decision
        pending.update(int(oid) for (oid,) in conn.execute(
            select(EXTENSIONS.c.obligation_id).where(EXTENSIONS.c.obligation_id.in_(part), EXTENSIONS.c.state == "pending")))
    return [view_of(ctx, row, history.get(row.id, []), reviews, row.id in pending, as_of) for row in rows]


_HISTORY = (
    select(REPORTS.c.reported_on, REPORTS.c.id, REPORTS.c.status, REPORTS.c.progress, REVIEWS.c.decision)
    .outerjoin(REVIEWS, REVIEWS.c.report_id == REPORTS.c.id)
    .where(REPORTS.c.obligation_id == bindparam("oid"))
)
_PENDING = select(EXTENSIONS.c.id).where(EXTENSIONS.c.obligation_id == bindparam("oid"),
                                         EXTENSIONS.c.state == "pending").limit(1)


def report_history(conn: Connection, obligation_id: int) -> tuple[list[HistoryRow], dict[int, str]]:
    """One obligation's reports (any order) and their reviews (report id -> decision)."""
    reports: list[HistoryRow] = []
    reviews: dict[int, str] = {}
    for day, rid, status, progress, decision in conn.execute(_HISTORY, {"oid": obligation_id}):
        reports.append((_date(day), int(rid), status, progress))
        if decision is not None:
            reviews[int(rid)] = decision
    return reports, reviews


def extension_pending(conn: Connection, obligation_id: int) -> bool:
    return conn.execute(_PENDING, {"oid": obligation_id}).first() is not None


def view_of(ctx: PlanContext, row: ObligationRow, reports: list[HistoryRow], reviews: dict[int, str],
            extension_pending: bool, as_of: dt.date) -> ObligationView:
    """One obligation's view on `as_of` from its reports (any order) and the reviews of those
    reports (report id -> decision): the light by the domain's reference rules."""
    status, progress, done_on = state_as_of(reports, as_of)
    visible = [r for r in reports if r[0] <= as_of]
    latest = max(visible) if visible else None
    reading = light_on(ctx.calendar, as_of=as_of, period_start=row.period_start, due=row.due,
                       warn_days=row.warn_days, done_on=done_on)
    title, section = ctx.task_titles.get(row.task_id, (row.task_id, ""))
    return ObligationView(
        row.id, row.task_id, title, section, row.unit_id, ctx.unit_names.get(row.unit_id, row.unit_id),
        row.period, row.period_start, row.due, row.original_due, reading.light.value, reading.overdue_wd,
        status, progress, latest[0] if latest else None,
        reviews.get(latest[1]) if latest else None, extension_pending)


def obligation_detail(conn: Connection, row: ObligationRow, as_of: dt.date) -> ObligationDetail:
    view = views_of(conn, row.plan_id, [row], as_of)[0]
    ctx = plan_context(conn, row.plan_id)
    task = next((t for _, t in ctx.plan.tasks() if t.id == row.task_id), None)
    return ObligationDetail(
        view,
        report_list(conn, row.plan_id, obligation_id=row.id, limit=1000),
        extension_list(conn, row.plan_id, obligation_id=row.id),
        support_list(conn, row.plan_id, row.id),
        supporters(conn, row.plan_id, row.task_id),
        [i.model_dump(mode="json") for i in task.indicators] if task else [],
    )


# -- reports ---------------------------------------------------------------------------------
def _newer_report() -> Any:
    """A report of the same obligation that supersedes `status_report` (later date, or later arrival)."""
    newer = REPORTS.alias("newer")
    return exists().where(
        newer.c.obligation_id == REPORTS.c.obligation_id,
        or_(newer.c.reported_on > REPORTS.c.reported_on,
            and_(newer.c.reported_on == REPORTS.c.reported_on, newer.c.id > REPORTS.c.id)),
    )


def report_list(conn: Connection, plan_id: str, *, awaiting_review: bool = False, unit_id: str | None = None,
                obligation_id: int | None = None, limit: int = 200, offset: int = 0) -> list[ReportView]:
    """Reports of a plan, newest first. `awaiting_review`: done reports that are their
    obligation's latest and have no review yet (the coordinator's queue, oldest first)."""
    r, o = REPORTS, OBLIGATIONS
    query = (
        select(r.c.id, r.c.obligation_id, o.c.task_id, o.c.unit_id, o.c.period, r.c.status, r.c.progress,
               r.c.note, r.c.evidence, r.c.indicator_values, r.c.reported_on, r.c.received_at, r.c.source,
               r.c.actor, REVIEWS.c.decision, REVIEWS.c.reason, ~_newer_report())
        .join(o, o.c.id == r.c.obligation_id)
        .outerjoin(REVIEWS, REVIEWS.c.report_id == r.c.id)
    )
    if awaiting_review and unit_id is None and obligation_id is None and _large_plan(conn, plan_id):
        page = _review_queue(plan_id).limit(limit).offset(offset).correlate(None)
        query = query.where(r.c.id.in_(page.scalar_subquery())).order_by(r.c.received_at, r.c.id)
    else:
        query = query.where(o.c.plan_id == plan_id, o.c.active)
        if unit_id is not None:
            query = query.where(o.c.unit_id == unit_id)
        if obligation_id is not None:
            query = query.where(r.c.obligation_id == obligation_id)
        if awaiting_review:
            query = query.where(r.c.status == "done", REVIEWS.c.id.is_(None), ~_newer_report())
            query = query.order_by(r.c.received_at, r.c.id)
        else:
            query = query.order_by(r.c.reported_on.desc(), r.c.id.desc())
        query = query.limit(limit).offset(offset)
    return [
        ReportView(int(row[0]), int(row[1]), row[2], row[3], row[4], row[5], row[6], row[7], row[8],
                   dict(row[9] or {}), _date(row[10]), row[11], row[12], row[13], row[14], row[15], bool(row[16]))
        for row in conn.execute(query)
    ]


# From this many active obligations, a plan's review queue is read from the done reports in
# order of arrival (`_review_queue`), not from its obligations.
LARGE_PLAN = 20_000


def _large_plan(conn: Connection, plan_id: str) -> bool:
    """Whether the plan has at least LARGE_PLAN active obligations (counting no further)."""
    o = OBLIGATIONS
    some = select(o.c.id).where(o.c.plan_id == plan_id, o.c.active).limit(LARGE_PLAN).subquery()
    return int(conn.execute(select(func.count()).select_from(some)).scalar_one()) >= LARGE_PLAN


def _review_queue(plan_id: str) -> Select[tuple[int]]:
    """The ids of a large plan's review queue, oldest first: done reports that are their
    obligation's latest and have no review, of an active obligation of the plan.

    Read from `ix_report_done_received` (done reports by arrival), stopping once the page is
    full: the plan is a condition on each report, not where the query starts. From the
    plan's obligations (where SQLite's planner, without statistics, starts: it takes
    `plan_id` for selective), the query read every report of the plan and sorted every match
    to keep one page: 1.2-1.6 s at 1M obligations, 5-18 ms this way (BENCHMARKS.md, eleventh
    pass). A small plan, a unit's queue and an obligation's are still read from their
    obligations: few reports, and a walk of the store's done reports would pass every other
    plan's."""
    r, o = REPORTS, OBLIGATIONS
    return (select(r.c.id)
            .where(r.c.status == "done", exists().where(o.c.id == r.c.obligation_id, o.c.plan_id == plan_id, o.c.active),
                   ~exists().where(REVIEWS.c.report_id == r.c.id), ~_newer_report())
            .order_by(r.c.received_at, r.c.id))


# -- extensions and supporting input ---------------------------------------------------------
def extension_list(conn: Connection, plan_id: str, *, state: str | None = None, unit_id: str | None = None,
                   obligation_id: int | None = None, limit: int = 500, offset: int = 0) -> list[ExtensionView]:
    e, o = EXTENSIONS, OBLIGATIONS
    query = (
        select(e.c.id, e.c.obligation_id, o.c.task_id, o.c.unit_id, o.c.period, e.c.requested_by, e.c.reason,
               e.c.old_due, e.c.new_due, e.c.requested_on, e.c.state, e.c.decided_by, e.c.decision_reason)
        .join(o, o.c.id == e.c.obligation_id).where(e.c.plan_id == plan_id).order_by(e.c.id.desc())
    )
    if state is not None:
        query = query.where(e.c.state == state)
    if unit_id is not None:
        query = query.where(o.c.unit_id == unit_id)
    if obligation_id is not None:
        query = query.where(e.c.obligation_id == obligation_id)
    return [ExtensionView(int(r[0]), int(r[1]), r[2], r[3], r[4], r[5], r[6], _date(r[7]), _date(r[8]),
                          _date(r[9]), r[10], r[11], r[12])
            for r in conn.execute(query.limit(limit).offset(offset))]


def support_list(conn: Connection, plan_id: str, obligation_id: int) -> list[SupportView]:
    s = SUPPORT
    units = UnitRow.__table__  # type: ignore[attr-defined]
    rows = conn.execute(
        select(s.c.id, s.c.obligation_id, s.c.unit_id, func.coalesce(units.c.name, s.c.unit_id), s.c.note,
               s.c.evidence, s.c.submitted_on)
        .outerjoin(units, and_(units.c.plan_id == s.c.plan_id, units.c.id == s.c.unit_id))
        .where(s.c.plan_id == plan_id, s.c.obligation_id == obligation_id).order_by(s.c.id)
    )
    return [SupportView(int(r[0]), int(r[1]), r[2], r[3], r[4], r[5], _date(r[6])) for r in rows]

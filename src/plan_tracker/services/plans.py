"""Plans as code: validate a plan file, and apply it to the store with a diff."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, text, update

__all__ = ["UnknownPlan", "apply_loaded", "apply_plan", "stored_plan"]

from plan_tracker.domain.calendar import WorkCalendar
from plan_tracker.domain.errors import DomainError
from plan_tracker.domain.messages import word
from plan_tracker.domain.obligations import Obligation as PlannedObligation
from plan_tracker.domain.obligations import expand
from plan_tracker.domain.plan import Plan
from plan_tracker.domain.terms import Segment, Terms, change_from
from plan_tracker.planfile import load_plan
from plan_tracker.services.context import UnknownPlan, plan_context
from plan_tracker.services.recipients import plan_recipients
from plan_tracker.store import calendar_table
from plan_tracker.store.audit import record_event
from plan_tracker.store.dates import stored_date_or_none
from plan_tracker.store.models import (
    EscalationStepRow,
    Obligation,
    PlanRow,
    PlanVersion,
    StatusReport,
    TaskRow,
    UnitRow,
    utcnow,
)
from plan_tracker.store.outbox_models import Recipient, RoleRecipient
from plan_tracker.store.terms import (
    insert_obligations,
    insert_rows,
    load_timelines,
    rewrite_timelines,
    settle,
)

OBLIGATION = Obligation.__table__  # type: ignore[attr-defined]
BATCH = 5_000


@dataclass
class Changes:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)


@dataclass
class ApplyResult:
    plan_id: str
    version: int
    new_plan: bool
    units: Changes
    tasks: Changes
    obligations_added: int = 0
    obligations_changed: int = 0
    obligations_removed: int = 0
    obligations_total: int = 0
    dry_run: bool = False
    effective: dt.date | None = None
    renamed_tasks: dict[str, str] = field(default_factory=dict)
    renamed_units: dict[str, str] = field(default_factory=dict)
    history_kept: dict[str, dict[str, int]] = field(default_factory=dict)
    dates_moved: dict[str, int] = field(default_factory=dict)  # task -> obligations whose plan date moved
    warnings: list[str] = field(default_factory=list)  # English, kept in the version's summary and event
    # the same warnings as fields (task, count, effective, due, reported): the CLI words them in the plan's locale
    stops: list[dict[str, Any]] = field(default_factory=list)
    cancelled: dict[str, dict[str, Any]] = field(default_factory=dict)  # "task X" -> on, reason, obligations

    @property
    def changed(self) -> bool:
        return bool(
            self.new_plan or self.units or self.tasks or self.obligations_added
            or self.obligations_changed or self.obligations_removed
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "plan": self.plan_id, "version": self.version, "new_plan": self.new_plan,
            "dry_run": self.dry_run, "changed": self.changed,
            "units": vars(self.units), "tasks": vars(self.tasks),
            "obligations": {"added": self.obligations_added, "changed": self.obligations_changed,
                            "removed": self.obligations_removed, "total": self.obligations_total},
            "effective": self.effective.isoformat() if self.effective else None,
            "renamed": {"tasks": self.renamed_tasks, "units": self.renamed_units},
            "history_kept": self.history_kept, "dates_moved": self.dates_moved, "cancelled": self.cancelled,
            "warnings": self.warnings,
        }


def content_hash(plan: Plan) -> str:
    blob = json.dumps(plan.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def _unit_rows(plan: Plan) -> dict[str, dict[str, Any]]:
    return {
        u.id: {"plan_id": plan.id, "id": u.id, "name": u.name, "groups": list(u.groups),
               "contact": u.contact.model_dump(mode="json", exclude_none=True) if u.contact else None,
               "head": u.head.model_dump(mode="json", exclude_none=True) if u.head else None,
               "active": True}
        for u in plan.units
    }


def _task_rows(plan: Plan) -> dict[str, dict[str, Any]]:
    rows = {}
    for position, (section, task) in enumerate(plan.tasks()):
        rows[task.id] = {
            "plan_id": plan.id, "id": task.id, "section_id": section.id,
            "section_title": section.title, "position": position, "title": task.title,
            "description": task.description, "every": task.every.value if task.every else None,
            "due_after": task.due_after, "due": task.due, "lead": task.lead_refs,
            "support": list(task.support), "depends_on": list(task.depends_on),
            "indicators": [i.model_dump(mode="json") for i in task.indicators], "active": True,
        }
    return rows


def _diff_rows(table: Any, conn: Connection, plan_id: str, wanted: dict[str, dict[str, Any]]) -> Changes:
    have = {row["id"]: dict(row) for row in conn.execute(select(table).where(table.c.plan_id == plan_id)).mappings()}
    changes = Changes()
    for key, row in wanted.items():
        if key not in have:
            changes.added.append(key)
        elif any(have[key].get(k) != v for k, v in row.items()):
            changes.changed.append(key)
    changes.removed = [k for k, row in have.items() if k not in wanted and row["active"]]
    return changes


def _write_rows(table: Any, conn: Connection, plan_id: str, wanted: dict[str, dict[str, Any]], changes: Changes) -> None:
    if changes.added:
        conn.execute(insert(table), [wanted[k] for k in changes.added])
    for key in changes.changed:
        conn.execute(update(table).where(table.c.plan_id == plan_id, table.c.id == key).values(**wanted[key]))
    if changes.removed:
        conn.execute(update(table).where(table.c.plan_id == plan_id, table.c.id.in_(changes.removed)).values(active=False))


def _obligation_key(o: PlannedObligation) -> tuple[str, str, str]:
    return (o.task, o.unit, o.period)


class PlanChangeRefused(DomainError):
    """A plan change that would rewrite the record (an effective date before the previous
    version's, a rename onto an id that already has a record)."""


@dataclass(frozen=True)
class Renames:
    tasks: dict[str, str]  # old id -> new id, for old ids the store knows
    units: dict[str, str]

    def key(self, task: str, unit: str, period: str) -> tuple[str, str, str]:
        return (self.tasks.get(task, task), self.units.get(unit, unit), period)


def _renames(plan: Plan, known_tasks: set[str], known_units: set[str]) -> Renames:
    tasks = {t.renamed_from: t.id for _, t in plan.tasks() if t.renamed_from in known_tasks and t.id not in known_tasks}
    units = {u.renamed_from: u.id for u in plan.units if u.renamed_from in known_units and u.id not in known_units}
    return Renames(tasks, units)


def _cancellations(plan: Plan) -> tuple[dict[str, Any], dict[str, Any]]:
    return ({t.id: t.cancelled for _, t in plan.tasks() if t.cancelled is not None},
            {u.id: u.cancelled for u in plan.units if u.cancelled is not None})


def _diff_obligations(conn: Connection, plan: Plan, planned: list[PlannedObligation], result: ApplyResult,
                      effective: dt.date | None, write: bool) -> None:
    """Bring every obligation's timeline in line with the plan from `effective` on (None: the
    first version, from the beginning). Earlier days keep the terms they had."""
    timelines = load_timelines(conn, plan.id)
    renames = Renames(result.renamed_tasks, result.renamed_units)
    current: dict[tuple[str, str, str], int] = {}
    for oid, timeline in timelines.items():
        t = timeline[-1].terms
        key = renames.key(t.task_id, t.unit_id, t.period)
        if key in current:
            raise PlanChangeRefused("apply.rename_onto_used", task=key[0], unit=key[1])
        current[key] = oid
    task_cancel, unit_cancel = _cancellations(plan)
    added: list[list[Segment]] = []
    added_rows: list[PlannedObligation] = []
    changed: dict[int, list[Segment]] = {}
    wanted = {_obligation_key(o): o for o in planned}
    moved_dates: dict[str, int] = {}
    for key, o in wanted.items():
        stops = [c.on for c in (task_cancel.get(o.task), unit_cancel.get(o.unit)) if c is not None]
        until = min(stops) if stops else None
        found = current.get(key)
        if found is None:
            if until is None:  # the common case (a whole new plan): one row, no history
                added_rows.append(o)
                continue
            terms = Terms(o.task, o.unit, o.period, o.period_start, o.period_end, o.due, o.due, o.warn_days)
            added.append(change_from([], effective, terms, until))
            continue
        oid = found
        old = timelines[oid]
        last = old[-1].terms
        extended = last.due != last.original_due  # an approved extension survives a re-apply
        due = max(last.due, o.due) if extended else o.due
        terms = Terms(o.task, o.unit, o.period, o.period_start, o.period_end, due, o.due, o.warn_days)
        new = change_from(old, effective, terms, until)
        if new != old:
            changed[oid] = new
            if last.original_due != o.due and last.active:
                moved_dates[o.task] = moved_dates.get(o.task, 0) + 1
            if last.active and not new[-1].terms.active:
                _count_cancelled(result, o, task_cancel, unit_cancel, effective)
    stopped: list[int] = []
    for key, oid in current.items():
        old = timelines[oid]
        last = old[-1].terms
        if key in wanted:
            if last.active and not changed.get(oid, old)[-1].terms.active:
                stopped.append(oid)
            continue
        new = change_from(old, effective, replace(last, task_id=key[0], unit_id=key[1], active=False), until=effective)
        if new != old:
            changed[oid] = new
            if last.active:
                stopped.append(oid)
    result.obligations_added = len(added) + len(added_rows)
    result.obligations_removed = len(stopped)
    result.obligations_changed = len(changed) - len(stopped)
    result.obligations_total = sum(1 for o in wanted)
    result.dates_moved = moved_dates
    if stopped and effective is not None:
        stops = _stop_warnings(conn, timelines, stopped, effective)
        result.stops += stops
        result.warnings += [word("out.apply_stop_warning", "en", **stop).removeprefix("  ! ") for stop in stops]
    if write:
        for start in range(0, len(added_rows), BATCH):  # rows built a batch at a time (1M dicts at once: +450 MiB)
            insert_rows(conn, [_new_row(plan.id, o, effective) for o in added_rows[start:start + BATCH]])
        insert_obligations(conn, plan.id, added)
        rewrite_timelines(conn, plan.id, changed)


def _new_row(plan_id: str, o: PlannedObligation, effective: dt.date | None) -> dict[str, Any]:
    return {"plan_id": plan_id, "task_id": o.task, "unit_id": o.unit, "period": o.period,
            "period_start": o.period_start, "period_end": o.period_end, "due": o.due, "original_due": o.due,
            "warn_days": o.warn_days, "active": True, "overdue_wd": 0, "terms_from": effective}


def _count_cancelled(result: ApplyResult, o: PlannedObligation, task_cancel: dict[str, Any],
                     unit_cancel: dict[str, Any], effective: dt.date | None) -> None:
    """Tally an obligation a cancellation (撤销) stops tracking, under its task or unit."""
    what, cause = (f"task {o.task}", task_cancel[o.task]) if o.task in task_cancel else (f"unit {o.unit}", unit_cancel[o.unit])
    on = max(cause.on, effective) if effective is not None else cause.on
    entry = result.cancelled.setdefault(what, {"on": on.isoformat(), "reason": cause.reason, "obligations": 0})
    entry["obligations"] += 1


def _stop_warnings(conn: Connection, timelines: dict[int, list[Segment]], stopped: list[int],
                   effective: dt.date) -> list[dict[str, Any]]:
    """One line per task or unit whose obligations stop being tracked although some are
    already due or reported: the record before `effective` keeps them."""
    reported = set(conn.execute(select(REPORTS.c.obligation_id).where(REPORTS.c.obligation_id.in_(stopped))).scalars()) if stopped else set()
    by_task: dict[str, list[int]] = {}
    for oid in stopped:
        by_task.setdefault(timelines[oid][-1].terms.task_id, []).append(oid)
    lines = []
    for task, oids in sorted(by_task.items()):
        due = sum(1 for oid in oids if timelines[oid][-1].terms.due < effective)
        with_reports = sum(1 for oid in oids if oid in reported)
        if due or with_reports:
            lines.append({"task": task, "count": len(oids), "effective": effective, "due": due,
                          "reported": with_reports})
    return lines


def _replace_plan_wide(conn: Connection, plan: Plan) -> None:
    """Escalation steps and recipients are small: replaced whole on every change."""
    for model in (EscalationStepRow, RoleRecipient, Recipient):
        table = model.__table__  # type: ignore[attr-defined,union-attr]
        conn.execute(delete(table).where(table.c.plan_id == plan.id))
    steps = [
        {"plan_id": plan.id, "level": s.level, "position": i, "after": s.after,
         "repeat_every": s.repeat_every, "notify": [r.value for r in s.notify]}
        for i, s in enumerate(plan.ladder())
    ]
    if steps:
        conn.execute(insert(EscalationStepRow.__table__), steps)  # type: ignore[attr-defined]
    recipients, roles = plan_recipients(plan)
    if recipients:
        conn.execute(insert(Recipient.__table__), [  # type: ignore[attr-defined]
            {"plan_id": plan.id, "key": r.key, "name": r.name, "channel": r.channel, "address": r.address}
            for r in recipients])
    if roles:
        conn.execute(insert(RoleRecipient.__table__), [  # type: ignore[attr-defined]
            {"plan_id": plan.id, "unit_id": u, "role": role, "recipient_key": k} for u, role, k in roles])


def apply_plan(engine: Engine, path: Path, *, dry_run: bool = False, actor: str = "cli", source: str = "cli",
               effective: dt.date | None = None, today: dt.date | None = None) -> ApplyResult:
    """Validate `path` and bring the store in line with it, in one transaction, as a new
    plan version in force from `effective` (default `today` in the plan's time zone; the
    first version is in force from the plan's start).

    Applying the same content twice changes nothing; nothing is deleted, and what the record
    says about any day before the effective date stays as it was.
    """
    plan = load_plan(path)
    return apply_loaded(engine, plan, dry_run=dry_run, actor=actor, source=source, origin=str(path),
                        effective=effective, today=today)


def apply_loaded(engine: Engine, plan: Plan, *, dry_run: bool = False, actor: str = "cli",
                 source: str = "cli", origin: str | None = None, effective: dt.date | None = None,
                 today: dt.date | None = None) -> ApplyResult:
    calendar = WorkCalendar(plan.plan.calendar)
    digest = content_hash(plan)
    with engine.begin() as conn:
        current = conn.execute(select(PlanRow.__table__).where(PlanRow.__table__.c.id == plan.id)).mappings().first()  # type: ignore[attr-defined]
        version = (current["version"] if current else 0)
        result = ApplyResult(plan.id, version, current is None, Changes(), Changes(), dry_run=dry_run)
        if current is not None and current["content_hash"] == digest:
            result.obligations_total = _count_active(conn, plan.id)
            result.effective = _latest_effective(conn, plan.id)
            return result
        result.effective = _effective_date(conn, plan, current is None, effective, today)
        planned = list(expand(plan, calendar))
        units, tasks = _unit_rows(plan), _task_rows(plan)
        known_units = set(conn.execute(select(_UNITS.c.id).where(_UNITS.c.plan_id == plan.id)).scalars())
        known_tasks = set(conn.execute(select(_TASKS.c.id).where(_TASKS.c.plan_id == plan.id)).scalars())
        renames = _renames(plan, known_tasks, known_units)
        result.renamed_tasks, result.renamed_units = renames.tasks, renames.units
        result.units = _diff_rows(_UNITS, conn, plan.id, units)
        result.tasks = _diff_rows(_TASKS, conn, plan.id, tasks)
        result.version = version + 1
        if result.renamed_tasks or result.renamed_units:
            result.history_kept = _history_counts(conn, plan.id, renames)
        effective_from = None if current is None else result.effective  # the first version: from the beginning
        if dry_run:
            _diff_obligations(conn, plan, planned, result, effective_from, write=False)
            return result
        _write_plan_row(conn, plan, digest, result.version, current is not None, origin)
        _write_rows(_UNITS, conn, plan.id, units, result.units)
        _write_rows(_TASKS, conn, plan.id, tasks, result.tasks)
        _diff_obligations(conn, plan, planned, result, effective_from, write=True)
        _carry_unit_renames(conn, plan.id, renames)
        settle(conn, plan.id)
        _replace_plan_wide(conn, plan)
        key = calendar_table.calendar_key(plan.plan.calendar)
        calendar_table.ensure_calendar(conn, calendar, key, *calendar_table.table_range(calendar, plan.plan.start, plan.plan.end))
        summary = result.as_dict()
        conn.execute(insert(PlanVersion.__table__), {  # type: ignore[attr-defined]
            "plan_id": plan.id, "version": result.version, "content_hash": digest,
            "applied_at": utcnow(), "summary": summary, "effective_from": result.effective,
            "spec": plan.model_dump(mode="json")})
        record_event(conn, plan_id=plan.id, kind="plan.applied", actor=actor, source=source, payload=summary)
    if engine.dialect.name == "postgresql" and result.obligations_added + result.obligations_changed > 1_000:
        # Fresh statistics after a bulk change: with stale ones the planner picks nested
        # loops for the evaluation and a night over a new province's plan takes minutes.
        with engine.begin() as conn:
            conn.execute(text("ANALYZE obligation"))
            conn.execute(text("ANALYZE calendar_day"))
            conn.execute(text("ANALYZE role_recipient"))  # or it scans every recipient per reminder
    return result


_UNITS = UnitRow.__table__  # type: ignore[attr-defined]
_TASKS = TaskRow.__table__  # type: ignore[attr-defined]
REPORTS = StatusReport.__table__  # type: ignore[attr-defined]


def _latest_effective(conn: Connection, plan_id: str) -> dt.date | None:
    t = PlanVersion.__table__  # type: ignore[attr-defined]
    value = conn.execute(select(t.c.effective_from).where(t.c.plan_id == plan_id).order_by(t.c.version.desc()).limit(1)).scalar()
    return stored_date_or_none(value)


def _effective_date(conn: Connection, plan: Plan, first: bool, effective: dt.date | None, today: dt.date | None) -> dt.date:
    """The first version is in force from the plan's start; a later one from `effective`
    (default today), never before the previous version's effective date."""
    if first:
        return plan.plan.start
    day = effective or today
    if day is None:  # the caller is the edge: today in the plan's time zone
        from plan_tracker.clock import today_in

        day = today_in(plan.plan.timezone)
    previous = _latest_effective(conn, plan.id)
    if previous is not None and day < previous:
        raise PlanChangeRefused("apply.effective_too_early", day=day, previous=previous)
    return day


def _history_counts(conn: Connection, plan_id: str, renames: Renames) -> dict[str, dict[str, int]]:
    """Reports and reminders that a rename carries to the new id (for the dry-run)."""
    from plan_tracker.store.recorded_steps import recorded_steps

    o, steps = OBLIGATION, recorded_steps()  # the record whole: skipped steps carry over too
    counts: dict[str, dict[str, int]] = {}
    for kind, column, mapping in (("task", o.c.task_id, renames.tasks), ("unit", o.c.unit_id, renames.units)):
        for old, new in mapping.items():
            ids = select(o.c.id).where(o.c.plan_id == plan_id, column == old).scalar_subquery()
            reports = conn.execute(select(func.count()).where(REPORTS.c.obligation_id.in_(ids))).scalar_one()
            reminders = conn.execute(select(func.count()).select_from(steps)
                                     .where(steps.c.obligation_id.in_(ids))).scalar_one()
            counts[f"{kind} {old} → {new}"] = {"reports": int(reports), "reminders": int(reminders)}
    return counts


def _carry_unit_renames(conn: Connection, plan_id: str, renames: Renames) -> None:
    """A renamed unit keeps its portal tokens."""
    if not renames.units:
        return
    from plan_tracker.store.portal_models import ApiToken

    t = ApiToken.__table__  # type: ignore[attr-defined]
    for old, new in renames.units.items():
        conn.execute(update(t).where(t.c.plan_id == plan_id, t.c.unit_id == old).values(unit_id=new))


def _count_active(conn: Connection, plan_id: str) -> int:
    from sqlalchemy import func

    t = OBLIGATION
    return int(conn.execute(select(func.count()).where(t.c.plan_id == plan_id, t.c.active)).scalar_one())


def _write_plan_row(conn: Connection, plan: Plan, digest: str, version: int, exists: bool, origin: str | None) -> None:
    table = PlanRow.__table__  # type: ignore[attr-defined]
    values = {
        "title": plan.plan.title, "coordinator": plan.plan.coordinator, "timezone": plan.plan.timezone,
        "calendar_key": calendar_table.calendar_key(plan.plan.calendar), "start": plan.plan.start,
        "end": plan.plan.end, "warn_days": plan.plan.warn_days, "version": version,
        "content_hash": digest, "spec": plan.model_dump(mode="json"), "source": origin,
    }
    if exists:
        conn.execute(update(table).where(table.c.id == plan.id).values(**values))
    else:
        conn.execute(insert(table).values(id=plan.id, **values))


def plan_locale(engine: Engine, plan_id: str) -> str:
    """The stored plan's locale: what is said about its night, tables and summaries speaks it."""
    with engine.connect() as conn:
        return stored_plan(conn, plan_id).plan.locale


def agreed_locale(locales: Iterable[str], fallback: str) -> str:
    """One language for output about several plans: theirs when they all agree, else `fallback`."""
    found = set(locales)
    return found.pop() if len(found) == 1 else fallback


def stored_plan(conn: Connection, plan_id: str, as_of: dt.date | None = None) -> Plan:
    """The plan version in force on `as_of` (default: the latest version; raises UnknownPlan).
    Prefer `services.context.plan_context` at an edge and pass the context down."""
    return plan_context(conn, plan_id, as_of).plan

"""Plans as code: validate a plan file, and apply it to the store with a diff."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, insert, select, text, update

from plan_tracker.domain.calendar import WorkCalendar
from plan_tracker.domain.obligations import Obligation as PlannedObligation
from plan_tracker.domain.obligations import expand
from plan_tracker.domain.plan import Plan
from plan_tracker.planfile import load_plan
from plan_tracker.services.recipients import plan_recipients
from plan_tracker.store import calendar_table
from plan_tracker.store.audit import record_event
from plan_tracker.store.models import (
    EscalationStepRow,
    Obligation,
    PlanRow,
    PlanVersion,
    TaskRow,
    UnitRow,
    utcnow,
)
from plan_tracker.store.outbox_models import Recipient, RoleRecipient

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


def _diff_obligations(conn: Connection, plan_id: str, planned: list[PlannedObligation], result: ApplyResult, write: bool) -> None:
    t = OBLIGATION
    have = {
        (r.task_id, r.unit_id, r.period): r
        for r in conn.execute(
            select(t.c.id, t.c.task_id, t.c.unit_id, t.c.period, t.c.period_start, t.c.period_end,
                   t.c.due, t.c.original_due, t.c.warn_days, t.c.active).where(t.c.plan_id == plan_id)
        )
    }
    wanted = {_obligation_key(o): o for o in planned}
    added = [o for k, o in wanted.items() if k not in have]
    changed: list[dict[str, Any]] = []
    for key, o in wanted.items():
        row = have.get(key)
        if row is None:
            continue
        if (row.period_start, row.period_end, row.original_due, row.warn_days, row.active) != (
            o.period_start, o.period_end, o.due, o.warn_days, True
        ):
            extended = row.due != row.original_due  # an approved extension survives re-apply
            changed.append({"oid": row.id, "period_start": o.period_start, "period_end": o.period_end,
                            "original_due": o.due, "due": max(row.due, o.due) if extended else o.due,
                            "warn_days": o.warn_days, "active": True})
    removed = [row.id for key, row in have.items() if key not in wanted and row.active]
    result.obligations_added, result.obligations_changed = len(added), len(changed)
    result.obligations_removed, result.obligations_total = len(removed), len(wanted)
    if not write:
        return
    for start in range(0, len(added), BATCH):
        conn.execute(insert(t), [
            {"plan_id": plan_id, "task_id": o.task, "unit_id": o.unit, "period": o.period,
             "period_start": o.period_start, "period_end": o.period_end, "due": o.due,
             "original_due": o.due, "warn_days": o.warn_days, "active": True, "overdue_wd": 0}
            for o in added[start:start + BATCH]
        ])
    if changed:
        from sqlalchemy import bindparam

        stmt = update(t).where(t.c.id == bindparam("oid")).values(
            period_start=bindparam("period_start"), period_end=bindparam("period_end"),
            original_due=bindparam("original_due"), due=bindparam("due"),
            warn_days=bindparam("warn_days"), active=bindparam("active"))
        conn.execute(stmt, changed)
    for start in range(0, len(removed), BATCH):
        conn.execute(update(t).where(t.c.id.in_(removed[start:start + BATCH])).values(active=False))


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


def apply_plan(engine: Engine, path: Path, *, dry_run: bool = False, actor: str = "cli", source: str = "cli") -> ApplyResult:
    """Validate `path` and bring the store in line with it, in one transaction.

    Applying the same content twice changes nothing; removed tasks and units are deactivated,
    never deleted, so no status report is lost.
    """
    plan = load_plan(path)
    return apply_loaded(engine, plan, dry_run=dry_run, actor=actor, source=source, origin=str(path))


def apply_loaded(engine: Engine, plan: Plan, *, dry_run: bool = False, actor: str = "cli",
                 source: str = "cli", origin: str | None = None) -> ApplyResult:
    calendar = WorkCalendar(plan.plan.calendar)
    digest = content_hash(plan)
    with engine.begin() as conn:
        current = conn.execute(select(PlanRow.__table__).where(PlanRow.__table__.c.id == plan.id)).mappings().first()  # type: ignore[attr-defined]
        version = (current["version"] if current else 0)
        result = ApplyResult(plan.id, version, current is None, Changes(), Changes(), dry_run=dry_run)
        if current is not None and current["content_hash"] == digest:
            result.obligations_total = _count_active(conn, plan.id)
            return result
        planned = list(expand(plan, calendar))
        units, tasks = _unit_rows(plan), _task_rows(plan)
        result.units = _diff_rows(UnitRow.__table__, conn, plan.id, units)  # type: ignore[attr-defined]
        result.tasks = _diff_rows(TaskRow.__table__, conn, plan.id, tasks)  # type: ignore[attr-defined]
        result.version = version + 1
        if dry_run:
            _diff_obligations(conn, plan.id, planned, result, write=False)
            return result
        _write_plan_row(conn, plan, digest, result.version, current is not None, origin)
        _write_rows(UnitRow.__table__, conn, plan.id, units, result.units)  # type: ignore[attr-defined]
        _write_rows(TaskRow.__table__, conn, plan.id, tasks, result.tasks)  # type: ignore[attr-defined]
        _diff_obligations(conn, plan.id, planned, result, write=True)
        _replace_plan_wide(conn, plan)
        key = calendar_table.calendar_key(plan.plan.calendar)
        calendar_table.ensure_calendar(conn, calendar, key, *calendar_table.table_range(calendar, plan.plan.start, plan.plan.end))
        summary = result.as_dict()
        conn.execute(insert(PlanVersion.__table__), {  # type: ignore[attr-defined]
            "plan_id": plan.id, "version": result.version, "content_hash": digest,
            "applied_at": utcnow(), "summary": summary})
        record_event(conn, plan_id=plan.id, kind="plan.applied", actor=actor, source=source, payload=summary)
    if engine.dialect.name == "postgresql" and result.obligations_added + result.obligations_changed > 1_000:
        # Fresh statistics after a bulk change: with stale ones the planner picks nested
        # loops for the evaluation and a night over a new province's plan takes minutes.
        with engine.begin() as conn:
            conn.execute(text("ANALYZE obligation"))
            conn.execute(text("ANALYZE calendar_day"))
            conn.execute(text("ANALYZE role_recipient"))  # or it scans every recipient per reminder
    return result


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


_PLANS = PlanRow.__table__  # type: ignore[attr-defined]
_CONTENT_HASH = select(_PLANS.c.content_hash).where(_PLANS.c.id == bindparam("plan_id"))


def stored_digest(conn: Connection, plan_id: str) -> str:
    """The content hash of the plan as last applied (raises UnknownPlan): what caches of
    anything derived from the plan are keyed by."""
    digest = conn.execute(_CONTENT_HASH, {"plan_id": plan_id}).scalar_one_or_none()
    if digest is None:
        raise UnknownPlan(plan_id)
    return str(digest)


def stored_plan(conn: Connection, plan_id: str) -> Plan:
    """The plan as last applied (raises UnknownPlan). Parsed plans are cached by content
    hash, so a submission or a page view does not re-validate a large plan each time."""
    digest = stored_digest(conn, plan_id)
    cached = _PARSED.get(digest)
    if cached is None:
        spec = conn.execute(select(_PLANS.c.spec).where(_PLANS.c.id == plan_id)).scalar_one()
        cached = Plan.model_validate(spec)
        if len(_PARSED) >= 32:
            _PARSED.pop(next(iter(_PARSED)))
        _PARSED[digest] = cached
    return cached


_PARSED: dict[str, Plan] = {}  # content hash -> parsed plan (plans are immutable per hash)


class UnknownPlan(LookupError):
    def __init__(self, plan_id: str):
        self.plan_id = plan_id
        super().__init__(f"no plan {plan_id!r} in the store; apply it first with `plan-tracker plan apply FILE`")

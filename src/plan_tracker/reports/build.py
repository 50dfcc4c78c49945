"""Building the report model from the store: one evaluation, then aggregates in SQL.

`build_report(engine, plan_id, as_of)` is what the CLI, the nightly report stage and the
web portal call. It reads the clock nowhere: the as-of date comes in.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from itertools import pairwise
from typing import Any

from sqlalchemy import BindParameter, Connection, Date, Engine, bindparam, select, text

from plan_tracker.domain.cadence import digest_period
from plan_tracker.domain.calendar import WorkCalendar
from plan_tracker.domain.indicators import gap, trend
from plan_tracker.domain.plan import Cadence, Direction, Plan
from plan_tracker.domain.scoring import score_unit
from plan_tracker.reports import sql as q
from plan_tracker.reports.model import (
    LIGHTS,
    BlockedEntry,
    GroupFigures,
    IndicatorFigures,
    IndicatorPoint,
    Level,
    LightCounts,
    Notice,
    NoticeItem,
    NoticeUnit,
    OverdueItem,
    ReminderEntry,
    Report,
    Reporting,
    Summary,
    TrendPoint,
    UnitFigures,
    WeeklyFigures,
    Withdrawal,
)
from plan_tracker.reports.phases import DELIVERED, EVALUATED, Wait
from plan_tracker.services.blocked import blocked_items
from plan_tracker.services.context import PlanContext, plan_context, versions_until
from plan_tracker.services.message_model import latest_words
from plan_tracker.services.messages import UnitWords, clean_note, level_wording
from plan_tracker.services.status import id_bounds
from plan_tracker.store.dates import stored_date as _date
from plan_tracker.store.dates import stored_date_or_none as _opt_date
from plan_tracker.store.models import ObligationTerm, TaskRow, UnitRow
from plan_tracker.store.recorded_steps import recorded_steps

OVERDUE_LIMIT = 200
NOTICE_LIMIT = 1000
_DATES = ("as_of", "first", "day")


def _sql(statement: str) -> Any:
    """A text statement with its date parameters typed (SQLite stores dates as ISO text)."""
    clause = text(statement)
    names = set(clause._bindparams)
    return clause.bindparams(*[bindparam(n, type_=Date()) for n in _DATES if n in names])


def build_report(engine: Engine, plan_id: str | PlanContext, as_of: dt.date, *, since: dt.date | None = None,
                 overdue_limit: int = OVERDUE_LIMIT, overdue_offset: int = 0,
                 notice_limit: int = NOTICE_LIMIT, wait: Wait | None = None,
                 weekly: WeeklyWanted | None = None) -> Report:
    """The report of a plan as of a date.

    `since`: the snapshot date to compare with (default: the latest nightly snapshot before
    `as_of`). The overdue list holds at most `overdue_limit` items from `overdue_offset`
    (oldest first); `overdue_total` says how many there are. `wait(phase)`, when given, is
    called before reading what the night is still writing (EVALUATED, then DELIVERED): the
    report is then built beside the night, and what it read before commits (`_after`).
    `weekly`, when given, receives the week's report figures (`build_weekly`'s) from the same
    items, as soon as the lights are counted (`reports.ahead`: for the night's delivery).
    """
    with _evaluated_items(engine, plan_id, as_of, whole=True) as (conn, ctx, params):
        return _assemble(conn, ctx, as_of, params, since=since, overdue_limit=overdue_limit,
                         overdue_offset=overdue_offset, notice_limit=notice_limit,
                         after=lambda phase: _after(conn, wait, phase), weekly=weekly)


def _after(conn: Connection, wait: Wait | None, phase: str) -> None:
    """Let the night reach `phase` before reading on. The items read so far stay (temporary
    tables keep their rows over a commit); the commit ends this connection's snapshot, so
    SQLite's next reads see what the night committed meanwhile (PostgreSQL reads the latest
    committed rows at each statement anyway)."""
    if wait is None:
        return
    conn.commit()
    wait(phase)
    if conn.dialect.name == "postgresql":
        conn.execute(text(q.REPORT_WORK_MEM))  # SET LOCAL ended with the commit


def build_weekly(engine: Engine, plan_id: str | PlanContext, as_of: dt.date, *, since: dt.date | None,
                 overdue_limit: int) -> WeeklyFigures:
    """What the week's report carried in a manager's message reads (`reports.weekly_mail`):
    the headline figures and the first overdue items, from the same evaluation as
    `build_report`'s, without what only the whole report shows (units, tasks, notice,
    indicators, trend) and without the progress of every started item, which only the
    listed ones need. At 1M obligations each delivery process carrying a manager's message
    built the whole report for these few figures."""
    with _evaluated_items(engine, plan_id, as_of, whole=False) as (conn, ctx, params):
        rows = [dict(r) for r in conn.execute(text(q.WEEKLY_BY_LIGHT)).mappings()]
        return _weekly_figures(conn, ctx, as_of, params, rows, _names(conn, ctx.plan), since=since,
                               overdue_limit=overdue_limit, page=q.OVERDUE_PAGE_LOOKED_UP,
                               overdue_total=_overdue_total(conn))


class WeeklyWanted:
    """The week's report figures asked of a whole report as it is built (`build_report`'s
    `weekly`): the change since `since`, the first `overdue_limit` overdue items, handed to
    `publish` as soon as the lights are counted."""

    def __init__(self, since: dt.date | None, overdue_limit: int, publish: Callable[[WeeklyFigures], None]) -> None:
        self.since, self.overdue_limit, self.publish = since, overdue_limit, publish


def _weekly_figures(conn: Connection, ctx: PlanContext, as_of: dt.date, params: dict[str, Any],
                    rows: list[dict[str, Any]], names: dict[str, dict[str, Any]], *, since: dt.date | None,
                    overdue_limit: int, page: str, overdue_total: int) -> WeeklyFigures:
    """The week's report figures from the items table: `rows` are counts per light (the
    week's own, or the whole report's task rows: the same sums)."""
    lights = _counts(rows)
    since_day, change = _change(conn, ctx.id, as_of, since, lights)
    return WeeklyFigures(
        plan_title=ctx.plan.plan.title, locale=ctx.plan.plan.locale, as_of=as_of, lights=lights,
        reporting=_reporting(rows), overdue_wd=sum(int(r["overdue_wd"] or 0) for r in rows if r["light"] == "red"),
        since=since_day, change=change,
        overdue=_overdue(conn, params, names, ctx.plan, overdue_limit, 0, page=page), overdue_total=overdue_total)


def _overdue_total(conn: Connection) -> int:
    return int(conn.execute(text(q.OVERDUE_COUNT)).scalar_one())


@contextmanager
def _evaluated_items(engine: Engine, source: str | PlanContext, as_of: dt.date, *,
                     whole: bool) -> Iterator[tuple[Connection, PlanContext, dict[str, Any]]]:
    """A connection whose temporary items table holds the plan's obligations evaluated as of
    the date (and, for the `whole` report, the items' progress and the cells grouped from
    them), dropped when the caller is done."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text(q.REPORT_WORK_MEM))  # this transaction only (SET LOCAL)
        ctx = source if isinstance(source, PlanContext) else plan_context(conn, source, as_of)
        # ctx.plan: the version in force on the as-of date (its units, tasks, ladder, scoring)
        params = ctx.eval_params(conn, as_of)
        low, high = id_bounds(conn, ctx.id)
        params.update(lo=low, hi=high)
        for drop, create in ((q.DROP_ITEMS, q.CREATE_ITEMS), (q.DROP_CELLS, q.CREATE_CELLS),
                             (q.DROP_DIGEST_DAYS, q.CREATE_DIGEST_DAYS)):
            conn.execute(text(drop))
            conn.execute(text(create))
        try:
            fill = q.fill_items_sql(conn.dialect.name, history=ctx.reads_history(as_of), progress=whole)
            conn.execute(_sql(fill), params)
            if whole:
                conn.execute(text(q.FILL_CELLS))
            yield conn, ctx, params
        finally:
            conn.rollback()
            conn.execute(text(q.DROP_ITEMS))
            conn.execute(text(q.DROP_CELLS))
            conn.execute(text(q.DROP_DIGEST_DAYS))
            conn.commit()


def _assemble(conn: Connection, ctx: PlanContext, as_of: dt.date, params: dict[str, Any], *,
              since: dt.date | None, overdue_limit: int, overdue_offset: int, notice_limit: int,
              after: Wait, weekly: WeeklyWanted | None = None) -> Report:
    """The report from the items, in the order the night makes its parts: first what the
    status reports alone decide, then (`after(EVALUATED)`) the reminders raised, then
    (`after(DELIVERED)`) their delivery states and tonight's snapshot."""
    plan = ctx.plan
    levels = [Level(s.level, level_wording(plan, s.level), s.after, i) for i, s in enumerate(plan.ladder())]
    names = _names(conn, plan)
    task_rows = [dict(r) for r in conn.execute(_sql(q.BY_TASK_LIGHT), {"plan": plan.id}).mappings()]
    for r in task_rows:  # the section as the version in force has it
        r["section_id"] = names["tasks"].get(r["task_id"], ("", 0, r["section_id"]))[2]
    unit_rows = list(conn.execute(_sql(q.BY_UNIT)).mappings())
    sections, tasks = _sections_and_tasks(task_rows, names)
    overdue_total = _overdue_total(conn)
    if weekly is not None:  # first: the sooner it is there, the more of the delivery can take it
        weekly.publish(_weekly_figures(conn, ctx, as_of, params, task_rows, names, since=weekly.since,
                                       overdue_limit=weekly.overdue_limit, page=q.OVERDUE_PAGE,
                                       overdue_total=overdue_total))
    lights = _counts(task_rows)
    since_day, change = _change(conn, plan.id, as_of, since, lights)  # a snapshot before the as-of date
    indicators = _indicators(conn, plan, params, names)
    withdrawn = withdrawals(conn, ctx, as_of)

    after(EVALUATED)  # reminders: raised (any delivery state) and not skipped, as counted here
    reminders = _reminders_by_unit(conn, params, plan)
    units = _units(plan, unit_rows, reminders, names)
    level_totals: dict[str, int] = defaultdict(int)
    for per_level in reminders.values():
        for level, n in per_level.items():
            level_totals[level] += n
    summary = Summary(
        total=lights.total, lights=lights, reporting=_reporting(task_rows),
        overdue_wd=sum(int(r["overdue_wd"] or 0) for r in task_rows if r["light"] == "red"),
        since=since_day, change=change,
        reminders={lv.level: level_totals.get(lv.level, 0) for lv in levels},
    )
    notice = _notice(conn, params, names, plan, levels, notice_limit)

    after(DELIVERED)  # the overdue items' reminders show their delivery state; the trend, tonight's point
    coordinator = names["units"].get(plan.plan.coordinator, plan.plan.coordinator)
    return Report(
        plan_id=plan.id, plan_title=plan.plan.title, locale=plan.plan.locale, as_of=as_of,
        coordinator_name=coordinator,
        leading_group_name=plan.leading_group.name if plan.leading_group else None,
        levels=levels, summary=summary, sections=sections, tasks=tasks, units=units,
        indicators=indicators,
        overdue=_overdue(conn, params, names, plan, overdue_limit, overdue_offset),
        overdue_total=overdue_total, overdue_offset=overdue_offset,
        notice=notice,
        trend=_trend(conn, plan, as_of),
        withdrawn=withdrawn, version=ctx.version.number,
        blocked=_blocked(conn, plan.id, as_of, names, notice_limit),
    )


def _blocked(conn: Connection, plan_id: str, as_of: dt.date, names: dict[str, dict[str, Any]],
             limit: int) -> list[BlockedEntry]:
    """Blocked items among the obligations tracked on `as_of`, under the ids they had then
    (the report's items table holds the terms as of the date)."""
    found = blocked_items(conn, plan_id, as_of, limit=limit, active_only=False)
    if not found:  # most nights: no need to read the items (100k rows in a province)
        return []
    wanted = text(f"SELECT id, task_id, unit_id FROM {q.ITEMS_TABLE} WHERE id IN :ids").bindparams(  # noqa: S608
        bindparam("ids", expanding=True))
    as_of_ids = {int(r.id): (r.task_id, r.unit_id)
                 for r in conn.execute(wanted, {"ids": sorted({b.obligation_id for b in found})})}
    entries = []
    for b in found:
        if b.obligation_id not in as_of_ids:
            continue  # not tracked on the date
        task, unit = as_of_ids[b.obligation_id]
        entries.append(BlockedEntry(task, names["tasks"].get(task, (task,))[0], unit, names["units"].get(unit, unit),
                                    b.period, b.since, clean_note(b.reason)))
    return entries


def withdrawals(conn: Connection, ctx: PlanContext, as_of: dt.date) -> list[Withdrawal]:
    """Tasks and units no longer tracked on `as_of`: cancelled (撤销) by then with the reason,
    or left out of a version in force by then (renames are not withdrawals)."""
    found: dict[tuple[str, str], Withdrawal] = {}
    history = versions_until(conn, ctx, as_of)
    for (_, before), (version, after) in pairwise(history):
        kept_tasks = {t.id for _, t in after.tasks()} | {t.renamed_from for _, t in after.tasks() if t.renamed_from}
        kept_units = {u.id for u in after.units} | {u.renamed_from for u in after.units if u.renamed_from}
        for _, task in before.tasks():
            if task.id not in kept_tasks:
                found[("task", task.id)] = Withdrawal("task", task.id, task.title, version.effective_from, None, version.number)
        for unit in before.units:
            if unit.id not in kept_units:
                found[("unit", unit.id)] = Withdrawal("unit", unit.id, unit.name, version.effective_from, None, version.number)
    number = ctx.version.number
    for _, task in ctx.plan.tasks():
        if task.cancelled is not None and task.cancelled.on <= as_of:
            found[("task", task.id)] = Withdrawal("task", task.id, task.title, task.cancelled.on, task.cancelled.reason, number)
    for unit in ctx.plan.units:
        if unit.cancelled is not None and unit.cancelled.on <= as_of:
            found[("unit", unit.id)] = Withdrawal("unit", unit.id, unit.name, unit.cancelled.on, unit.cancelled.reason, number)
    return sorted(found.values(), key=lambda w: (w.on, w.kind, w.id))


def _names(conn: Connection, plan: Plan) -> dict[str, dict[str, Any]]:
    """Titles of tasks and sections (with their plan order) and names of units, as the plan
    version in force names them; ids it no longer has (none, as of a date the version
    covers) fall back to the last names the store knows."""
    t, u = TaskRow.__table__, UnitRow.__table__  # type: ignore[attr-defined]
    tasks: dict[str, Any] = {}
    sections: dict[str, Any] = {}
    for position, (section, task) in enumerate(plan.tasks()):
        tasks[task.id] = (task.title, position, section.id)
        sections.setdefault(section.id, (section.title, position))
    offset = len(tasks)
    for row in conn.execute(select(t.c.id, t.c.title, t.c.section_id, t.c.section_title, t.c.position)
                            .where(t.c.plan_id == plan.id).order_by(t.c.position)):
        if row.id not in tasks:
            tasks[row.id] = (row.title, offset + row.position, row.section_id)
            sections.setdefault(row.section_id, (row.section_title, offset + row.position))
    units = {row.id: row.name for row in conn.execute(select(u.c.id, u.c.name).where(u.c.plan_id == plan.id))}
    units.update({unit.id: unit.name for unit in plan.units})
    return {"tasks": tasks, "sections": sections, "units": units}


def _counts(rows: Iterable[dict[str, Any]]) -> LightCounts:
    counts: dict[str, int] = defaultdict(int)
    for r in rows:
        counts[r["light"]] += int(r["n"])
    return LightCounts.of(counts)


def _reporting(rows: Iterable[dict[str, Any]]) -> Reporting:
    expected = received = on_time = completed = done = 0
    for r in rows:
        n_expected = int(r["expected"] or 0)
        expected += n_expected
        received += int(r["received"] or 0)
        on_time += int(r["on_time"] or 0)
        if r["light"] in ("done", "done_late"):
            completed += n_expected
        if r["light"] == "done":
            done += n_expected
    return Reporting(expected, received, on_time, completed, done)


def _group(key: str, title: str, rows: list[dict[str, Any]], section_id: str = "") -> GroupFigures:
    started = sum(int(r["started"] or 0) for r in rows)
    progress_sum = sum(int(r["progress_sum"] or 0) for r in rows)
    red = [r for r in rows if r["light"] == "red"]
    return GroupFigures(
        id=key, title=title, lights=_counts(rows), reporting=_reporting(rows),
        progress=round(progress_sum / started, 1) if started else None,
        overdue=sum(int(r["n"]) for r in red), overdue_wd=sum(int(r["overdue_wd"] or 0) for r in red),
        section_id=section_id,
    )


def _sections_and_tasks(rows: list[dict[str, Any]], names: dict[str, dict[str, Any]]
                        ) -> tuple[list[GroupFigures], list[GroupFigures]]:
    by_task: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_section: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_task[r["task_id"]].append(r)
        by_section[r["section_id"]].append(r)
    task_info, section_info = names["tasks"], names["sections"]
    tasks = [
        _group(tid, task_info.get(tid, (tid, 0, ""))[0], by_task[tid], task_info.get(tid, ("", 0, ""))[2])
        for tid in sorted(by_task, key=lambda k: task_info.get(k, ("", 10**9, ""))[1])
    ]
    sections = [
        _group(sid, section_info.get(sid, (sid, 0))[0], by_section[sid])
        for sid in sorted(by_section, key=lambda k: section_info.get(k, ("", 10**9))[1])
    ]
    return sections, tasks


def _reminders_by_unit(conn: Connection, params: dict[str, Any], plan: Plan) -> dict[str, dict[str, int]]:
    """Reminders each unit received per level. A level read only by weekly audiences (the
    leading group's 通报 by default) counts an item once per digest: a repeat that went out
    in the same digest is one notice to the reader, and one deduction."""
    found: dict[str, dict[str, int]] = defaultdict(dict)
    for row in conn.execute(_sql(q.BY_UNIT_LEVEL), params):
        found[row.unit_id][row.level] = int(row.n)
    weekly = [s.level for s in plan.ladder()
              if all(plan.cadence_of(role) is Cadence.weekly for role in s.notify)]
    if weekly:
        # the report's own items on its date (as BY_UNIT_LEVEL reads them): a task cancelled
        # later still counts on an earlier day
        weekly_params = {**params, "levels": weekly}
        levels: BindParameter[list[str]] = bindparam("levels", expanding=True)
        days = conn.execute(_sql(q.WEEKLY_LEVEL_DAYS).bindparams(levels), weekly_params).scalars().all()
        if not days:
            return found
        calendar = WorkCalendar(plan.plan.calendar)
        # the days as the store gave them, so the join compares like with like on both backends
        conn.execute(text(q.FILL_DIGEST_DAY), [{"day": day, "period": digest_period(calendar, _date(day))}
                                               for day in days])
        for row in conn.execute(_sql(q.WEEKLY_LEVEL_ONCE_PER_PERIOD).bindparams(levels), weekly_params):
            if row.unit_id in found and row.level in found[row.unit_id]:
                found[row.unit_id][row.level] = int(row.n)
    return found


def _units(plan: Plan, rows: Iterable[Any], reminders: dict[str, dict[str, int]],
           names: dict[str, dict[str, Any]]) -> list[UnitFigures]:
    """Figures of each unit from its one row of sums (`sql.BY_UNIT`)."""
    by_unit = {str(r["unit_id"]): r for r in rows}
    order = {u.id: i for i, u in enumerate(plan.units)}
    ladder = [s.level for s in plan.ladder()]
    units = []
    for uid in sorted(by_unit, key=lambda k: (order.get(k, 10**9), k)):
        r = by_unit[uid]
        late_open, done_late = int(r["late_open"] or 0), int(r["done_late"] or 0)
        received = {lv: reminders.get(uid, {}).get(lv, 0) for lv in ladder}
        card = score_unit(plan.scoring, overdue_items=late_open, done_late_items=done_late, reminders=received)
        units.append(UnitFigures(
            id=uid, name=names["units"].get(uid, uid),
            lights=LightCounts.of({light: int(r[f"n_{light}"] or 0) for light in LIGHTS}),
            reporting=Reporting(int(r["expected"] or 0), int(r["received"] or 0), int(r["on_time"] or 0),
                                int(r["completed"] or 0), int(r["done_on_time"] or 0)),
            overdue=int(r["n_red"] or 0), overdue_wd=int(r["red_overdue_wd"] or 0),
            max_overdue_wd=int(r["red_max_overdue_wd"] or 0),
            late_open=late_open, done_late=done_late, reminders=received,
            score=card.score, deductions=card.deductions,
        ))
    return units


def _change(conn: Connection, plan_id: str, as_of: dt.date, since: dt.date | None,
            lights: LightCounts) -> tuple[dt.date | None, dict[str, int] | None]:
    day = since
    if day is None:
        found = conn.execute(_sql(q.PREVIOUS_SNAPSHOT), {"plan": plan_id, "as_of": as_of}).scalar_one_or_none()
        day = _opt_date(found)
    if day is None:
        return None, None
    rows = {str(r.light): int(r.n) for r in conn.execute(_sql(q.SNAPSHOT_ON), {"plan": plan_id, "day": day})}
    if not rows:
        return day, None  # no snapshot that day: nothing to compare with
    return day, {light: lights[light] - rows.get(light, 0) for light in LIGHTS}


def snapshot_on_or_before(conn: Connection, plan_id: str, day: dt.date) -> dt.date | None:
    """The latest nightly snapshot date on or before `day` (None when there is none)."""
    found = conn.execute(_sql(q.SNAPSHOT_ON_OR_BEFORE), {"plan": plan_id, "as_of": day}).scalar_one_or_none()
    return _opt_date(found)


def _overdue(conn: Connection, params: dict[str, Any], names: dict[str, dict[str, Any]], plan: Plan,
             limit: int, offset: int, *, page: str = q.OVERDUE_PAGE) -> list[OverdueItem]:
    rows = list(conn.execute(_sql(page), {**params, "limit": max(limit, 0), "offset": max(offset, 0)}))
    if not rows:
        return []
    history: dict[int, list[ReminderEntry]] = defaultdict(list)
    ids = [int(r.id) for r in rows]
    words = latest_words(conn, ids, params["as_of"])
    steps = recorded_steps()  # the reminders it was sent and the steps skipped beside them
    for h in conn.execute(select(steps.c.obligation_id, steps.c.level, steps.c.seq, steps.c.fired_on, steps.c.state)
                          .where(steps.c.obligation_id.in_(ids), steps.c.fired_on <= params["as_of"])
                          .order_by(steps.c.obligation_id, steps.c.fired_on, steps.c.position, steps.c.seq)):
        history[int(h.obligation_id)].append(
            ReminderEntry(h.level, level_wording(plan, h.level), _date(h.fired_on), h.state, int(h.seq)))
    first_plan_due = _first_plan_due(conn, ids)
    return [
        OverdueItem(
            task_id=r.task_id, task_title=names["tasks"].get(r.task_id, (r.task_id,))[0],
            unit_id=r.unit_id, unit_name=names["units"].get(r.unit_id, r.unit_id), period=r.period,
            due=_date(r.due), original_due=_date(r.original_due), overdue_wd=int(r.overdue_wd),
            status=r.status, progress=r.progress, last_report_on=_opt_date(r.last_on),
            reminders=history.get(int(r.id), []), note=_note(words.get(int(r.id))),
            plan_due_was=(first_plan_due[int(r.id)]
                          if first_plan_due.get(int(r.id), _date(r.original_due)) != _date(r.original_due) else None),
        )
        for r in rows
    ]


def _first_plan_due(conn: Connection, ids: list[int]) -> dict[int, dt.date]:
    """The plan's date of each obligation in its earliest terms (before any plan adjustment)."""
    t = ObligationTerm.__table__  # type: ignore[attr-defined]
    first: dict[int, dt.date] = {}
    for row in conn.execute(select(t.c.obligation_id, t.c.original_due).where(t.c.obligation_id.in_(ids))
                            .order_by(t.c.obligation_id, t.c.valid_until)):
        first.setdefault(int(row.obligation_id), _date(row.original_due))
    return first


def _note(found: UnitWords | None) -> str | None:
    return clean_note(found.note) if found else None


def _notice(conn: Connection, params: dict[str, Any], names: dict[str, dict[str, Any]], plan: Plan,
            levels: list[Level], limit: int) -> Notice:
    if not levels:
        return Notice(None, [], 0, False)
    top = levels[-1]
    p = {**params, "top": top.level, "limit": max(limit, 0)}
    counts = {str(r.unit_id): int(r.items) for r in conn.execute(_sql(q.NOTICE_UNITS), p)}
    items: dict[str, list[NoticeItem]] = defaultdict(list)
    found = list(conn.execute(_sql(q.NOTICE_ITEMS), p))
    words = latest_words(conn, [int(r.id) for r in found], params["as_of"])  # the items' own ids, as of the date
    for r in found:
        said = words.get(int(r.id))
        items[r.unit_id].append(NoticeItem(
            r.task_id, names["tasks"].get(r.task_id, (r.task_id,))[0], r.period, _date(r.due),
            _date(r.original_due), int(r.overdue_wd), _date(r.first_notified), int(r.times),
            status=said.status if said else None, progress=said.progress if said else None,
            reported_on=said.reported_on if said else None, note=_note(said)))
    order = {u.id: i for i, u in enumerate(plan.units)}
    units = [NoticeUnit(uid, names["units"].get(uid, uid), items.get(uid, []))
             for uid in sorted(counts, key=lambda k: (order.get(k, 10**9), k))]
    total = sum(counts.values())
    return Notice(top, units, total, truncated=sum(len(v) for v in items.values()) < total)


def _indicators(conn: Connection, plan: Plan, params: dict[str, Any],
                names: dict[str, dict[str, Any]]) -> list[IndicatorFigures]:
    defined = [(task, ind) for _, task in plan.tasks() for ind in task.indicators]
    if not defined:
        return []
    bound: dict[str, Any] = {"as_of": params["as_of"]}
    for n, (task, ind) in enumerate(defined):
        bound.update({f"tk{n}": task.id, f"ik{n}": ind.id, f"tg{n}": ind.target, f"dr{n}": ind.direction.value})
    statement = q.indicators_sql(conn.dialect.name, len(defined))
    points: dict[tuple[str, str], list[IndicatorPoint]] = defaultdict(list)
    for r in conn.execute(_sql(statement), bound):
        n, total = int(r.n), float(r.total) if r.total is not None else None
        points[(r.task_id, r.ind)].append(IndicatorPoint(
            r.period, n, None if total is None or not n else round(total / n, 4),
            None if total is None else round(total, 4), int(r.met)))
    figures = []
    for task, ind in defined:
        series = sorted(points.get((task.id, ind.id), []), key=lambda p: p.period)
        reported = sum(p.reported for p in series)
        total = sum(p.total or 0 for p in series) if series else None
        mean = round(total / reported, 4) if total is not None and reported else None
        figures.append(IndicatorFigures(
            task_id=task.id, task_title=names["tasks"].get(task.id, (task.title,))[0], id=ind.id,
            name=ind.name, unit=ind.unit, target=ind.target, direction=ind.direction.value,
            reported=reported, mean=mean, total=None if total is None else round(total, 4),
            met=sum(p.met for p in series),
            gap=None if mean is None else _round(gap(Direction(ind.direction), ind.target, mean)),
            trend=trend(Direction(ind.direction), [p.mean for p in series]).value, points=series,
        ))
    return figures


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _trend(conn: Connection, plan: Plan, as_of: dt.date) -> list[TrendPoint]:
    first = max(plan.plan.start, dt.date(as_of.year, 1, 1))  # the trend over the as-of date's year
    return [
        TrendPoint(_date(r.as_of), int(r.red or 0), int(r.yellow or 0), int(r.overdue_wd or 0))
        for r in conn.execute(_sql(q.TREND), {"plan": plan.id, "first": first, "as_of": as_of})
    ]

"""Expansion of a plan's tasks into obligations: one per (task, lead unit, period)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from plan_tracker.domain.calendar import WorkCalendar
from plan_tracker.domain.errors import BadPeriod, CalendarNotCovered, PlanIssue
from plan_tracker.domain.messages import msg
from plan_tracker.domain.periods import ONCE, Period, parse_period, periods_within
from plan_tracker.domain.plan import Plan, Task


@dataclass(frozen=True)
class Obligation:
    task: str
    unit: str
    period: str
    period_start: dt.date
    period_end: dt.date
    due: dt.date
    warn_days: int


def task_periods(plan: Plan, task: Task) -> list[Period]:
    """The task's periods; a one-off task has one period, `once`, starting with the plan."""
    if task.every is None:
        assert task.due is not None
        return [Period(plan.plan.start, task.due, ONCE)]
    return periods_within(task.every, plan.plan.start, plan.plan.end)


def due_date(calendar: WorkCalendar, task: Task, period: Period) -> dt.date:
    """A one-off `due` rolls forward to a working day; a recurring task's due date is the
    period's last day shifted by `due_after` wd (0: the last day itself, rolled forward)."""
    if task.every is None:
        assert task.due is not None
        return calendar.roll_forward(task.due)
    shift = task.due_after or 0
    return calendar.roll_forward(period.end) if shift == 0 else calendar.shift(period.end, shift)


def expand(plan: Plan, calendar: WorkCalendar) -> Iterator[Obligation]:
    """Every obligation of the plan, in plan order (task, then period, then unit)."""
    for _, task in plan.tasks():
        units = plan.expand_lead(task)
        warn = task.warn_days if task.warn_days is not None else plan.plan.warn_days
        for period in task_periods(plan, task):
            due = due_date(calendar, task, period)
            for unit in units:
                yield Obligation(task.id, unit, period.key, period.start, period.end, due, warn)


def obligation_period(plan: Plan, task: Task, key: str) -> Period:
    """Resolve a period key of `task` inside `plan` (raises BadPeriod)."""
    period = parse_period(task.every, key)
    if period is None:
        return task_periods(plan, task)[0]
    if period not in task_periods(plan, task):
        raise BadPeriod("period.outside_plan", key=key, plan=plan.id, start=plan.plan.start, end=plan.plan.end)
    return period


def schedule_issues(plan: Plan, calendar: WorkCalendar) -> list[PlanIssue]:
    """Check schedules by computing them: every due date must fall in a covered year."""
    issues: list[PlanIssue] = []
    for si, section in enumerate(plan.sections):
        for ti, task in enumerate(section.tasks):
            where = ("sections", si, "tasks", ti, "every" if task.every else "due")
            try:
                for period in task_periods(plan, task):
                    due_date(calendar, task, period)
            except CalendarNotCovered as exc:
                issues.append(PlanIssue(where, exc.message))
            else:
                if task.every and not task_periods(plan, task):
                    issues.append(PlanIssue(where, msg("plan.no_whole_period", every=msg(f"every.{task.every.value}"))))
    return issues

"""The plan schema: what coordinators write in YAML, as pydantic models, plus cross-checks.

Field-level rules (types, formats, unknown keys) live on the models; rules that need the
whole document (references, duplicates, cycles, dates inside the plan) live in
`cross_check`, which returns located issues instead of stopping at the first.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from plan_tracker.domain.errors import PlanIssue

ID_RE = r"^[a-z0-9][a-z0-9-]*$"
TASK_ID_RE = r"^[a-z0-9][a-z0-9.-]*$"
BLANK_PREFIX = "TODO"

Id = Annotated[str, Field(pattern=ID_RE, max_length=64)]
TaskId = Annotated[str, Field(pattern=TASK_ID_RE, max_length=128)]
Text = Annotated[str, Field(min_length=1, max_length=500)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Recurrence(StrEnum):
    week = "week"
    month = "month"
    quarter = "quarter"
    half_year = "half_year"
    year = "year"


class Direction(StrEnum):
    at_least = "at_least"
    at_most = "at_most"


class Role(StrEnum):
    contact = "contact"
    head = "head"
    coordinator = "coordinator"
    leading_group = "leading_group"


class Person(Strict):
    """A contact or head of a unit. Channel fields name where messages go."""

    name: Text
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$", max_length=254)
    phone: str | None = Field(default=None, max_length=40)
    dingtalk: Id | None = Field(default=None, description="name of a DingTalk robot in settings")
    wecom: Id | None = Field(default=None, description="name of a WeCom robot in settings")
    webhook: Id | None = Field(default=None, description="name of a webhook in settings")


class Unit(Strict):
    id: Id
    name: Text
    groups: list[Id] = Field(default_factory=list)
    contact: Person | None = None
    head: Person | None = None


class Group(Strict):
    id: Id
    name: Text


class LeadingGroup(Strict):
    name: Text
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$")
    recipients: list[Person] = Field(default_factory=list)


class CalendarSpec(Strict):
    """`calendar: CN` or `{base: CN, holidays: [...], workdays: [...], years: [...]}`.

    `years` lists years whose complete schedule the plan itself supplies (a year the
    official package does not publish yet): weekends plus `holidays` minus `workdays`.
    """

    base: Literal["CN", "weekends"] = "CN"
    holidays: list[dt.date] = Field(default_factory=list)
    workdays: list[dt.date] = Field(default_factory=list)
    years: list[Annotated[int, Field(ge=1990, le=2100)]] = Field(default_factory=list)


class PlanHeader(Strict):
    id: Id
    title: Text
    coordinator: Id
    timezone: str = "Asia/Shanghai"
    calendar: CalendarSpec = CalendarSpec()
    start: dt.date
    end: dt.date
    warn_days: Annotated[int, Field(ge=0, le=60)] = 3
    locale: Literal["zh", "en"] = "zh"
    delivery_window: tuple[dt.time, dt.time] = (dt.time(8, 30), dt.time(18, 0))
    portal_url: str | None = None

    @field_validator("calendar", mode="before")
    @classmethod
    def _calendar_shorthand(cls, value: object) -> object:
        return {"base": value} if isinstance(value, str) else value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        import zoneinfo

        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (e.g. Asia/Shanghai)") from exc
        return value

    @model_validator(mode="after")
    def _ordered(self) -> PlanHeader:
        if self.end < self.start:
            raise ValueError(f"plan end {self.end} is before its start {self.start}")
        if (self.end - self.start).days > 5 * 366:
            raise ValueError("a plan may span at most five years")
        return self


LEVEL_LABELS_ZH = {"remind": "提醒", "urge": "催办", "supervise": "督办", "accountability": "通报"}


class Step(Strict):
    after: Annotated[int, Field(ge=-60, le=250)]
    level: Id
    notify: list[Role] = Field(min_length=1)
    repeat_every: Annotated[int, Field(ge=1, le=250)] | None = None
    label: str | None = Field(default=None, max_length=20, description="wording, e.g. 督办")

    @property
    def wording(self) -> str:
        return self.label or LEVEL_LABELS_ZH.get(self.level, self.level)


class Indicator(Strict):
    id: Id
    name: Text
    unit: str | None = Field(default=None, max_length=20)
    target: float | None = None
    direction: Direction = Direction.at_least
    baseline: float | None = None


class Task(Strict):
    id: TaskId
    title: Text
    description: str | None = Field(default=None, max_length=4000)
    lead: str | list[Annotated[str, Field(max_length=80)]]
    support: list[Id] = Field(default_factory=list)
    due: dt.date | None = None
    every: Recurrence | None = None
    due_after: Annotated[int, Field(ge=0, le=120)] | None = None
    warn_days: Annotated[int, Field(ge=0, le=60)] | None = None
    depends_on: list[TaskId] = Field(default_factory=list)
    indicators: list[Indicator] = Field(default_factory=list)

    @field_validator("lead")
    @classmethod
    def _lead_shape(cls, value: str | list[str]) -> str | list[str]:
        items = [value] if isinstance(value, str) else value
        if not items:
            raise ValueError("lead needs at least one unit id or group:NAME")
        for item in items:
            if not re.match(ID_RE, item.removeprefix("group:")):
                raise ValueError(
                    f"lead {item!r} is neither a unit id nor group:NAME "
                    "(lowercase letters, digits and '-')"
                )
        return value

    @model_validator(mode="after")
    def _schedule_shape(self) -> Task:
        if self.every is None and self.due is None:
            raise ValueError("a task needs either `due` (one-off) or `every` (recurring)")
        if self.every is not None and self.due is not None:
            raise ValueError("a task has either `due` (one-off) or `every`, not both")
        if self.every is None and self.due_after is not None:
            raise ValueError("`due_after` applies only to recurring tasks (`every`)")
        return self

    @property
    def lead_refs(self) -> list[str]:
        return [self.lead] if isinstance(self.lead, str) else list(self.lead)

    @property
    def recurring(self) -> bool:
        return self.every is not None


class Section(Strict):
    id: Id
    title: Text
    tasks: list[Task] = Field(min_length=1)


class Scoring(Strict):
    """考核评分 rules: a unit starts at `base` and loses points per late item and reminder level."""

    base: float = 100
    per_overdue_item: float = 2
    per_done_late_item: float = 1
    per_level: dict[Id, float] = Field(default_factory=dict)
    floor: float = 0


class Plan(Strict):
    version: Literal[1]
    plan: PlanHeader
    leading_group: LeadingGroup | None = None
    groups: list[Group] = Field(default_factory=list)
    units: list[Unit] = Field(default_factory=list)
    escalation: list[Step] = Field(default_factory=list)
    scoring: Scoring = Scoring()
    sections: list[Section] = Field(min_length=1)

    @property
    def id(self) -> str:
        return self.plan.id

    def tasks(self) -> list[tuple[Section, Task]]:
        return [(s, t) for s in self.sections for t in s.tasks]

    def unit(self, unit_id: str) -> Unit:
        return next(u for u in self.units if u.id == unit_id)

    def ladder(self) -> list[Step]:
        """Steps in firing order (earliest threshold first)."""
        return sorted(self.escalation, key=lambda s: s.after)

    def expand_lead(self, task: Task) -> list[str]:
        """Unit ids that lead a task, in plan order, each once."""
        wanted: list[str] = []
        for ref in task.lead_refs:
            if ref.startswith("group:"):
                group = ref.removeprefix("group:")
                wanted += [u.id for u in self.units if group in u.groups]
            else:
                wanted.append(ref)
        return list(dict.fromkeys(wanted))


def cross_check(plan: Plan) -> list[PlanIssue]:
    """Rules across the document. Returns every issue, each located by its path."""
    issues: list[PlanIssue] = []
    issues += _duplicates(plan)
    issues += _references(plan)
    issues += _dates_inside_plan(plan)
    issues += _ladder_rules(plan)
    issues += _dependency_cycles(plan)
    return issues


def _dupes(items: list[str]) -> set[int]:
    seen: set[str] = set()
    dupes: set[int] = set()
    for index, item in enumerate(items):
        if item in seen:
            dupes.add(index)
        seen.add(item)
    return dupes


def _duplicates(plan: Plan) -> list[PlanIssue]:
    issues = [
        PlanIssue(("units", i, "id"), f"duplicate unit id {plan.units[i].id!r}")
        for i in sorted(_dupes([u.id for u in plan.units]))
    ]
    issues += [
        PlanIssue(("groups", i, "id"), f"duplicate group id {plan.groups[i].id!r}")
        for i in sorted(_dupes([g.id for g in plan.groups]))
    ]
    issues += [
        PlanIssue(("sections", i, "id"), f"duplicate section id {plan.sections[i].id!r}")
        for i in sorted(_dupes([s.id for s in plan.sections]))
    ]
    task_paths = [
        (("sections", si, "tasks", ti, "id"), t.id)
        for si, s in enumerate(plan.sections)
        for ti, t in enumerate(s.tasks)
    ]
    for index in sorted(_dupes([tid for _, tid in task_paths])):
        path, tid = task_paths[index]
        issues.append(PlanIssue(path, f"duplicate task id {tid!r}"))
    for si, s in enumerate(plan.sections):
        for ti, t in enumerate(s.tasks):
            for ii in sorted(_dupes([i.id for i in t.indicators])):
                issues.append(
                    PlanIssue(
                        ("sections", si, "tasks", ti, "indicators", ii, "id"),
                        f"duplicate indicator id {t.indicators[ii].id!r} in task {t.id!r}",
                    )
                )
    return issues


def _references(plan: Plan) -> list[PlanIssue]:
    unit_ids = {u.id for u in plan.units}
    groups = {g for u in plan.units for g in u.groups} | {g.id for g in plan.groups}
    task_ids = {t.id for _, t in plan.tasks()}
    issues: list[PlanIssue] = []
    if plan.plan.coordinator not in unit_ids:
        issues.append(
            PlanIssue(("plan", "coordinator"), f"unknown unit {plan.plan.coordinator!r}")
        )
    for si, s in enumerate(plan.sections):
        for ti, t in enumerate(s.tasks):
            base = ("sections", si, "tasks", ti)
            for li, ref in enumerate(t.lead_refs):
                path = (*base, "lead") if isinstance(t.lead, str) else (*base, "lead", li)
                if ref.startswith("group:"):
                    name = ref.removeprefix("group:")
                    if name not in groups:
                        issues.append(PlanIssue(path, f"unknown group {name!r}"))
                    elif not [u for u in plan.units if name in u.groups]:
                        issues.append(PlanIssue(path, f"group {name!r} has no units"))
                elif ref not in unit_ids:
                    issues.append(PlanIssue(path, f"unknown unit {ref!r}"))
            for ui, ref in enumerate(t.support):
                if ref not in unit_ids:
                    issues.append(PlanIssue((*base, "support", ui), f"unknown unit {ref!r}"))
            for di, ref in enumerate(t.depends_on):
                if ref not in task_ids:
                    issues.append(PlanIssue((*base, "depends_on", di), f"unknown task {ref!r}"))
                elif ref == t.id:
                    issues.append(PlanIssue((*base, "depends_on", di), "a task cannot depend on itself"))
    return issues


def _dates_inside_plan(plan: Plan) -> list[PlanIssue]:
    start, end = plan.plan.start, plan.plan.end
    issues: list[PlanIssue] = []
    for si, s in enumerate(plan.sections):
        for ti, t in enumerate(s.tasks):
            if t.due is not None and not start <= t.due <= end:
                issues.append(
                    PlanIssue(
                        ("sections", si, "tasks", ti, "due"),
                        f"due date {t.due} is outside the plan ({start} to {end})",
                    )
                )
    return issues


def _ladder_rules(plan: Plan) -> list[PlanIssue]:
    issues = [
        PlanIssue(("escalation", i, "level"), f"duplicate escalation level {plan.escalation[i].level!r}")
        for i in sorted(_dupes([s.level for s in plan.escalation]))
    ]
    issues += [
        PlanIssue(("escalation", i, "after"), f"two steps fire at the same offset {plan.escalation[i].after}")
        for i in sorted(_dupes([str(s.after) for s in plan.escalation]))
    ]
    for i, step in enumerate(plan.escalation):
        if Role.leading_group in step.notify and plan.leading_group is None:
            issues.append(
                PlanIssue(("escalation", i, "notify"), "notifies leading_group but the plan has no leading_group")
            )
    for level in plan.scoring.per_level:
        if level not in {s.level for s in plan.escalation}:
            issues.append(PlanIssue(("scoring", "per_level", level), f"unknown escalation level {level!r}"))
    return issues


def _dependency_cycles(plan: Plan) -> list[PlanIssue]:
    paths = {
        t.id: ("sections", si, "tasks", ti, "depends_on")
        for si, s in enumerate(plan.sections)
        for ti, t in enumerate(s.tasks)
    }
    # Self-references are left to `_references` ("cannot depend on itself"): one fault, one message.
    graph = {t.id: [d for d in t.depends_on if d in paths and d != t.id] for _, t in plan.tasks()}
    issues: list[PlanIssue] = []
    state: dict[str, int] = {}  # 1 = on the stack, 2 = finished
    reported: set[frozenset[str]] = set()

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt):], nxt]
                key = frozenset(cycle)
                if key not in reported:
                    reported.add(key)
                    issues.append(PlanIssue(paths[node], "dependency cycle: " + " -> ".join(cycle)))
            elif state.get(nxt) is None:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [])
    return issues

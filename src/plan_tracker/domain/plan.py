"""The plan schema: what coordinators write in YAML, as pydantic models, plus cross-checks.

Field-level rules (types, formats, unknown keys) live on the models; rules that need the
whole document (references, duplicates, cycles, dates inside the plan) live in
`cross_check`, which returns located issues instead of stopping at the first.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from plan_tracker.domain.errors import PlanIssue
from plan_tracker.domain.messages import msg
from plan_tracker.domain.suggestions import did_you_mean
from plan_tracker.domain.vocabulary import LEVEL_WORDS
from plan_tracker.wording import Msg

ID_RE = r"^[a-z0-9][a-z0-9-]*$"
TASK_ID_RE = r"^[a-z0-9][a-z0-9.-]*$"
BLANK_PREFIX = "TODO"

Id = Annotated[str, Field(pattern=ID_RE, max_length=64)]
TaskId = Annotated[str, Field(pattern=TASK_ID_RE, max_length=128)]
Text = Annotated[str, Field(min_length=1, max_length=500)]


# The validation context of a plan read back from the store (`services.context`): it was
# checked whole when it was applied, and each of its addresses then. email-validator takes
# about 18 µs an address; a plan of 13,333 units and 26,667 addresses took 0.76-0.82 s to
# load (each process of a night loads it), 0.29-0.33 s without checking them again.
STORED_PLAN: Mapping[str, bool] = MappingProxyType({"stored": True})


def _checked_email(value: str, info: ValidationInfo) -> str:
    """An address email-validator accepts (syntax only: no DNS at validation). The value is
    kept as written, so applying a plan again changes nothing. Not checked again in a plan
    read back from the store (`STORED_PLAN`)."""
    if info.context is not None and info.context.get("stored"):
        return value
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(msg("plan.bad_email", value=value, reason=str(exc))) from None
    return value


# The pattern is for editors (the JSON schema); the validator is the rule.
Email = Annotated[str, Field(max_length=254, json_schema_extra={"format": "email", "pattern": r"^[^@\s]+@[^@\s]+$"}),
                  AfterValidator(_checked_email)]


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


class Cadence(StrEnum):
    """How often an audience's messages go out; items accumulate in between."""

    daily = "daily"
    weekly = "weekly"  # one digest on the first working day of each ISO week


DEFAULT_CADENCE = {Role.contact: Cadence.daily, Role.head: Cadence.daily, Role.coordinator: Cadence.daily,
                   Role.leading_group: Cadence.weekly}


class Person(Strict):
    """联系人或负责人 A contact or head of a unit. Channel fields name where messages go."""

    name: Text = Field(description="姓名 Name")
    email: Email | None = Field(default=None, description="电子邮箱 Email address for reminders")
    phone: str | None = Field(default=None, max_length=40, description="电话 Phone number")
    dingtalk: Id | None = Field(default=None, description="钉钉机器人名称（在设置中配置） name of a DingTalk robot in settings")
    wecom: Id | None = Field(default=None, description="企业微信机器人名称（在设置中配置） name of a WeCom robot in settings")
    webhook: Id | None = Field(default=None, description="Webhook 名称（在设置中配置） name of a webhook in settings")


class Cancellation(Strict):
    """撤销 A task or unit withdrawn from the plan: no obligations are tracked from `on`;
    what the record said before that date stays as it was."""

    on: dt.date = Field(description="撤销生效日期 Date from which it is no longer tracked (YYYY-MM-DD)")
    reason: Text = Field(description="撤销原因（写入报告） Reason, shown in reports")


class Unit(Strict):
    """单位 A unit that carries out tasks or reports on them."""

    id: Id = Field(description="单位编号（小写字母、数字、连字符） Unit id: lowercase letters, digits and '-'")
    name: Text = Field(description="单位名称 Unit name, e.g. 区政府法制办")
    groups: list[Id] = Field(default_factory=list, description="所属分组，供 lead: group:NAME 引用 Groups the unit belongs to (lead: group:NAME)")
    contact: Person | None = Field(default=None, description="联络员：接收提醒、催办 Contact: receives reminders")
    head: Person | None = Field(default=None, description="负责人：接收催办、督办 Head: receives urging and supervision")
    also_from: list[Email] = Field(
        default_factory=list, max_length=20,
        description="其他可回复报送的邮箱 Other addresses the unit may answer a reminder from (besides contact and head)")
    renamed_from: Id | None = Field(
        default=None, description="原单位编号：改名时保留其全部记录 Former unit id: a rename that keeps the unit's whole record")
    cancelled: Cancellation | None = Field(default=None, description="撤销：{on: 日期, reason: 原因} Withdrawn: {on, reason}")


class Group(Strict):
    """单位分组 A named group of units."""

    id: Id = Field(description="分组编号 Group id")
    name: Text = Field(description="分组名称 Group name, e.g. 具有行政执法主体资格的单位")


class LeadingGroup(Strict):
    """领导小组：接收最高一级“通报” The leading group: receives the top escalation level."""

    name: Text = Field(description="领导小组名称 Name of the leading group")
    email: Email | None = Field(default=None, description="领导小组邮箱 Email of the leading group")
    recipients: list[Person] = Field(default_factory=list, description="其他接收人 Further recipients")


class CalendarSpec(Strict):
    """工作日历 Working-day calendar: `calendar: CN` or `{base: CN, holidays: [...], workdays: [...], years: [...]}`.

    `years` lists years whose complete schedule the plan itself supplies (a year the
    official package does not publish yet): weekends plus `holidays` minus `workdays`.
    """

    base: Literal["CN", "weekends"] = Field(
        default="CN", description="基础日历：CN 为国务院公布的节假日及调休；weekends 仅排除周末 Base: CN (official holidays and adjusted working days) or weekends")
    holidays: list[dt.date] = Field(default_factory=list, description="额外的放假日 Extra non-working days (YYYY-MM-DD)")
    workdays: list[dt.date] = Field(default_factory=list, description="额外的工作日（调休上班） Extra working days (YYYY-MM-DD)")
    years: list[Annotated[int, Field(ge=1990, le=2100)]] = Field(
        default_factory=list, description="由本计划自行提供完整安排的年份（周末 + holidays − workdays） Years whose schedule the plan supplies itself")


class PlanHeader(Strict):
    """计划信息 The plan header."""

    id: Id = Field(description="计划编号（小写字母、数字、连字符） Plan id, e.g. jingzhou-2018")
    title: Text = Field(description="计划标题 Plan title")
    coordinator: Id = Field(description="牵头协调单位的编号 Id of the coordinating unit (one of units)")
    timezone: str = Field(default="Asia/Shanghai", description="时区 Time zone (IANA name)")
    calendar: CalendarSpec = Field(default=CalendarSpec(), description="工作日历：CN 或 {base, holidays, workdays, years} Working-day calendar: CN or overrides")
    start: dt.date = Field(description="计划开始日期 First day of the plan (YYYY-MM-DD)")
    end: dt.date = Field(description="计划结束日期 Last day of the plan (YYYY-MM-DD)")
    warn_days: Annotated[int, Field(ge=0, le=60)] = Field(
        default=3, description="到期前多少个工作日亮黄灯 Working days before a due date when the light turns yellow")
    locale: Literal["zh", "en"] = Field(default="zh", description="消息语言 Language of messages")
    delivery_window: tuple[dt.time, dt.time] = Field(
        default=(dt.time(8, 30), dt.time(18, 0)), description="工作日发送时段 Delivery window on working days [from, to], HH:MM")
    portal_url: str | None = Field(default=None, description="填报门户网址（写入消息） Portal URL quoted in messages")
    escalation_from: dt.date | None = Field(
        default=None, description="首次录入晚于计划开始时：此日前到期的催办步骤只记为跳过，不发送 "
                                  "For a plan first applied after its start: steps due before this date are recorded skipped, never sent")
    backdate_wd: Annotated[int, Field(ge=0, le=60)] = Field(
        default=3, description="单位填报日期最多可早于报送当天的工作日数 Working days a unit's report may be dated before the day it is sent")
    follow_up_until: dt.date | None = Field(
        default=None, description="跟踪截止日期：此后不再夜间跟踪（默认最后到期日后60天） Last day of follow-up: no "
                                  "nightly runs after it (default: 60 days after the last due date)")

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
            raise ValueError(msg("plan.unknown_zone", value=value)) from exc
        return value

    @field_validator("follow_up_until")
    @classmethod
    def _after_end(cls, value: dt.date | None, info: ValidationInfo) -> dt.date | None:
        end = info.data.get("end")
        if value is not None and end is not None and value < end:
            raise ValueError(msg("plan.follow_up_too_early", value=value, end=end))
        return value

    @field_validator("end")
    @classmethod
    def _ordered(cls, end: dt.date, info: ValidationInfo) -> dt.date:
        # A field validator (not a model one) so the error points at the `end:` line.
        start = info.data.get("start")
        if start is not None and end < start:
            raise ValueError(msg("plan.end_before_start", start=start, end=end))
        if start is not None and (end - start).days > 5 * 366:
            raise ValueError(msg("plan.too_long"))
        return end


LEVEL_LABELS_ZH = LEVEL_WORDS["zh"]


class Step(Strict):
    """催办梯度的一级 One escalation step, relative to each due date in working days."""

    after: Annotated[int, Field(ge=-60, le=250)] = Field(
        description="相对完成时限的工作日数（负数为到期前） Working days after the due date (negative: before)")
    level: Id = Field(description="级别，如 remind、urge、supervise、accountability Level name, e.g. remind, urge, supervise, accountability")
    notify: list[Role] = Field(min_length=1, description="通知对象 Who is notified: contact, head, coordinator, leading_group")
    repeat_every: Annotated[int, Field(ge=1, le=250)] | None = Field(
        default=None, description="未完成时每隔 N 个工作日重复 Repeat every N working days while not done")
    label: str | None = Field(default=None, max_length=20, description="消息中的称谓，如 督办 Wording in messages, e.g. 督办")

    @property
    def wording(self) -> str:
        return self.label or LEVEL_LABELS_ZH.get(self.level, self.level)


class Indicator(Strict):
    """指标 An indicator units report with their status."""

    id: Id = Field(description="指标编号 Indicator id")
    name: Text = Field(description="指标名称 Indicator name, e.g. 参训人次")
    unit: str | None = Field(default=None, max_length=20, description="计量单位 Unit of measure, e.g. 人次, %")
    target: float | None = Field(default=None, description="目标值 Target value")
    direction: Direction = Field(default=Direction.at_least, description="达标方向：at_least 不低于，at_most 不高于 at_least or at_most the target")
    baseline: float | None = Field(default=None, description="基线值 Baseline value")


class Task(Strict):
    """任务（措施） One measure: a one-off task (`due`) or a recurring one (`every`)."""

    id: TaskId = Field(description="任务编号，如 capability.training Task id, e.g. capability.training")
    title: Text = Field(description="任务名称 Task title")
    description: str | None = Field(default=None, max_length=4000, description="原文表述 Description, e.g. the report's sentence")
    lead: str | list[Annotated[str, Field(max_length=80)]] = Field(
        description="牵头单位：单位编号、编号列表或 group:分组 Lead: a unit id, a list of ids, or group:NAME")
    support: list[Id] = Field(default_factory=list, description="配合单位编号 Supporting unit ids")
    due: dt.date | None = Field(default=None, description="完成时限（一次性任务；非工作日顺延） Deadline of a one-off task (YYYY-MM-DD; rolls forward to a working day)")
    every: Recurrence | None = Field(default=None, description="周期：week、month、quarter、half_year、year Recurrence of a recurring task")
    due_after: Annotated[int, Field(ge=0, le=120)] | None = Field(
        default=None, description="每期结束后几个工作日内完成（仅周期任务） Working days after each period ends (recurring tasks)")
    warn_days: Annotated[int, Field(ge=0, le=60)] | None = Field(
        default=None, description="覆盖计划的 warn_days Overrides the plan's warn_days")
    depends_on: list[TaskId] = Field(default_factory=list, description="前置任务编号 Ids of tasks this one depends on")
    indicators: list[Indicator] = Field(default_factory=list, description="指标 Indicators reported with status")
    renamed_from: TaskId | None = Field(
        default=None, description="原任务编号：改名时保留其全部记录 Former task id: a rename that keeps the task's whole record")
    cancelled: Cancellation | None = Field(default=None, description="撤销：{on: 日期, reason: 原因} Withdrawn: {on, reason}")

    @field_validator("lead")
    @classmethod
    def _lead_shape(cls, value: str | list[str]) -> str | list[str]:
        items = [value] if isinstance(value, str) else value
        if not items:
            raise ValueError(msg("plan.lead_empty"))
        for item in items:
            if not re.match(ID_RE, item.removeprefix("group:")):
                raise ValueError(msg("plan.bad_lead", item=item))
        return value

    @model_validator(mode="after")
    def _schedule_shape(self) -> Task:
        if self.every is None and self.due is None:
            raise ValueError(msg("plan.due_or_every"))
        if self.every is not None and self.due is not None:
            raise ValueError(msg("plan.due_and_every"))
        if self.every is None and self.due_after is not None:
            raise ValueError(msg("plan.due_after_once"))
        return self

    @property
    def lead_refs(self) -> list[str]:
        return [self.lead] if isinstance(self.lead, str) else list(self.lead)

    @property
    def recurring(self) -> bool:
        return self.every is not None


class Section(Strict):
    """工作领域（如“（一）”） A section of the plan, e.g. one "(一)" area of a report."""

    id: Id = Field(description="领域编号 Section id")
    title: Text = Field(description="领域标题 Section title")
    tasks: list[Task] = Field(min_length=1, description="任务 Tasks of this section")


class Scoring(Strict):
    """考核评分 rules: a unit starts at `base` and loses points per late item and reminder level."""

    base: float = Field(default=100, description="基础分 Starting score")
    per_overdue_item: float = Field(default=2, description="每个逾期事项扣分 Points off per overdue item")
    per_done_late_item: float = Field(default=1, description="每个逾期完成事项扣分 Points off per item done late")
    per_level: dict[Id, float] = Field(default_factory=dict, description="每级催办扣分，按级别 Points off per reminder, by escalation level")
    floor: float = Field(default=0, description="最低分 Lowest score")


class Plan(Strict):
    """督查督办工作计划 A work plan tracked by plan-tracker (one YAML document)."""

    version: Literal[1] = Field(description="格式版本，目前为 1 Format version: 1")
    plan: PlanHeader = Field(description="计划信息 Plan header")
    leading_group: LeadingGroup | None = Field(default=None, description="领导小组 Leading group (receives notices)")
    groups: list[Group] = Field(default_factory=list, description="单位分组 Groups of units")
    units: list[Unit] = Field(default_factory=list, description="单位（或改用 units_file） Units (or units_file)")
    escalation: list[Step] = Field(default_factory=list, description="催办梯度 Escalation ladder")
    scoring: Scoring = Field(default=Scoring(), description="考核评分规则 Scoring rules")
    cadence: dict[Role, Cadence] = Field(
        default_factory=dict,
        description="各类接收人的发送节奏：daily 每晚一条，weekly 每周第一个工作日汇总一条（默认：领导小组 weekly，其余 daily） "
                    "How often each audience receives its messages: daily (one a night) or weekly (one digest on the "
                    "first working day of the week); default weekly for leading_group, daily otherwise")
    sections: list[Section] = Field(min_length=1, description="工作领域及任务 Sections with their tasks")

    @property
    def id(self) -> str:
        return self.plan.id

    def tasks(self) -> list[tuple[Section, Task]]:
        return [(s, t) for s in self.sections for t in s.tasks]

    def unit(self, unit_id: str) -> Unit:
        return next(u for u in self.units if u.id == unit_id)

    def cadence_of(self, role: Role | str) -> Cadence:
        role = Role(role)
        return self.cadence.get(role, DEFAULT_CADENCE[role])

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
    issues += _renames(plan)
    return issues


def _renames(plan: Plan) -> list[PlanIssue]:
    """`renamed_from` names a former id, never one the plan still uses, and each once."""
    issues: list[PlanIssue] = []
    unit_ids = {u.id for u in plan.units}
    seen: set[str] = set()
    for i, u in enumerate(plan.units):
        if u.renamed_from is None:
            continue
        if u.renamed_from in unit_ids:
            issues.append(PlanIssue(("units", i, "renamed_from"), msg("plan.rename_still_there", what=msg("what.unit"), id=u.renamed_from)))
        elif u.renamed_from in seen:
            issues.append(PlanIssue(("units", i, "renamed_from"), msg("plan.renamed_twice", what=msg("what.unit"), id=u.renamed_from)))
        seen.add(u.renamed_from)
    task_ids = {t.id for _, t in plan.tasks()}
    seen = set()
    for si, s in enumerate(plan.sections):
        for ti, t in enumerate(s.tasks):
            if t.renamed_from is None:
                continue
            where = ("sections", si, "tasks", ti, "renamed_from")
            if t.renamed_from in task_ids:
                issues.append(PlanIssue(where, msg("plan.rename_still_there", what=msg("what.task"), id=t.renamed_from)))
            elif t.renamed_from in seen:
                issues.append(PlanIssue(where, msg("plan.renamed_twice", what=msg("what.task"), id=t.renamed_from)))
            seen.add(t.renamed_from)
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
        PlanIssue(("units", i, "id"), msg("plan.duplicate_id", what=msg("what.unit"), id=plan.units[i].id))
        for i in sorted(_dupes([u.id for u in plan.units]))
    ]
    issues += [
        PlanIssue(("groups", i, "id"), msg("plan.duplicate_id", what=msg("what.group"), id=plan.groups[i].id))
        for i in sorted(_dupes([g.id for g in plan.groups]))
    ]
    issues += [
        PlanIssue(("sections", i, "id"), msg("plan.duplicate_id", what=msg("what.section"), id=plan.sections[i].id))
        for i in sorted(_dupes([s.id for s in plan.sections]))
    ]
    task_paths = [
        (("sections", si, "tasks", ti, "id"), t.id)
        for si, s in enumerate(plan.sections)
        for ti, t in enumerate(s.tasks)
    ]
    for index in sorted(_dupes([tid for _, tid in task_paths])):
        path, tid = task_paths[index]
        issues.append(PlanIssue(path, msg("plan.duplicate_id", what=msg("what.task"), id=tid)))
    for si, s in enumerate(plan.sections):
        for ti, t in enumerate(s.tasks):
            for ii in sorted(_dupes([i.id for i in t.indicators])):
                issues.append(
                    PlanIssue(
                        ("sections", si, "tasks", ti, "indicators", ii, "id"),
                        msg("plan.duplicate_indicator", id=t.indicators[ii].id, task=t.id),
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
            PlanIssue(("plan", "coordinator"),
                      _unknown("unit", plan.plan.coordinator, unit_ids))
        )
    for si, s in enumerate(plan.sections):
        for ti, t in enumerate(s.tasks):
            base = ("sections", si, "tasks", ti)
            for li, ref in enumerate(t.lead_refs):
                path = (*base, "lead") if isinstance(t.lead, str) else (*base, "lead", li)
                if ref.startswith("group:"):
                    name = ref.removeprefix("group:")
                    if name not in groups:
                        issues.append(PlanIssue(path, _unknown("group", name, groups)))
                    elif not [u for u in plan.units if name in u.groups]:
                        issues.append(PlanIssue(path, msg("plan.empty_group", id=name)))
                elif ref not in unit_ids:
                    issues.append(PlanIssue(path, _unknown("unit", ref, unit_ids)))
            for ui, ref in enumerate(t.support):
                if ref not in unit_ids:
                    issues.append(PlanIssue((*base, "support", ui), _unknown("unit", ref, unit_ids)))
            for di, ref in enumerate(t.depends_on):
                if ref not in task_ids:
                    issues.append(PlanIssue((*base, "depends_on", di), _unknown("task", ref, task_ids)))
                elif ref == t.id:
                    issues.append(PlanIssue((*base, "depends_on", di), msg("plan.depends_on_itself")))
    return issues


def _unknown(what: str, ref: str, known: set[str]) -> Msg:
    """"unknown unit 'x' (did you mean 'y'?)"; `partial_plan` reads `what` and `id` back."""
    return msg("plan.unknown_ref", what=msg(f"what.{what}"), kind=what, id=ref, did_you_mean=did_you_mean(ref, known))


def _dates_inside_plan(plan: Plan) -> list[PlanIssue]:
    start, end = plan.plan.start, plan.plan.end
    issues: list[PlanIssue] = []
    for si, s in enumerate(plan.sections):
        for ti, t in enumerate(s.tasks):
            if t.due is not None and not start <= t.due <= end:
                issues.append(
                    PlanIssue(
                        ("sections", si, "tasks", ti, "due"),
                        msg("plan.due_outside", due=t.due, start=start, end=end),
                    )
                )
    return issues


def _ladder_rules(plan: Plan) -> list[PlanIssue]:
    issues = [
        PlanIssue(("escalation", i, "level"), msg("plan.duplicate_level", level=plan.escalation[i].level))
        for i in sorted(_dupes([s.level for s in plan.escalation]))
    ]
    issues += [
        PlanIssue(("escalation", i, "after"), msg("plan.same_offset", after=plan.escalation[i].after))
        for i in sorted(_dupes([str(s.after) for s in plan.escalation]))
    ]
    for i, step in enumerate(plan.escalation):
        if Role.leading_group in step.notify and plan.leading_group is None:
            issues.append(
                PlanIssue(("escalation", i, "notify"), msg("plan.no_leading_group"))
            )
    for level in plan.scoring.per_level:
        if level not in {s.level for s in plan.escalation}:
            issues.append(PlanIssue(("scoring", "per_level", level), msg("plan.unknown_level", level=level)))
    return issues


def _dependency_cycles(plan: Plan) -> list[PlanIssue]:
    """Report each dependency cycle once. Iterative DFS: a hostile plan with a dependency
    chain thousands of tasks long must not exhaust Python's recursion limit."""
    paths = {
        t.id: ("sections", si, "tasks", ti, "depends_on")
        for si, s in enumerate(plan.sections)
        for ti, t in enumerate(s.tasks)
    }
    graph = {t.id: [d for d in t.depends_on if d in paths and d != t.id] for _, t in plan.tasks()}
    issues: list[PlanIssue] = []
    state: dict[str, int] = {}  # 1 = on the stack, 2 = finished
    reported: set[frozenset[str]] = set()
    for root in graph:
        if root in state:
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = [root]
        state[root] = 1
        while stack:
            node, index = stack[-1]
            if index == len(graph[node]):
                stack.pop()
                path.pop()
                state[node] = 2
                continue
            stack[-1] = (node, index + 1)
            nxt = graph[node][index]
            if state.get(nxt) == 1:
                cycle = [*path[path.index(nxt):], nxt]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    shown = cycle if len(cycle) <= 12 else [*cycle[:10], f"... ({len(cycle) - 1} tasks)", cycle[-1]]
                    issues.append(PlanIssue(paths[node], msg("plan.dependency_cycle", cycle=" -> ".join(shown))))
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, 0))
                path.append(nxt)
    return issues

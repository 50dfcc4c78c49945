"""Preview of a plan before it is applied: every obligation, its due date, and the dates each
escalation step would fire — with the reasons a date is not the one written in the plan.

A coordinator writes `due: 2018-10-01`; the tracker holds the unit to 2018-10-08, because
2018-10-01..07 is the National Day holiday. The preview says so before anything is stored.
Dates come from the same functions the tracker uses (`obligations.expand`,
`escalation.step_threshold`), so the preview cannot disagree with what `plan apply` and the
nightly run will do.

The preview holds facts, not sentences: a `DueRule` (how the due date follows from the plan)
and `Reason`s (the day was a holiday and the date rolled forward, a holiday was skipped
while counting working days, ...). `authoring.preview_render` words them in the plan's
locale ("2018-10-01 为国庆节假期，顺延至下一个工作日 2018-10-08").

Pure: no I/O. The official holiday names come from the `chinesecalendar` data package.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from plan_tracker.domain.calendar import WorkCalendar
from plan_tracker.domain.errors import CalendarNotCovered, DomainError
from plan_tracker.domain.escalation import step_threshold
from plan_tracker.domain.obligations import Obligation, expand
from plan_tracker.domain.plan import Plan, Step, Task

ONE_DAY = dt.timedelta(days=1)

Source = Literal["official", "plan", "weekend", "ordinary"]
ReasonKind = Literal["rolled", "stays", "skips", "counts", "lands"]
RuleKind = Literal["due", "last_day", "after"]


class UnknownUnit(DomainError):
    """`--unit` names a unit the plan does not have."""


@dataclass(frozen=True)
class DayNote:
    """What a date is on a plan's calendar, and on whose word."""

    day: dt.date
    working: bool
    source: Source  # official schedule, the plan's own overrides, plain weekend, or ordinary day
    holiday: str | None = None  # official holiday name in Chinese (国庆节), also for 调休 days

    @property
    def weekend(self) -> bool:
        return self.day.weekday() >= 5

    @property
    def special(self) -> bool:
        """Not what the day of the week suggests: a holiday on a weekday or a working weekend."""
        return self.working == self.weekend or (not self.working and self.holiday is not None)

    @property
    def kind(self) -> tuple[bool, Source, str | None]:
        """What the day is, whatever its date (consecutive days of one kind are one run)."""
        return self.working, self.source, self.holiday


def day_note(calendar: WorkCalendar, day: dt.date) -> DayNote:
    """Classify a date (raises CalendarNotCovered like every calendar question)."""
    working = calendar.is_working_day(day)
    spec = calendar.spec
    if (working and day in spec.workdays) or (not working and day in spec.holidays):
        return DayNote(day, working, "plan")
    name = _official_holiday(day) if spec.base == "CN" and day.year not in spec.years else None
    if name is not None:
        return DayNote(day, working, "official", name)
    if not working and day.weekday() >= 5:
        return DayNote(day, working, "weekend")
    return DayNote(day, working, "ordinary")


def _official_holiday(day: dt.date) -> str | None:
    """The Chinese name of the official holiday a day belongs to (or is an adjusted working day for)."""
    import chinese_calendar  # pure data, imported lazily like the calendar does

    _, name = chinese_calendar.get_holiday_detail(day)
    if name is None:
        return None
    try:
        return str(chinese_calendar.Holiday(name).chinese)
    except ValueError:
        return str(name)


@dataclass(frozen=True)
class Reason:
    """One fact behind a due date, worded by the renderer:

    - `rolled`: the date the plan names (`note`) is not a working day; the due date is the
      next working day `due` (`landed` says what that day is, when it is not a plain weekday);
    - `stays`: the named date is special (e.g. a working Sunday) but remains the due date;
    - `skips`: official or plan holidays from `note.day` to `until` were skipped while
      counting working days;
    - `counts`: an adjusted working weekend day (`note`) was counted as a working day;
    - `lands`: the due date (`note`) found by counting is a working weekend day.
    """

    kind: ReasonKind
    note: DayNote
    until: dt.date | None = None
    due: dt.date | None = None
    landed: DayNote | None = None


@dataclass(frozen=True)
class DueRule:
    """How the due date follows from the plan: a one-off `due` date, the last day of the
    period, or `shift` working days after the period's last day (`written`)."""

    kind: RuleKind
    written: dt.date
    period: str
    shift: int = 0


@dataclass(frozen=True)
class StepDate:
    """When one escalation step would first fire for an obligation not done by then."""

    level: str
    wording: str  # 提醒, 催办, 督办, 通报 or the step's label
    after: int
    on: dt.date | None  # None: the date falls in a year the calendar does not cover
    repeat_every: int | None = None
    uncovered: tuple[str, int] | None = None  # (calendar, year) when `on` is None


@dataclass(frozen=True)
class PreviewRow:
    """One obligation (task, lead unit, period) as the tracker will hold it."""

    section: str
    task: str
    title: str
    unit: str
    unit_name: str
    period: str
    period_start: dt.date
    period_end: dt.date
    written: dt.date  # the date the plan names: a one-off `due`, or the period's last day
    due: dt.date
    rule: DueRule  # how the due date follows from the plan
    reasons: tuple[Reason, ...]  # why the due date is not the plain reading of the rule; empty if it is
    steps: tuple[StepDate, ...]
    rolled: bool = False  # a non-working day pushed the due date past the date the plan names


@dataclass(frozen=True)
class Explanation:
    written: dt.date
    rule: DueRule
    reasons: tuple[Reason, ...]
    rolled: bool


@dataclass(frozen=True)
class LadderColumn:
    level: str
    wording: str
    after: int
    repeat_every: int | None


@dataclass(frozen=True)
class Preview:
    plan_id: str
    title: str
    calendar: str
    start: dt.date
    end: dt.date
    ladder: tuple[LadderColumn, ...]
    rows: tuple[PreviewRow, ...]
    unit: str | None = None  # the `--unit` filter, if any
    locale: str = "zh"  # the plan's `plan.locale`: the language its renderings speak

    @property
    def moved(self) -> int:
        return sum(1 for r in self.rows if r.rolled)


def preview(plan: Plan, calendar: WorkCalendar, *, unit: str | None = None) -> Preview:
    """Every obligation of a validated plan (optionally one unit's), with dates and reasons."""
    if unit is not None and unit not in {u.id for u in plan.units}:
        raise UnknownUnit("preview.unknown_unit", unit=unit, plan=plan.id)
    ladder = plan.ladder()
    tasks = {t.id: (s.id, t) for s, t in plan.tasks()}
    names = {u.id: u.name for u in plan.units}
    # Units of one (task, period) share its dates: explain each once.
    explained: dict[tuple[str, str], tuple[Explanation, tuple[StepDate, ...]]] = {}
    rows = []
    for ob in expand(plan, calendar):
        if unit is not None and ob.unit != unit:
            continue
        section, task = tasks[ob.task]
        key = (ob.task, ob.period)
        if key not in explained:
            explained[key] = (explain_due(calendar, task, ob), step_dates(calendar, ladder, ob.due))
        why, steps = explained[key]
        rows.append(PreviewRow(
            section, ob.task, task.title, ob.unit, names.get(ob.unit, ob.unit), ob.period,
            ob.period_start, ob.period_end, why.written, ob.due, why.rule, why.reasons, steps,
            why.rolled,
        ))
    columns = tuple(LadderColumn(s.level, s.wording, s.after, s.repeat_every) for s in ladder)
    header = plan.plan
    return Preview(plan.id, header.title, calendar.name, header.start, header.end, columns,
                   tuple(rows), unit, header.locale)


def step_dates(calendar: WorkCalendar, ladder: list[Step], due: dt.date) -> tuple[StepDate, ...]:
    """The first firing date of each step (the reference rule: due shifted by `after` wd)."""
    found = []
    for step in ladder:
        try:
            on: dt.date | None = step_threshold(calendar, due, step)
            uncovered = None
        except CalendarNotCovered as exc:
            on, uncovered = None, (exc.calendar, exc.year)
        found.append(StepDate(step.level, step.wording, step.after, on, step.repeat_every, uncovered))
    return tuple(found)


def explain_due(calendar: WorkCalendar, task: Task, ob: Obligation) -> Explanation:
    """The date the plan names, the rule it follows, and why the due date differs from it."""
    if task.due is not None:
        return Explanation(task.due, DueRule("due", task.due, ob.period), _rolled(calendar, task.due, ob.due),
                           ob.due != task.due)
    shift = task.due_after or 0
    end = ob.period_end
    if shift == 0:
        return Explanation(end, DueRule("last_day", end, ob.period), _rolled(calendar, end, ob.due),
                           ob.due != end)
    return Explanation(end, DueRule("after", end, ob.period, shift), _crossed(calendar, end, ob.due), False)


def _rolled(calendar: WorkCalendar, written: dt.date, due: dt.date) -> tuple[Reason, ...]:
    note = day_note(calendar, written)
    if due == written:
        return (Reason("stays", note),) if note.special else ()
    landed = day_note(calendar, due)
    return (Reason("rolled", note, due=due, landed=landed if landed.special else None),)


def _crossed(calendar: WorkCalendar, after: dt.date, due: dt.date) -> tuple[Reason, ...]:
    """Holidays skipped and adjusted working days counted while counting working days."""
    skipped: list[tuple[DayNote, dt.date]] = []  # (first day, last day) of consecutive runs of one kind
    counted: list[DayNote] = []
    day = after + ONE_DAY
    while day < due:
        note = day_note(calendar, day)
        if not note.working and note.source in ("official", "plan"):
            if skipped and skipped[-1][0].kind == note.kind and skipped[-1][1] + ONE_DAY == day:
                skipped[-1] = (skipped[-1][0], day)
            else:
                skipped.append((note, day))
        elif note.working and note.weekend:
            counted.append(note)
        day += ONE_DAY
    reasons = [Reason("skips", first, until=last) for first, last in skipped]
    reasons += [Reason("counts", n) for n in counted]
    last = day_note(calendar, due)
    if last.weekend and last.working:
        reasons.append(Reason("lands", last))
    return tuple(reasons)

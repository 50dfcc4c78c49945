"""Preview of a plan before it is applied: every obligation, its due date, and the dates each
escalation step would fire — with the reasons a date is not the one written in the plan.

A coordinator writes `due: 2018-10-01`; the tracker holds the unit to 2018-10-08, because
2018-10-01..07 is the National Day holiday. The preview says so ("2018-10-01 is a holiday
(国庆节) — rolled forward to the next working day") before anything is stored. Dates come
from the same functions the tracker uses (`obligations.expand`, `escalation.step_threshold`),
so the preview cannot disagree with what `plan apply` and the nightly run will do.

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

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ONE_DAY = dt.timedelta(days=1)

Source = Literal["official", "plan", "weekend", "ordinary"]


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

    def describe(self) -> str:
        weekday = WEEKDAYS[self.day.weekday()]
        if self.working:
            if not self.weekend:
                return "a working day"
            if self.source == "plan":
                return f"a {weekday} but a working day in the plan's calendar"
            return f"a {weekday} but an adjusted working day (调休, {self.holiday})" if self.holiday \
                else f"a {weekday} but an adjusted working day (调休)"
        if self.source == "plan":
            return "a holiday in the plan's calendar"
        if self.holiday:
            return f"a holiday ({self.holiday})"
        return f"a {weekday}" if self.weekend else "not a working day"


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
class StepDate:
    """When one escalation step would first fire for an obligation not done by then."""

    level: str
    wording: str  # 提醒, 催办, 督办, 通报 or the step's label
    after: int
    on: dt.date | None  # None: the date falls in a year the calendar does not cover
    repeat_every: int | None = None
    note: str | None = None

    @property
    def offset(self) -> str:
        return f"{self.after:+d} wd" if self.after else "0 wd"

    def describe(self) -> str:
        when = self.on.isoformat() if self.on else f"— ({self.note})"
        return f"{when}, then every {self.repeat_every} wd" if self.repeat_every and self.on else when


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
    rule: str  # how the due date follows from the plan
    reasons: tuple[str, ...]  # why the due date is not the plain reading of the rule; empty if it is
    steps: tuple[StepDate, ...]
    rolled: bool = False  # a non-working day pushed the due date past the date the plan names


@dataclass(frozen=True)
class Explanation:
    written: dt.date
    rule: str
    reasons: tuple[str, ...]
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

    @property
    def moved(self) -> int:
        return sum(1 for r in self.rows if r.rolled)


def preview(plan: Plan, calendar: WorkCalendar, *, unit: str | None = None) -> Preview:
    """Every obligation of a validated plan (optionally one unit's), with dates and reasons."""
    if unit is not None and unit not in {u.id for u in plan.units}:
        raise UnknownUnit(f"unknown unit {unit!r}: plan {plan.id!r} has no such unit")
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
                   tuple(rows), unit)


def step_dates(calendar: WorkCalendar, ladder: list[Step], due: dt.date) -> tuple[StepDate, ...]:
    """The first firing date of each step (the reference rule: due shifted by `after` wd)."""
    found = []
    for step in ladder:
        try:
            on: dt.date | None = step_threshold(calendar, due, step)
            note = None
        except CalendarNotCovered as exc:
            on, note = None, f"the {exc.calendar} calendar has no schedule for {exc.year}"
        found.append(StepDate(step.level, step.wording, step.after, on, step.repeat_every, note))
    return tuple(found)


def explain_due(calendar: WorkCalendar, task: Task, ob: Obligation) -> Explanation:
    """The date the plan names, the rule in words, and why the due date differs from it."""
    if task.due is not None:
        return Explanation(task.due, f"due {task.due}", _rolled(calendar, task.due, ob.due),
                           ob.due != task.due)
    shift = task.due_after or 0
    end = ob.period_end
    if shift == 0:
        return Explanation(end, f"last day of {ob.period} ({end})", _rolled(calendar, end, ob.due),
                           ob.due != end)
    rule = f"{shift} working day{'s' if shift > 1 else ''} after {end}, the last day of {ob.period}"
    return Explanation(end, rule, _crossed(calendar, end, ob.due), False)


def _rolled(calendar: WorkCalendar, written: dt.date, due: dt.date) -> tuple[str, ...]:
    note = day_note(calendar, written)
    if due == written:
        return (f"{written} is {note.describe()} — the deadline stays",) if note.special else ()
    reason = f"{written} is {note.describe()} — rolled forward to the next working day"
    landed = day_note(calendar, due)
    if landed.special:
        reason += f", {due}, {landed.describe()}"
    return (reason,)


def _crossed(calendar: WorkCalendar, after: dt.date, due: dt.date) -> tuple[str, ...]:
    """Holidays skipped and adjusted working days counted while counting working days."""
    skipped: list[tuple[str, dt.date, dt.date]] = []  # (what, first, last), consecutive runs
    counted: list[DayNote] = []
    day = after + ONE_DAY
    while day < due:
        note = day_note(calendar, day)
        if not note.working and note.source in ("official", "plan"):
            what = note.describe()
            if skipped and skipped[-1][0] == what and skipped[-1][2] + ONE_DAY == day:
                skipped[-1] = (what, skipped[-1][1], day)
            else:
                skipped.append((what, day, day))
        elif note.working and note.weekend:
            counted.append(note)
        day += ONE_DAY
    reasons = [
        f"skips {first}" + (f" – {last}" if last != first else "") + f", {what}"
        for what, first, last in skipped
    ]
    reasons += [f"counts {n.day}, {n.describe()}" for n in counted]
    last = day_note(calendar, due)
    if last.weekend and last.working:
        reasons.append(f"{due} is {last.describe()}")
    return tuple(reasons)

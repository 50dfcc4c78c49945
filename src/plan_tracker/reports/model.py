"""The report model: what managers read, as plain frozen data built from SQL aggregates.

One model, several renderings (HTML, Markdown, XLSX, JSON) and the web page. Every figure
is an aggregate computed in the database (`reports.build`), except the overdue list and the
accountability notice, which are bounded lists of items. Rates are shares in [0, 1] or None
when nothing was expected; the definitions are in `plan_tracker.domain.scoring`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

LIGHTS = ("red", "yellow", "green", "pending", "done", "done_late")


@dataclass(frozen=True)
class LightCounts:
    """Obligations per light (every light present, zero when none)."""

    counts: dict[str, int]

    @classmethod
    def of(cls, counts: dict[str, int] | None = None) -> LightCounts:
        given = counts or {}
        return cls({light: int(given.get(light, 0)) for light in LIGHTS})

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def __getitem__(self, light: str) -> int:
        return self.counts[light]


@dataclass(frozen=True)
class Reporting:
    """DHIS2-style reporting figures of a set of obligations."""

    expected: int = 0
    received: int = 0
    on_time: int = 0
    completed: int = 0  # expected and done (on time or late) by the as-of date
    done_on_time: int = 0  # expected and light `done`

    @property
    def reporting_rate(self) -> float | None:
        return None if self.expected == 0 else self.received / self.expected

    @property
    def timeliness(self) -> float | None:
        return None if self.expected == 0 else self.on_time / self.expected

    @property
    def completion_rate(self) -> float | None:
        return None if self.expected == 0 else self.completed / self.expected

    @property
    def on_time_rate(self) -> float | None:
        return None if self.expected == 0 else self.done_on_time / self.expected


@dataclass(frozen=True)
class Level:
    """A step of the escalation ladder, lowest first, with its wording (提醒, 催办, …)."""

    level: str
    wording: str
    after: int
    position: int


@dataclass(frozen=True)
class Summary:
    total: int
    lights: LightCounts
    reporting: Reporting
    overdue_wd: int  # sum over red items
    since: dt.date | None  # the snapshot compared with (None: no earlier snapshot)
    change: dict[str, int] | None  # light -> count now minus count on `since`
    reminders: dict[str, int]  # level -> reminders raised up to the as-of date (not skipped)


@dataclass(frozen=True)
class GroupFigures:
    """Figures of a section or a task."""

    id: str
    title: str
    lights: LightCounts
    reporting: Reporting
    progress: float | None  # mean progress (0-100) of obligations whose period has started
    overdue: int  # red items
    overdue_wd: int
    section_id: str = ""


@dataclass(frozen=True)
class UnitFigures:
    id: str
    name: str
    lights: LightCounts
    reporting: Reporting
    overdue: int  # red on the as-of date (effective due date)
    overdue_wd: int  # sum of working days overdue of red items
    max_overdue_wd: int
    late_open: int  # still open after the original due date (scored)
    done_late: int  # finished after the original due date (scored)
    reminders: dict[str, int]  # level -> count
    score: float
    deductions: dict[str, float]


@dataclass(frozen=True)
class IndicatorPoint:
    period: str
    reported: int
    mean: float | None
    total: float | None
    met: int


@dataclass(frozen=True)
class IndicatorFigures:
    task_id: str
    task_title: str
    id: str
    name: str
    unit: str | None
    target: float | None
    direction: str
    reported: int  # obligations with a value (their latest value counts)
    mean: float | None
    total: float | None
    met: int
    gap: float | None  # shortfall of the mean (positive: short of the target)
    trend: str  # better | worse | steady | unknown, between the last two periods
    points: list[IndicatorPoint] = field(default_factory=list)


@dataclass(frozen=True)
class ReminderEntry:
    level: str
    wording: str
    fired_on: dt.date
    state: str
    seq: int


@dataclass(frozen=True)
class OverdueItem:
    task_id: str
    task_title: str
    unit_id: str
    unit_name: str
    period: str
    due: dt.date
    original_due: dt.date
    overdue_wd: int
    status: str | None
    progress: int | None
    last_report_on: dt.date | None
    reminders: list[ReminderEntry] = field(default_factory=list)
    # The plan's date before a later version moved it (计划调整); None when the plan never did.
    # `due` differs from `original_due` when an extension (延期) moved it.
    plan_due_was: dt.date | None = None
    note: str | None = None  # the unit's note on its latest report (flattened and cut)


@dataclass(frozen=True)
class Withdrawal:
    """A task or unit no longer tracked on the report's date: withdrawn (撤销) with a reason,
    or left out of a plan version. Its obligations stay in the record before `on`."""

    kind: str  # task | unit
    id: str
    title: str
    on: dt.date
    reason: str | None  # None: left out of version `version` without a stated reason
    version: int


@dataclass(frozen=True)
class NoticeItem:
    task_id: str
    task_title: str
    period: str
    due: dt.date
    original_due: dt.date
    overdue_wd: int
    first_notified: dt.date  # when the top level first fired for the item
    times: int  # how often the top level fired (repeats)
    # the unit's own words: its latest report on the item as of the report's date
    status: str | None = None
    progress: int | None = None
    reported_on: dt.date | None = None
    note: str | None = None


@dataclass(frozen=True)
class NoticeUnit:
    unit_id: str
    unit_name: str
    items: list[NoticeItem]


@dataclass(frozen=True)
class Notice:
    """通报: units with items still open that reached the top escalation level."""

    level: Level | None  # None: the plan has no escalation ladder
    units: list[NoticeUnit]
    item_total: int  # items in the notice (may exceed the items listed)
    truncated: bool


@dataclass(frozen=True)
class BlockedEntry:
    """An item its unit reported blocked: escalation paused until the coordinator decides."""

    task_id: str
    task_title: str
    unit_id: str
    unit_name: str
    period: str
    since: dt.date  # the blocked report's date
    reason: str | None  # the unit's note (flattened and cut)


@dataclass(frozen=True)
class TrendPoint:
    day: dt.date
    red: int
    yellow: int
    overdue_wd: int


@dataclass(frozen=True)
class Report:
    plan_id: str
    plan_title: str
    locale: str
    as_of: dt.date
    coordinator_name: str
    leading_group_name: str | None
    levels: list[Level]
    summary: Summary
    sections: list[GroupFigures]
    tasks: list[GroupFigures]
    units: list[UnitFigures]
    indicators: list[IndicatorFigures]
    overdue: list[OverdueItem]
    overdue_total: int  # red items in all (the list holds at most `overdue_limit`)
    overdue_offset: int
    notice: Notice
    trend: list[TrendPoint]
    withdrawn: list[Withdrawal] = field(default_factory=list)
    version: int = 1  # the plan version in force on the as-of date
    blocked: list[BlockedEntry] = field(default_factory=list)  # listed apart, with the reason

    def level(self, name: str) -> Level | None:
        return next((lv for lv in self.levels if lv.level == name), None)


@dataclass(frozen=True)
class WeeklyFigures:
    """What the week's report in a manager's message shows (`reports.weekly_mail`): the
    summary's figures and the first overdue items (`build.build_weekly`; `of_report` takes
    them from a whole report, as the equality test does)."""

    plan_title: str
    locale: str
    as_of: dt.date
    lights: LightCounts
    reporting: Reporting
    overdue_wd: int
    since: dt.date | None
    change: dict[str, int] | None
    overdue: list[OverdueItem]
    overdue_total: int

    @classmethod
    def of_report(cls, report: Report, limit: int) -> WeeklyFigures:
        s = report.summary
        return cls(report.plan_title, report.locale, report.as_of, s.lights, s.reporting, s.overdue_wd, s.since,
                   s.change, report.overdue[:limit], report.overdue_total)

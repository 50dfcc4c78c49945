"""A unit's deadlines as an iCalendar feed (RFC 5545), written by hand.

One all-day VEVENT per obligation the unit leads, on its (effective) due date, with a stable
UID so calendar applications update events in place when a deadline is extended or an item
is done. Open items carry a display alarm at 09:00 on the working day `warn_days` working days
before the deadline (when the light turns yellow; never inside a holiday). Text is escaped
(§3.3.11) and lines are folded at 75 octets without splitting a UTF-8 character (§3.1).

The feed is bounded by one unit's obligations, so it is computed with the reference rules of
the domain (`state_as_of`, `light_on`) rather than by evaluating the whole plan in SQL.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import Engine, and_, select

from plan_tracker.domain.calendar import WorkCalendar
from plan_tracker.domain.errors import CalendarNotCovered, WordedError
from plan_tracker.domain.lights import Light, light_on
from plan_tracker.domain.reports import state_as_of
from plan_tracker.domain.suggestions import hint
from plan_tracker.reports.labels import labels, period_text
from plan_tracker.services.plans import stored_plan
from plan_tracker.store.models import Obligation, StatusReport, TaskRow, UnitRow
from plan_tracker.wording import Msg

PRODID = "-//plan-tracker//deadlines 1.0//ZH"
ALARM_HOUR = 9


def alarm_trigger(due: dt.date, alarm_on: dt.date) -> str:
    """The VALARM trigger for 09:00 on `alarm_on`, relative to the all-day event's start
    (00:00 on `due`): e.g. three calendar days before is -P2DT15H."""
    days = (due - alarm_on).days
    if days <= 0:
        return f"PT{ALARM_HOUR}H"
    rest = 24 - ALARM_HOUR
    return f"-P{days - 1}DT{rest}H" if days > 1 else f"-PT{rest}H"


class UnknownUnit(WordedError, LookupError):
    """`hint` (known ids, a near miss) is for the coordinator's CLI, never a web client."""

    def __init__(self, plan_id: str, unit_id: str, hint: Msg | None = None):
        super().__init__("plan.no_unit", plan=plan_id, unit=unit_id, hint=hint)


@dataclass(frozen=True)
class Deadline:
    task_id: str
    task_title: str
    section_title: str
    period: str
    due: dt.date
    original_due: dt.date
    light: str
    status: str | None
    progress: int | None
    alarm_on: dt.date  # the working day `warn_days` wd before `due`


def escape_text(value: str) -> str:
    """RFC 5545 TEXT: backslash, semicolon, comma and line breaks escaped."""
    return (value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n"))


def fold(line: str) -> str:
    """Fold a content line into chunks of at most 75 octets, continuation lines led by a space."""
    out: list[str] = []
    current: list[str] = []
    size, limit = 0, 75
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            out.append("".join(current))
            current, size = [" "], 1
        current.append(char)
        size += width
    out.append("".join(current))
    return "\r\n".join(out)


def unit_deadlines(engine: Engine, plan_id: str, unit_id: str, as_of: dt.date) -> tuple[str, str, str, list[Deadline]]:
    """(plan title, unit name, locale, deadlines) of one unit, each with its light on `as_of`."""
    o, t = Obligation.__table__, TaskRow.__table__  # type: ignore[attr-defined]
    r, u = StatusReport.__table__, UnitRow.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        plan = stored_plan(conn, plan_id, as_of)
        name = conn.execute(select(u.c.name).where(u.c.plan_id == plan_id, u.c.id == unit_id)).scalar_one_or_none()
        if name is None:
            raise UnknownUnit(plan_id, unit_id, hint(unit_id, [x.id for x in plan.units]))
        rows = conn.execute(
            select(o.c.id, o.c.task_id, o.c.period, o.c.period_start, o.c.due, o.c.original_due,
                   o.c.warn_days, t.c.title, t.c.section_title)
            .join(t, and_(t.c.plan_id == o.c.plan_id, t.c.id == o.c.task_id))
            .where(o.c.plan_id == plan_id, o.c.unit_id == unit_id, o.c.active)
            .order_by(o.c.due, t.c.position, o.c.period)
        ).all()
        reports: dict[int, list[tuple[dt.date, int, str, int | None]]] = defaultdict(list)
        for rep in conn.execute(
            select(r.c.obligation_id, r.c.reported_on, r.c.id, r.c.status, r.c.progress)
            .join(o, o.c.id == r.c.obligation_id)
            .where(o.c.plan_id == plan_id, o.c.unit_id == unit_id, r.c.reported_on <= as_of, r.c.received_on <= as_of)
        ):
            reports[rep.obligation_id].append((rep.reported_on, rep.id, rep.status, rep.progress))
    calendar = WorkCalendar(plan.plan.calendar)
    deadlines = []
    for row in rows:
        status, progress, done_on = state_as_of(reports.get(row.id, []), as_of)
        try:
            light = light_on(calendar, as_of=as_of, period_start=row.period_start, due=row.due,
                             warn_days=row.warn_days, done_on=done_on).light.value
        except CalendarNotCovered:
            light = Light.done.value if done_on and done_on <= row.due else "pending"
        deadlines.append(Deadline(row.task_id, row.title, row.section_title, row.period, row.due,
                                  row.original_due, light, status, progress,
                                  _alarm_day(calendar, row.due, row.warn_days)))
    return plan.plan.title, str(name), plan.plan.locale, deadlines


def _alarm_day(calendar: WorkCalendar, due: dt.date, warn_days: int) -> dt.date:
    """`-warn_days wd` from the due date: the first yellow day, a working day."""
    try:
        return calendar.shift(due, -warn_days)
    except CalendarNotCovered:  # a year without a schedule: three calendar days, as before
        return due - dt.timedelta(days=3)


def render_ics(*, plan_id: str, plan_title: str, unit_id: str, unit_name: str, locale: str,
               as_of: dt.date, deadlines: list[Deadline]) -> str:
    words = labels(locale)
    zh = locale != "en"
    stamp = f"{as_of:%Y%m%d}T000000Z"
    lines = [
        "BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
        f"X-WR-CALNAME:{escape_text(f'{unit_name} · {plan_title}')}",
    ]
    for d in deadlines:
        done = d.light in ("done", "done_late")
        mark = ("【已完成】" if zh else "[done] ") if done else ("【截止】" if zh else "[due] ")
        summary = f"{mark}{d.task_title}（{period_text(d.period, locale)}）" if zh else \
            f"{mark}{d.task_title} ({period_text(d.period, locale)})"
        details = [
            f"{words['task']}：{d.task_title}（{d.task_id}）" if zh else f"{words['task']}: {d.task_title} ({d.task_id})",
            f"{words['section']}：{d.section_title}" if zh else f"{words['section']}: {d.section_title}",
            f"{words['period']}：{period_text(d.period, locale)}" if zh else f"{words['period']}: {d.period}",
            f"{words['due']}：{d.due.isoformat()}" if zh else f"{words['due']}: {d.due.isoformat()}",
        ]
        if d.original_due != d.due:
            details.append(f"{words['original_due']}：{d.original_due.isoformat()}" if zh
                           else f"{words['original_due']}: {d.original_due.isoformat()}")
        state = words["lights"].get(d.light, d.light)
        details.append(f"{words['status_word']}（{as_of.isoformat()}）：{state}" if zh
                       else f"{words['status_word']} ({as_of.isoformat()}): {state}")
        lines += [
            "BEGIN:VEVENT",
            f"UID:{plan_id}.{d.task_id}.{unit_id}.{d.period}@plan-tracker",
            f"DTSTAMP:{stamp}",
            f"DTSTART;VALUE=DATE:{d.due:%Y%m%d}",
            f"DTEND;VALUE=DATE:{d.due + dt.timedelta(days=1):%Y%m%d}",
            f"SUMMARY:{escape_text(summary)}",
            f"DESCRIPTION:{escape_text(chr(10).join(details))}",
            f"CATEGORIES:{escape_text('督查督办' if zh else 'follow-up')}",
            "TRANSP:TRANSPARENT",
            "STATUS:CONFIRMED",
        ]
        if not done:
            lines += ["BEGIN:VALARM", "ACTION:DISPLAY", f"DESCRIPTION:{escape_text(summary)}",
                      f"TRIGGER:{alarm_trigger(d.due, d.alarm_on)}", "END:VALARM"]
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)


def ics_for_unit(engine: Engine, plan_id: str, unit_id: str, as_of: dt.date) -> str:
    """The unit's deadlines feed (what `/units/{unit}/deadlines.ics` serves)."""
    title, name, locale, deadlines = unit_deadlines(engine, plan_id, unit_id, as_of)
    return render_ics(plan_id=plan_id, plan_title=title, unit_id=unit_id, unit_name=name,
                      locale=locale, as_of=as_of, deadlines=deadlines)

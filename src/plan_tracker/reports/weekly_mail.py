"""The weekly report as part of a message: headline figures and the overdue list, carried by
the managers' (coordinator, leading group) first message of the week.

On the week's report day a manager who also has reminders or a 通报 digest waiting gets ONE
message holding both; one with nothing waiting gets the weekly report alone from the report
stage (`schedule.send_weekly_report`). Either way the `report.weekly` event records the
send, in the same transaction as the deliveries it travelled with, so it goes once a week.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from plan_tracker.domain.calendar import WorkCalendar
from plan_tracker.reports.labels import labels, long_date, num, pct, signed
from plan_tracker.reports.model import LIGHTS, Report
from plan_tracker.services.context import PlanContext
from plan_tracker.services.messages import Item, UnitWords, WeeklyPart, clean_note
from plan_tracker.services.plans import stored_plan
from plan_tracker.store.audit import record_event
from plan_tracker.store.outbox_models import NightlyRun

OVERDUE_LISTED = 20


def weekly_part(report: Report, *, limit: int = OVERDUE_LISTED) -> WeeklyPart:
    L, s = labels(report.locale), report.summary
    r = s.reporting
    figures = [(L["total"], str(s.total))]
    figures += [(L["lights"][light], str(s.lights.counts[light])) for light in LIGHTS]
    figures += [(L["completion_rate"], pct(r.completion_rate)), (L["on_time_rate"], pct(r.on_time_rate)),
                (L["reporting_rate"], pct(r.reporting_rate)), (L["timeliness"], pct(r.timeliness)),
                (L["overdue_wd"], num(s.overdue_wd))]
    if s.change is not None and s.since is not None:
        figures.append((f"{L['change']}（{L['change_since'].format(day=s.since.isoformat())}）" if report.locale != "en"
                        else f"{L['change']} ({L['change_since'].format(day=s.since.isoformat())})",
                        " ".join(f"{L['lights'][light]} {signed(s.change[light])}" for light in ("red", "yellow"))))
    red = L["lights"]["red"]
    overdue = [
        Item(o.task_id, o.task_title, o.unit_name, o.period, o.due, "", 0, o.overdue_wd, None, unit_id=o.unit_id,
             wording=red, latest=None if o.status is None or o.last_report_on is None
             else UnitWords(o.status, o.progress, o.last_report_on, clean_note(o.note)))
        for o in report.overdue[:limit]
    ]
    left = report.overdue_total - len(overdue)
    title = L["weekly_subject"].format(title=report.plan_title, day=long_date(report.as_of, report.locale))
    return WeeklyPart(title=title, figures=figures, overdue_heading=L["overdue_list"], overdue=overdue,
                      more=L["more_items"].format(n=left) if left > 0 else None)


class WeeklyMail:
    """What a delivery run needs to carry the week's report: who is still owed it this week
    (when the report is due today) and the report itself (built once, on first use)."""

    def __init__(self, engine: Engine, plan_id: str, as_of: dt.date, context: PlanContext | None = None) -> None:
        from plan_tracker.reports.schedule import _managers, _sent_keys, week_key, weekly_due

        self.engine, self.plan_id, self.as_of = engine, plan_id, as_of
        self.week = week_key(as_of)
        self.context = context
        self._part: WeeklyPart | None = None
        with engine.connect() as conn:
            plan = context.plan if context is not None else stored_plan(conn, plan_id, as_of)
            runs = NightlyRun.__table__  # type: ignore[attr-defined]
            found = conn.execute(select(func.min(runs.c.as_of)).where(runs.c.plan_id == plan_id)).scalar_one()
        first_night = None if found is None else found if isinstance(found, dt.date) else dt.date.fromisoformat(str(found))
        due = weekly_due(WorkCalendar(plan.plan.calendar), as_of, first_night or as_of)
        self.owed = ({r.key for r in _managers(engine, plan_id)} - _sent_keys(engine, plan_id, self.week)) if due else set()

    def part_for(self, recipient_key: str) -> WeeklyPart | None:
        if recipient_key not in self.owed:
            return None
        if self._part is None:
            from plan_tracker.reports.build import build_report, snapshot_on_or_before

            with self.engine.connect() as conn:
                since = snapshot_on_or_before(conn, self.plan_id, self.as_of - dt.timedelta(days=7))
            self._part = weekly_part(build_report(self.engine, self.context or self.plan_id, self.as_of, since=since))
        return self._part

    def record_sent(self, conn: Connection, recipient_key: str, now: dt.datetime, channel: str, receipt: str) -> None:
        """In the caller's transaction (the one that records the deliveries sent)."""
        from plan_tracker.reports.schedule import WEEKLY_EVENT

        record_event(conn, plan_id=self.plan_id, kind=WEEKLY_EVENT, actor="nightly", source="nightly", at=now,
                     payload={"week": self.week, "as_of": self.as_of.isoformat(), "recipient": recipient_key,
                              "state": "sent", "channel": channel, "receipt": receipt[:500], "with": "reminders"})
        self.owed.discard(recipient_key)


def deliver_with_weekly(engine: Engine, plan_id: str, *, now: dt.datetime, as_of: dt.date, settings: Any,
                        factory: Any = None, context: PlanContext | None = None) -> Any:
    """The delivery stage: reminders, with the week's report riding along to the managers."""
    from plan_tracker.inbox.forms import ReplyForms
    from plan_tracker.services.delivery import deliver

    return deliver(engine, plan_id, now=now, as_of=as_of, settings=settings, factory=factory, context=context,
                   weekly=WeeklyMail(engine, plan_id, as_of, context),
                   forms=ReplyForms(engine, settings))  # a unit contact's form, to answer by reply

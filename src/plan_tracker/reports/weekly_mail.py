"""The weekly report as part of a message: headline figures and the overdue list, carried by
the managers' (coordinator, leading group) message of the week.

On the week's report day each manager not yet sent the week's report gets a `weekly:<week>`
delivery row in the outbox (`raise_weekly`); the delivery run puts it in the manager's one
message with their reminders or 通报 digest (or alone), claimed, frozen, sent and recorded
like a reminder, honouring disabled channels and the delivery window. The `report.weekly`
event records the send in the same transaction as the delivery, so it goes once a week.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Engine

from plan_tracker.reports.labels import labels, long_date, num, pct, signed
from plan_tracker.reports.model import LIGHTS, WeeklyFigures
from plan_tracker.services.context import PlanContext
from plan_tracker.services.messages import Item, UnitWords, WeeklyPart, clean_note
from plan_tracker.services.plans import stored_plan

OVERDUE_LISTED = 20


def weekly_part(weekly: WeeklyFigures, *, limit: int = OVERDUE_LISTED) -> WeeklyPart:
    L, r = labels(weekly.locale), weekly.reporting
    figures = [(L["total"], str(weekly.lights.total))]
    figures += [(L["lights"][light], str(weekly.lights.counts[light])) for light in LIGHTS]
    figures += [(L["completion_rate"], pct(r.completion_rate)), (L["on_time_rate"], pct(r.on_time_rate)),
                (L["reporting_rate"], pct(r.reporting_rate)), (L["timeliness"], pct(r.timeliness)),
                (L["overdue_wd"], num(weekly.overdue_wd))]
    if weekly.change is not None and weekly.since is not None:
        figures.append((f"{L['change']}（{L['change_since'].format(day=weekly.since.isoformat())}）" if weekly.locale != "en"
                        else f"{L['change']} ({L['change_since'].format(day=weekly.since.isoformat())})",
                        " ".join(f"{L['lights'][light]} {signed(weekly.change[light])}" for light in ("red", "yellow"))))
    red = L["lights"]["red"]
    overdue = [
        Item(o.task_id, o.task_title, o.unit_name, o.period, o.due, "", 0, o.overdue_wd, None, unit_id=o.unit_id,
             wording=red, latest=None if o.status is None or o.last_report_on is None
             else UnitWords(o.status, o.progress, o.last_report_on, clean_note(o.note)))
        for o in weekly.overdue[:limit]
    ]
    left = weekly.overdue_total - len(overdue)
    title = L["weekly_subject"].format(title=weekly.plan_title, day=long_date(weekly.as_of, weekly.locale))
    return WeeklyPart(title=title, figures=figures, overdue_heading=L["overdue_list"], overdue=overdue,
                      more=L["more_items"].format(n=left) if left > 0 else None)


class WeeklyParts:
    """The week's report parts a delivery run needs (`services.delivery.TopicSource`), built
    once per night they speak for; `known`: parts already built (by the report built beside
    the night, `reports.ahead`), by the night they speak for."""

    def __init__(self, engine: Engine, plan_id: str, context: PlanContext | None = None,
                 known: Mapping[dt.date, WeeklyPart] | None = None) -> None:
        self.engine, self.plan_id, self.context = engine, plan_id, context
        self._parts: dict[dt.date, WeeklyPart] = dict(known or {})

    def weekly_part(self, raised_on: dt.date) -> WeeklyPart:
        if raised_on not in self._parts:
            from plan_tracker.reports.build import build_weekly

            with self.engine.connect() as conn:
                since = weekly_since(conn, self.plan_id, raised_on)
            source = self.context if self.context is not None and self.context.as_of == raised_on else self.plan_id
            figures = build_weekly(self.engine, source, raised_on, since=since, overdue_limit=OVERDUE_LISTED)
            self._parts[raised_on] = weekly_part(figures)
        return self._parts[raised_on]


def weekly_since(conn: Connection, plan_id: str, raised_on: dt.date) -> dt.date | None:
    """The week's report shows the change since the previous report: the last snapshot a
    week or more before the night it speaks for."""
    from plan_tracker.reports.build import snapshot_on_or_before

    return snapshot_on_or_before(conn, plan_id, raised_on - dt.timedelta(days=7))


def raise_weekly(engine: Engine, plan_id: str, as_of: dt.date, context: PlanContext | None = None) -> int:
    """On the week's report day (or a catch-up night of the same week, see
    `schedule.weekly_due`), one `weekly:<ISO week>` delivery row per manager not yet sent
    it this week. The rows go out with the managers' other rows of the run, as one message."""
    from plan_tracker.reports.schedule import _managers, _sent_keys, week_key, weekly_night
    from plan_tracker.services.topics import raise_topic

    with engine.connect() as conn:
        plan = context.plan if context is not None else stored_plan(conn, plan_id, as_of)
    if not weekly_night(engine, plan, as_of):
        return 0
    week = week_key(as_of)
    owed = [r.key for r in _managers(engine, plan_id) if r.key not in _sent_keys(engine, plan_id, week)]
    with engine.begin() as conn:
        return sum(raise_topic(conn, plan_id, key, f"weekly:{week}", as_of) for key in owed)


def deliver_with_weekly(engine: Engine, plan_id: str, *, now: dt.datetime, as_of: dt.date, settings: Any,
                        factory: Any = None, context: PlanContext | None = None, ready: Any = None,
                        known: Mapping[dt.date, WeeklyPart] | None = None) -> Any:
    """The delivery stage: raise the night's topic rows (the week's report on its day, the
    coordinator's decisions digest), then deliver everything due, one message per recipient:
    in this process, or split between several when the night has many messages
    (`reports.delivery_processes`; `ready`: the night's processes started ahead). `known`:
    the week's report parts the night has already built (`reports.ahead`), for every
    process of the run."""
    from plan_tracker.reports.delivery_processes import deliver_split, delivery_shares

    raise_night_topics(engine, plan_id, as_of, context)
    shares = delivery_shares(engine, plan_id, now, settings, factory)
    if len(shares) == 1:
        return _deliver(engine, plan_id, now=now, as_of=as_of, settings=settings, factory=factory, context=context,
                        known=known)
    return deliver_split(engine, plan_id, now=now, as_of=as_of, settings=settings, context=context, shares=shares,
                         ready=ready, known=dict(known or {}))


def raise_night_topics(engine: Engine, plan_id: str, as_of: dt.date, context: PlanContext | None = None) -> None:
    """The night's topic rows: the week's report on its day, the coordinator's decisions digest."""
    from plan_tracker.services.topics import raise_decisions

    with engine.connect() as conn:
        plan = context.plan if context is not None else stored_plan(conn, plan_id, as_of)
    raise_weekly(engine, plan_id, as_of, context)
    raise_decisions(engine, plan, as_of)


def deliver_share_here(engine: Engine, plan_id: str, *, now: dt.datetime, as_of: dt.date, settings: Any,
                       share: Any, context: PlanContext | None = None,
                       known: Mapping[dt.date, WeeklyPart] | None = None) -> Any:
    """One share of a split night, in this process; the reminders roll up once all are done."""
    return _deliver(engine, plan_id, now=now, as_of=as_of, settings=settings, context=context, share=share,
                    roll_up=False, known=known)


def _deliver(engine: Engine, plan_id: str, *, now: dt.datetime, as_of: dt.date, settings: Any,
             factory: Any = None, context: PlanContext | None = None, share: Any = None,
             roll_up: bool = True, known: Mapping[dt.date, WeeklyPart] | None = None) -> Any:
    """The delivery of the night's stage, for the whole run or one share (None: the whole run)."""
    from plan_tracker.inbox.forms import ReplyForms
    from plan_tracker.services.delivery import WHOLE_RUN, deliver

    return deliver(engine, plan_id, now=now, as_of=as_of, settings=settings, factory=factory, context=context,
                   topics=WeeklyParts(engine, plan_id, context, known),
                   forms=ReplyForms(engine, settings),  # a unit contact's form, to answer by reply
                   share=share or WHOLE_RUN, roll_up=roll_up)

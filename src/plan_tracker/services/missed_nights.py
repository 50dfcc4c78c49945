"""Missed nights: which nights a plan's nightly run has not completed, and catching them up.

The policy (README "Scheduling", RELIABILITY.md "Missed nights"): after the scheduler was
down, `plan-tracker nightly --catch-up` runs every night from the day after the plan's last
successful run through the target date, oldest first, each a whole run (collect, evaluate,
deliver, snapshot, report). Every calendar night, as the schedule (`0 2 * * *`) would
have: the store then looks exactly as if nothing had been missed — each step fired on the
night it fell due, daily figures without gaps, each week's report — and it matches what a
Prefect worker does with the late runs it finds on restart (it runs them in order).

A night whose run was killed has no successful run, so it counts as missed and is run again
(every stage is idempotent). A plan that never completed a run catches up from its start.
Running only the latest date instead is allowed (plain
`nightly`): then the DESIGN's missed-night rule applies — the highest due step fires, the
lower ones are recorded `skipped` — and nothing is lost either.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine, func, select

from plan_tracker.domain.errors import DomainError
from plan_tracker.store.dates import stored_date as _date
from plan_tracker.store.outbox_models import NightlyRun

RUNS = NightlyRun.__table__  # type: ignore[attr-defined]
MAX_CATCH_UP = 62  # nights; a longer outage is caught up with an explicit --since


class TooManyNights(DomainError):
    """More nights to catch up than the cap allows without an explicit start."""


@dataclass(frozen=True)
class LastRun:
    as_of: dt.date
    finished_at: dt.datetime | None


def last_successful_run(engine: Engine, plan_id: str) -> LastRun | None:
    """The plan's successful run with the latest as-of date (None: it never completed one)."""
    with engine.connect() as conn:
        row = conn.execute(
            select(RUNS.c.as_of, func.max(RUNS.c.finished_at))
            .where(RUNS.c.plan_id == plan_id, RUNS.c.ok)
            .group_by(RUNS.c.as_of).order_by(RUNS.c.as_of.desc()).limit(1)
        ).first()
    return None if row is None else LastRun(_date(row[0]), row[1])


def nights_to_run(engine: Engine, plan_id: str, target: dt.date, *, since: dt.date | None = None,
                  limit: int = MAX_CATCH_UP) -> list[dt.date]:
    """The nights `--catch-up` runs, oldest first, ending with `target`.

    From `since` if given, else from the day after the last successful run; a plan that
    never completed a run starts at its first night, the plan's start. Empty when `target`
    itself already ran successfully and nothing before it is missing. More than `limit`
    nights is refused unless `since` is given: naming the first night is the confirmation.
    """
    explicit = since is not None
    if since is None:
        last = last_successful_run(engine, plan_id)
        since = first_night(engine, plan_id) if last is None else last.as_of + dt.timedelta(days=1)
    nights = [since + dt.timedelta(days=n) for n in range((target - since).days + 1)]
    if len(nights) > limit and not explicit:
        raise TooManyNights("catch_up.too_many", plan=plan_id, count=len(nights), since=since, target=target,
                            limit=limit)
    return nights


def first_night(engine: Engine, plan_id: str) -> dt.date:
    """A plan's first night: the day it starts (nothing is due, nothing fires before it)."""
    from plan_tracker.services.plans import stored_plan

    with engine.connect() as conn:
        return stored_plan(conn, plan_id).plan.start


@dataclass(frozen=True)
class CatchUp:
    """What `--catch-up` is about to do for one plan."""

    nights: list[dt.date]
    follow_up_ended: dt.date | None  # the plan's last day of follow-up, if the target is past it


def plan_catch_up(engine: Engine, plan_id: str, target: dt.date, *, since: dt.date | None = None) -> CatchUp:
    """The nights to run through `target`, stopping at the plan's last day of follow-up
    (a night after it changes nothing)."""
    from plan_tracker.services.follow_up import follow_up_over

    ended = follow_up_over(engine, plan_id, target)
    return CatchUp(nights_to_run(engine, plan_id, ended or target, since=since), ended)


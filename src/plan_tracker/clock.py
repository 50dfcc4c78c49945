"""The only place that reads the wall clock: edges call it once and pass dates inward.

`PLAN_TRACKER_NOW` (an ISO date-time; a time without a zone is UTC) replaces the wall
clock for a whole process: how tests, rehearsals and replays run a command "in December
2026" without touching the system clock. Unset in production.
"""

from __future__ import annotations

import datetime as dt
import os
from zoneinfo import ZoneInfo

from plan_tracker.domain.errors import DomainError

NOW_VARIABLE = "PLAN_TRACKER_NOW"


class BadClock(DomainError):
    """PLAN_TRACKER_NOW is set but is not a date-time."""


def _given() -> dt.datetime | None:
    value = os.environ.get(NOW_VARIABLE)
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise BadClock("clock.bad_now", variable=NOW_VARIABLE, value=value) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def today_in(timezone: str) -> dt.date:
    """Today's date in a plan's time zone (e.g. 00:30 in Shanghai is still 'yesterday' in UTC).

    The web server asks on every request: `zoneinfo` (cached zones, ~1 µs) rather than
    `pendulum.now` (~40 µs)."""
    given = _given()
    if given is not None:
        return given.astimezone(ZoneInfo(timezone)).date()
    return dt.datetime.now(ZoneInfo(timezone)).date()


def now_utc() -> dt.datetime:
    given = _given()
    if given is not None:
        return given.astimezone(dt.UTC)
    return dt.datetime.now(dt.UTC)

"""Lights (亮灯): the state of an obligation on an as-of date. The reference for the SQL path."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from plan_tracker.domain.calendar import WorkCalendar


class Light(StrEnum):
    pending = "pending"
    green = "green"
    yellow = "yellow"
    red = "red"
    done = "done"
    done_late = "done_late"


@dataclass(frozen=True)
class LightReading:
    light: Light
    overdue_wd: int


def light_on(
    calendar: WorkCalendar,
    *,
    as_of: dt.date,
    period_start: dt.date,
    due: dt.date,
    warn_days: int,
    done_on: dt.date | None,
) -> LightReading:
    """The light of one obligation on `as_of`; `done_on` is its completion date as of then.

    `due` is always a working day (one-off dues roll forward, recurring ones are shifted),
    so `due - warn_days wd` is well defined. On a non-working day right after the due date
    the light is red with 0 working days overdue: late, but no working day has been lost yet.
    """
    if done_on is not None and done_on <= as_of:
        return LightReading(Light.done if done_on <= due else Light.done_late, 0)
    if as_of < period_start:
        return LightReading(Light.pending, 0)
    if as_of > due:
        return LightReading(Light.red, calendar.working_days_between(due, as_of))
    if as_of >= calendar.shift(due, -warn_days):
        return LightReading(Light.yellow, 0)
    return LightReading(Light.green, 0)

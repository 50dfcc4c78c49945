"""Status reports (反馈): the statuses a unit can report and the rules a report must follow."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from plan_tracker.domain.calendar import WorkCalendar
from plan_tracker.domain.errors import DomainError
from plan_tracker.domain.vocabulary import STATUS_WORDS


class Status(StrEnum):
    not_started = "not_started"
    in_progress = "in_progress"
    done = "done"
    blocked = "blocked"


# The Chinese words units may write instead of the keys (from the one wording catalogue).
STATUS_LABELS_ZH = {Status(key): word for key, word in STATUS_WORDS["zh"].items()}


class BadReport(DomainError):
    """A status report that breaks a rule (unknown status, bad progress, impossible date)."""


def parse_status(value: str) -> Status:
    """Accept the English key or the Chinese label."""
    for status, label in STATUS_LABELS_ZH.items():
        if value.strip() in (status.value, label):
            return status
    choices = tuple(f"{s.value} ({label})" for s, label in STATUS_LABELS_ZH.items())
    raise BadReport("report.unknown_status", value=value, choices=choices)


def check_report(
    *, status: Status, progress: int | None, reported_on: dt.date, today: dt.date,
    period_start: dt.date,
) -> int | None:
    """Validate a report against its obligation; returns the progress to record."""
    if progress is not None and not 0 <= progress <= 100:
        raise BadReport("report.progress_range", progress=progress)
    if reported_on > today:
        raise BadReport("report.future", reported_on=reported_on, today=today)
    if reported_on < period_start:
        raise BadReport("report.before_period", reported_on=reported_on, start=period_start)
    if status is Status.done:
        return 100 if progress is None else progress
    return progress


class BackdatedReport(BadReport):
    """A unit's report claims a date further back than the plan allows (`backdate_wd`)."""


def check_claimed_date(calendar: WorkCalendar, *, reported_on: dt.date, received_on: dt.date, backdate_wd: int) -> None:
    """A unit may date a report at most `backdate_wd` working days before the day it sends
    it; older paper reports are the coordinator's to record (`submit --on`)."""
    earliest = calendar.shift(received_on, -backdate_wd) if backdate_wd else received_on
    if reported_on < earliest:
        raise BackdatedReport("report.backdated", reported_on=reported_on, days=backdate_wd,
                              received_on=received_on, earliest=earliest)


def state_as_of(
    reports: list[tuple[dt.date, int, str, int | None]], as_of: dt.date
) -> tuple[str | None, int | None, dt.date | None]:
    """(status, progress, done_on) of an obligation on `as_of`, from (date, arrival, status,
    progress) reports. The latest report dated on or before `as_of` decides the status; the
    completion date is the earliest `done` report since the last report that was not done
    (a send-back or correction reopens the item)."""
    visible = sorted(r for r in reports if r[0] <= as_of)
    if not visible:
        return None, None, None
    date_, _, status, progress = visible[-1]
    if status != Status.done:
        return status, progress, None
    done_on = date_
    for rep in reversed(visible):
        if rep[2] != Status.done:
            break
        done_on = rep[0]
    return status, progress, done_on

"""Escalation: which ladder steps fire for an obligation on an as-of date (reference rules).

A step fires on D for an obligation not done by D (and whose period has started) once D
reaches the due date shifted by the step's `after` working days. Each (obligation, step,
occurrence) fires at most once. A step with `repeat_every: N` has further occurrences every
N working days; only the latest due occurrence of a step is a candidate (missed repeats are
not replayed). When several candidates are due on one night, only the highest fires (the
highest level; for one step, its latest repeat) and the others are recorded as skipped.

A blocked item (its latest report on D says `blocked`) is paused: only the ladder's first
step (`remind`) may still fire, until the coordinator resumes escalation on or after the
date of that blocked report (or extends or cancels the item, which moves or ends it). A
resume covers the blocked report it answers; a later `blocked` report pauses again. Once
resumed, the ladder continues where it stands: the highest step due fires, the lower are
recorded as skipped (as after a missed night).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from plan_tracker.domain.calendar import WorkCalendar
from plan_tracker.domain.plan import Step


class Outcome(StrEnum):
    fire = "fire"
    skip = "skip"


@dataclass(frozen=True)
class Firing:
    level: str
    seq: int  # 0: the step's first occurrence; m: its m-th repeat
    scheduled_on: dt.date
    outcome: Outcome


def step_threshold(calendar: WorkCalendar, due: dt.date, step: Step) -> dt.date:
    return calendar.shift(due, step.after)


def occurrences_due(
    calendar: WorkCalendar, due: dt.date, step: Step, as_of: dt.date
) -> list[tuple[int, dt.date]]:
    """The candidate occurrences of a step on `as_of`: its first, and its latest repeat."""
    first = step_threshold(calendar, due, step)
    if as_of < first:
        return []
    found = [(0, first)]
    if step.repeat_every:
        elapsed = calendar.working_days_between(first, as_of)
        latest = elapsed // step.repeat_every
        if latest >= 1:
            found.append((latest, calendar.shift(first, latest * step.repeat_every)))
    return found


def firings_on(
    calendar: WorkCalendar,
    ladder: list[Step],
    *,
    as_of: dt.date,
    period_start: dt.date,
    due: dt.date,
    done_on: dt.date | None,
    already: set[tuple[str, int]],
    escalation_from: dt.date | None = None,
    paused: bool = False,
) -> list[Firing]:
    """What to record for one obligation on `as_of`, given the (level, seq) pairs already recorded.

    `escalation_from` (a plan first applied after its start): a step that fell due before it
    is recorded skipped, never sent — no 通报 for an item nobody was ever reminded of.
    `paused` (see `escalation_paused`): a blocked item; every step but the first waits."""
    if (done_on is not None and done_on <= as_of) or as_of < period_start:
        return []
    order = {step.level: index for index, step in enumerate(sorted(ladder, key=lambda s: s.after))}
    candidates = [
        (order[step.level], seq, scheduled, step.level)
        for step in ladder
        if not paused or order[step.level] == 0
        for seq, scheduled in occurrences_due(calendar, due, step, as_of)
        if (step.level, seq) not in already
    ]
    if not candidates:
        return []
    # The highest level wins; among one step's occurrences, the latest repeat.
    winner: tuple[int, int, dt.date, str] | None = max(candidates)
    if escalation_from is not None and winner is not None and winner[2] < escalation_from:
        winner = None  # every step due tonight fell due before escalation began: all are skipped
    return [
        Firing(level, seq, scheduled, Outcome.fire if candidate == winner else Outcome.skip)
        for candidate in sorted(candidates)
        for _, seq, scheduled, level in [candidate]
    ]


def escalation_paused(reports: list[tuple[dt.date, int, str, int | None]], resumed: list[dt.date],
                      as_of: dt.date) -> bool:
    """Whether a blocked report pauses the item's escalation on `as_of`: the latest report
    dated on or before `as_of` (ties by arrival) says blocked, and no coordinator resume is
    dated between that report's date and `as_of` (both included)."""
    visible = sorted(r for r in reports if r[0] <= as_of)
    if not visible or visible[-1][2] != "blocked":
        return False
    since = visible[-1][0]
    return not any(since <= day <= as_of for day in resumed)

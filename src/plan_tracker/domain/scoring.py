"""考核评分 and the rates managers read: pure rules, no I/O (the reference for reports).

Definitions (docs/REPORTS.md repeats them for coordinators):

- **expected**: obligations whose (effective) due date is on or before the as-of date —
  DHIS2's "expected reports".
- **received**: expected obligations with at least one status report dated on or before the
  as-of date. **reporting rate** = received / expected.
- **on time** (reporting timeliness): expected obligations whose *first* report is dated on
  or before the due date — a unit that reports on time but finishes late still reported on
  time; finishing is measured by the lights. **timeliness** = on time / expected.
- **completion rate** = expected obligations done by the as-of date (`done` or `done_late`)
  / expected; **on-time rate** = expected obligations with light `done` / expected.
- **score**: a unit starts at `base` and loses `per_overdue_item` for each item still open
  after its *original* due date, `per_done_late_item` for each item finished after its
  original due date (an approved extension moves the light, not the score), and
  `per_level[level]` for each reminder of that level it received (skipped steps are not
  received). A level whose readers all take a weekly digest (the leading group's 通报 by
  default) counts an item once per digest period (`once_per_period`): its repeats inside one
  digest reached the reader as one listing. The score never falls below `floor`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field

from plan_tracker.domain.plan import Scoring


def rate(numerator: int, denominator: int) -> float | None:
    """A share in [0, 1]; None when nothing was expected (shown as “—”, never as 0 % or 100 %)."""
    return None if denominator <= 0 else numerator / denominator


@dataclass(frozen=True)
class ScoreCard:
    score: float
    deductions: dict[str, float] = field(default_factory=dict)  # 'overdue', 'done_late', or a level


def once_per_period(fired: Iterable[tuple[Hashable, dt.date]], period_of: Callable[[dt.date], str]) -> int:
    """Count (item, day) firings once per item and period: the times an item was listed."""
    return len({(item, period_of(day)) for item, day in fired})


def score_unit(rules: Scoring, *, overdue_items: int, done_late_items: int,
               reminders: Mapping[str, int]) -> ScoreCard:
    """The unit's score from its counts (see the module docstring for what each count means)."""
    deductions: dict[str, float] = {}
    if overdue_items and rules.per_overdue_item:
        deductions["overdue"] = overdue_items * rules.per_overdue_item
    if done_late_items and rules.per_done_late_item:
        deductions["done_late"] = done_late_items * rules.per_done_late_item
    for level, count in sorted(reminders.items()):
        points = rules.per_level.get(level, 0)
        if count and points:
            deductions[level] = count * points
    score = max(rules.floor, rules.base - sum(deductions.values()))
    return ScoreCard(round(score, 2), {k: round(v, 2) for k, v in deductions.items()})

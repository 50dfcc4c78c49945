"""Indicators against targets: gap, whether a value meets the target, and the trend's sense.

`gap` is the shortfall: how far a value is from the target in the indicator's direction
(positive: short of the target; zero or negative: met). For `at_least` it is target − value,
for `at_most` value − target. The trend compares the last two periods that have values and
says whether the indicator got better, worse or held, in its own direction.
"""

from __future__ import annotations

from enum import StrEnum

from plan_tracker.domain.plan import Direction


class Trend(StrEnum):
    better = "better"
    worse = "worse"
    steady = "steady"
    unknown = "unknown"  # fewer than two periods with values


def gap(direction: Direction, target: float | None, value: float | None) -> float | None:
    if target is None or value is None:
        return None
    return target - value if direction is Direction.at_least else value - target


def meets(direction: Direction, target: float | None, value: float | None) -> bool | None:
    shortfall = gap(direction, target, value)
    return None if shortfall is None else shortfall <= 0


def trend(direction: Direction, values: list[float | None], *, tolerance: float = 1e-9) -> Trend:
    """The sense of the change between the last two known values, oldest first."""
    known = [v for v in values if v is not None]
    if len(known) < 2:
        return Trend.unknown
    change = known[-1] - known[-2]
    if abs(change) <= tolerance:
        return Trend.steady
    rising_is_good = direction is Direction.at_least
    return Trend.better if (change > 0) == rising_is_good else Trend.worse

"""The rolling one-minute window shared by the robot channels."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from plan_tracker.channels.ratelimit import RollingWindowLimiter

if TYPE_CHECKING:
    from tests.channels.conftest import FakeClock


def test_the_window_rolls_rather_than_resetting_each_minute(clock: FakeClock) -> None:
    limiter = RollingWindowLimiter(3, 60, clock=clock.time, sleeper=clock.sleep)
    start = clock.now
    for offset in (0, 30, 50):  # three sends spread over 50 s
        clock.now = start + offset
        limiter.acquire()
    clock.now = start + 55
    limiter.acquire()  # the 4th must wait for the 1st (t=0) to leave: until t=60
    assert clock.sleeps == [pytest.approx(5)]
    limiter.acquire()  # the 5th waits for t=30 to leave: until t=90
    assert clock.sleeps == [pytest.approx(5), pytest.approx(30)]


def test_sends_a_minute_apart_never_wait(clock: FakeClock) -> None:
    limiter = RollingWindowLimiter(1, 60, clock=clock.time, sleeper=clock.sleep)
    for _ in range(5):
        limiter.acquire()
        clock.now += 60
    assert clock.sleeps == []


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError):
        RollingWindowLimiter(0)

"""Lights (亮灯) and the escalation ladder: the pure reference rules the SQL path mirrors.

The running example is a measure due Friday 2018-03-16 in an ordinary March (no holidays
nearby), warned 3 working days ahead: yellow from Tuesday 03-13.
"""

from __future__ import annotations

import datetime as dt

import pytest

from plan_tracker.domain.calendar import WorkCalendar
from plan_tracker.domain.escalation import Firing, Outcome, firings_on
from plan_tracker.domain.lights import Light, LightReading, light_on
from plan_tracker.domain.plan import Step

D = dt.date
CN = WorkCalendar()
DUE = D(2018, 3, 16)  # a Friday
START = D(2018, 3, 1)


# -- lights -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("as_of", "done_on", "light", "overdue_wd", "why"),
    [
        (D(2018, 2, 28), None, Light.pending, 0, "the period has not started"),
        (D(2018, 3, 1), None, Light.green, 0, "the period's first day"),
        (D(2018, 3, 12), None, Light.green, 0, "the day before the warning window"),
        (D(2018, 3, 13), None, Light.yellow, 0, "due - 3 wd: the warning window opens"),
        (D(2018, 3, 16), None, Light.yellow, 0, "the due date itself is still on time"),
        # Documented choice: late, but no working day has been lost yet.
        (D(2018, 3, 17), None, Light.red, 0, "Saturday right after a Friday due"),
        (D(2018, 3, 18), None, Light.red, 0, "Sunday: still no working day lost"),
        (D(2018, 3, 19), None, Light.red, 1, "Monday: one working day overdue"),
        (D(2018, 3, 30), None, Light.red, 10, "two working weeks overdue"),
        (D(2018, 3, 20), D(2018, 3, 10), Light.done, 0, "done early"),
        (D(2018, 3, 16), D(2018, 3, 16), Light.done, 0, "done on the due date"),
        (D(2018, 3, 20), D(2018, 3, 17), Light.done_late, 0, "done on the Saturday after: late"),
        (D(2018, 3, 19), D(2018, 3, 19), Light.done_late, 0, "done late; overdue_wd is only for red"),
        (D(2018, 3, 20), D(2018, 3, 25), Light.red, 2, "a report dated after D does not count on D"),
        (D(2018, 3, 14), D(2018, 3, 25), Light.yellow, 0, "nor before the due date"),
    ],
)
def test_light_on_an_as_of_date(
    as_of: dt.date, done_on: dt.date | None, light: Light, overdue_wd: int, why: str
) -> None:
    reading = light_on(CN, as_of=as_of, period_start=START, due=DUE, warn_days=3, done_on=done_on)
    assert reading == LightReading(light, overdue_wd), why


@pytest.mark.parametrize(
    ("as_of", "light", "overdue_wd", "why"),
    [
        # Due Monday 10-08 after Golden Week; due - 3 wd is Friday 09-28 (the worked weekend
        # 09-29/30 counts, Golden Week does not).
        (D(2018, 9, 27), Light.green, 0, "before the window"),
        (D(2018, 9, 28), Light.yellow, 0, "window opens three working days back"),
        (D(2018, 10, 3), Light.yellow, 0, "mid Golden Week: within the window"),
        (D(2018, 10, 9), Light.red, 1, "the first working day after due"),
    ],
)
def test_warning_window_counts_working_days_across_golden_week(
    as_of: dt.date, light: Light, overdue_wd: int, why: str
) -> None:
    reading = light_on(CN, as_of=as_of, period_start=START, due=D(2018, 10, 8), warn_days=3,
                       done_on=None)
    assert reading == LightReading(light, overdue_wd), why


@pytest.mark.parametrize(
    ("as_of", "overdue_wd", "why"),
    [
        (D(2018, 12, 29), 1, "the worked Saturday (调休) counts"),
        (D(2018, 12, 31), 1, "the bridged Monday does not"),
        (D(2019, 1, 1), 1, "nor New Year's Day"),
        (D(2019, 1, 2), 2, "the first working day of 2019 does"),
    ],
)
def test_overdue_working_days_cross_the_year_end(as_of: dt.date, overdue_wd: int, why: str) -> None:
    reading = light_on(CN, as_of=as_of, period_start=START, due=D(2018, 12, 28), warn_days=3,
                       done_on=None)
    assert reading == LightReading(Light.red, overdue_wd), why


@pytest.mark.parametrize(
    ("warn_days", "as_of", "light"),
    [
        (0, D(2018, 3, 15), Light.green),  # no warning window at all...
        (0, D(2018, 3, 16), Light.yellow),  # ...except the due date itself
        (1, D(2018, 3, 15), Light.yellow),
        (1, D(2018, 3, 14), Light.green),
        (10, D(2018, 3, 2), Light.yellow),  # 10 wd before Friday 03-16 is Friday 03-02
        (10, D(2018, 3, 1), Light.green),
    ],
)
def test_warn_days_boundary(warn_days: int, as_of: dt.date, light: Light) -> None:
    reading = light_on(CN, as_of=as_of, period_start=START, due=DUE, warn_days=warn_days, done_on=None)
    assert reading.light is light


# -- escalation ---------------------------------------------------------------------------
LADDER = [
    Step(after=-3, level="remind", notify=["contact"]),
    Step(after=1, level="urge", notify=["contact", "head"]),
    Step(after=5, level="supervise", notify=["head", "coordinator"]),
    Step(after=10, level="accountability", notify=["leading_group"]),
]
# For DUE (Fri 03-16): remind 03-13, urge Mon 03-19, supervise Fri 03-23, accountability Fri 03-30.


def fired(as_of: dt.date, already: set[tuple[str, int]] | None = None, *,
          ladder: list[Step] | None = None, done_on: dt.date | None = None,
          period_start: dt.date = START, due: dt.date = DUE) -> list[Firing]:
    return firings_on(CN, LADDER if ladder is None else ladder, as_of=as_of,
                      period_start=period_start, due=due, done_on=done_on,
                      already=set(already or ()))


def test_nothing_fires_before_the_first_threshold() -> None:
    assert fired(D(2018, 3, 12)) == []


def test_remind_fires_three_working_days_before_due() -> None:
    assert fired(D(2018, 3, 13)) == [Firing("remind", 0, D(2018, 3, 13), Outcome.fire)]


def test_a_step_waits_for_its_working_day_threshold() -> None:
    # +1 wd after a Friday due is Monday: the weekend in between raises nothing new.
    assert fired(D(2018, 3, 17), {("remind", 0)}) == []
    assert fired(D(2018, 3, 19), {("remind", 0)}) == [Firing("urge", 0, D(2018, 3, 19), Outcome.fire)]


@pytest.mark.parametrize(
    "as_of", [D(2018, 3, 14), D(2018, 3, 19), D(2018, 3, 23), D(2018, 3, 30), D(2018, 6, 29)]
)
def test_already_fired_steps_never_fire_again(as_of: dt.date) -> None:
    everything = {(s.level, 0) for s in LADDER}
    assert fired(as_of, everything) == []


def test_a_missed_week_fires_only_the_highest_step_and_skips_the_lower() -> None:
    # Nothing ran from 03-12 to 03-30: all four steps are due at once; raising four messages
    # about one item in one night would be noise, so only the top one fires.
    assert fired(D(2018, 3, 30)) == [
        Firing("remind", 0, D(2018, 3, 13), Outcome.skip),
        Firing("urge", 0, D(2018, 3, 19), Outcome.skip),
        Firing("supervise", 0, D(2018, 3, 23), Outcome.skip),
        Firing("accountability", 0, D(2018, 3, 30), Outcome.fire),
    ]


def test_a_missed_night_skips_only_the_steps_not_yet_recorded() -> None:
    assert fired(D(2018, 3, 23), {("remind", 0)}) == [
        Firing("urge", 0, D(2018, 3, 19), Outcome.skip),
        Firing("supervise", 0, D(2018, 3, 23), Outcome.fire),
    ]


def test_skipped_steps_are_recorded_and_do_not_fire_later() -> None:
    recorded = {(f.level, f.seq) for f in fired(D(2018, 3, 23))}
    assert fired(D(2018, 3, 26), recorded) == []
    assert [f.level for f in fired(D(2018, 3, 30), recorded)] == ["accountability"]


def test_a_done_report_stops_further_escalation() -> None:
    assert fired(D(2018, 3, 30), {("remind", 0)}, done_on=D(2018, 3, 19)) == []
    # A done report dated after the as-of date does not count yet.
    assert [f.level for f in fired(D(2018, 3, 19), {("remind", 0)}, done_on=D(2018, 3, 20))] == ["urge"]


def test_nothing_fires_before_the_period_starts() -> None:
    # A one-off due three days into the plan: its -3 wd reminder would fall before the plan
    # (its period) starts, and a unit cannot be reminded of a period that has not begun.
    assert fired(D(2018, 3, 13), period_start=D(2018, 3, 14)) == []
    assert [f.level for f in fired(D(2018, 3, 14), period_start=D(2018, 3, 14))] == ["remind"]


def test_remind_before_golden_week_fires_on_the_friday_before() -> None:
    # A one-off due 10-01 is due 10-08; its -3 wd reminder day is 09-28.
    assert fired(D(2018, 9, 28), due=D(2018, 10, 8)) == [
        Firing("remind", 0, D(2018, 9, 28), Outcome.fire)
    ]
    # During the holiday nothing new is due (urge is +1 wd after 10-08 = 10-09).
    assert fired(D(2018, 10, 5), {("remind", 0)}, due=D(2018, 10, 8)) == []


REPEATING = [
    Step(after=-3, level="remind", notify=["contact"]),
    Step(after=1, level="urge", notify=["contact", "head"], repeat_every=2),
]
# urge for DUE: 03-19 (seq 0), then every 2 wd: 03-21 (1), 03-23 (2), 03-27 (3), 03-29 (4).


@pytest.mark.parametrize(
    ("as_of", "already", "expected", "why"),
    [
        (D(2018, 3, 19), {("remind", 0)}, [("urge", 0, D(2018, 3, 19))], "first occurrence"),
        (D(2018, 3, 20), {("remind", 0), ("urge", 0)}, [], "one wd later: not yet"),
        (D(2018, 3, 21), {("remind", 0), ("urge", 0)}, [("urge", 1, D(2018, 3, 21))], "2 wd later: repeat 1"),
        (D(2018, 3, 22), {("remind", 0), ("urge", 0), ("urge", 1)}, [], "repeat 1 already sent"),
        (D(2018, 3, 25), {("remind", 0), ("urge", 0), ("urge", 1), ("urge", 2)}, [],
         "Sunday after repeat 2: the next is due Tuesday"),
        # Missed nights do not replay every lost repeat: only the latest one is raised.
        (D(2018, 3, 27), {("remind", 0), ("urge", 0)}, [("urge", 3, D(2018, 3, 27))], "missed repeats"),
    ],
)
def test_repeat_every_raises_again_every_n_working_days(
    as_of: dt.date, already: set[tuple[str, int]], expected: list[tuple[str, int, dt.date]], why: str
) -> None:
    result = fired(as_of, already, ladder=REPEATING)
    assert [(f.level, f.seq, f.scheduled_on) for f in result if f.outcome is Outcome.fire] == expected, why
    assert all(f.outcome is Outcome.fire for f in result), why


def test_repeats_stop_once_done() -> None:
    assert fired(D(2018, 3, 27), {("remind", 0), ("urge", 0)}, ladder=REPEATING,
                 done_on=D(2018, 3, 22)) == []


def test_a_lower_steps_repeat_never_outranks_a_higher_step_due_the_same_night() -> None:
    # remind repeats daily; urge is due Monday 03-19. The run of 03-19 was missed, so on
    # Tuesday both urge (scheduled Monday) and remind's latest repeat (scheduled Tuesday)
    # are candidates. The higher level must fire: were remind to win, urge would be
    # recorded as skipped and, firing at most once ever, never reach the unit's head.
    ladder = [Step(after=-3, level="remind", notify=["contact"], repeat_every=1),
              Step(after=1, level="urge", notify=["contact", "head"])]
    result = fired(D(2018, 3, 20), {("remind", 0)}, ladder=ladder)
    assert [(f.level, f.outcome) for f in result if f.outcome is Outcome.fire] == [("urge", Outcome.fire)]
    assert ("remind", 5, D(2018, 3, 20), Outcome.skip) in [(f.level, f.seq, f.scheduled_on, f.outcome) for f in result]

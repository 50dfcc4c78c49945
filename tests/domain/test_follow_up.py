"""How long a plan is followed up, and how far its calendar table reaches."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from plan_tracker.domain.calendar import WorkCalendar
from plan_tracker.domain.follow_up import follow_up_until
from plan_tracker.domain.plan import CalendarSpec, PlanHeader
from plan_tracker.store.calendar_table import YEARS_AFTER, table_range

D = dt.date
HEADER = {"id": "p-2018", "title": "P", "coordinator": "office", "start": "2018-01-01", "end": "2018-12-31"}


@pytest.mark.parametrize(("explicit", "last_due", "expected"), [
    (None, D(2019, 1, 8), D(2019, 3, 9)),   # a Q4 item due in January: 60 days after it
    (None, D(2018, 6, 29), D(2019, 3, 1)),  # all due before the end: 60 days after the end
    (None, None, D(2019, 3, 1)),            # no obligations at all
    (D(2020, 6, 30), D(2019, 1, 8), D(2020, 6, 30)),  # the plan's own day wins
])
def test_follow_up_runs_sixty_days_past_the_last_due_date_unless_the_plan_says(
    explicit: dt.date | None, last_due: dt.date | None, expected: dt.date
) -> None:
    assert follow_up_until(explicit, last_due, D(2018, 12, 31)) == expected


def test_a_follow_up_day_before_the_plan_ends_is_rejected_at_its_key() -> None:
    with pytest.raises(ValidationError, match="follow_up_until 2018-11-30 早于计划结束日"):
        PlanHeader.model_validate({**HEADER, "follow_up_until": "2018-11-30"})


def test_the_calendar_table_reaches_the_last_year_chinesecalendar_publishes() -> None:
    # chinesecalendar 1.11 publishes through 2026 and refuses 2027: a 2018 plan asked about
    # in December 2026 still counts working days.
    first, last = table_range(WorkCalendar(CalendarSpec()), D(2018, 1, 1), D(2018, 12, 31))
    assert first == D(2017, 10, 1) and last == D(2026, 12, 31)


def test_the_calendar_table_takes_the_plans_own_years_and_stops_after_a_horizon() -> None:
    own = WorkCalendar(CalendarSpec(base="CN", years=[2027, 2028]))
    assert table_range(own, D(2026, 1, 1), D(2026, 12, 31))[1] == D(2028, 12, 31)
    weekends = WorkCalendar(CalendarSpec(base="weekends"))  # covers every year: a horizon, not forever
    assert table_range(weekends, D(2018, 1, 1), D(2018, 12, 31))[1] == D(2018 + YEARS_AFTER, 12, 31)

"""How long a plan is followed up after it ends.

Items of a plan fall due after its last day (a Q4 task due five working days after the
quarter is due in January), and late items stay red until someone reports them done; so
the nightly follow-up goes on after `plan.end`, until `plan.follow_up_until` — by default
60 days after the last due date. After that day the nightly run changes nothing and the
doctor expects no runs; status, reports and notices still answer for any covered date.
"""

from __future__ import annotations

import datetime as dt

FOLLOW_UP_DAYS = 60


def follow_up_until(explicit: dt.date | None, last_due: dt.date | None, plan_end: dt.date) -> dt.date:
    """The last day of follow-up: the plan's own, else 60 days after the last due date (the
    plan's end when it has no obligations)."""
    if explicit is not None:
        return explicit
    return max(last_due or plan_end, plan_end) + dt.timedelta(days=FOLLOW_UP_DAYS)

"""Keeping a stored plan's calendar table as long as its calendar source allows.

`plan apply` builds the table from a quarter before the plan to the last year the source
publishes (store/calendar_table.table_range). A store applied by an older release, or a
calendar source upgraded since (a new year's schedule is published each November), has a
shorter table; the first command that asks about the plan extends it. Ordinals of days
already in the table do not change (the table grows at its end only).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, text

from plan_tracker.domain.calendar import WorkCalendar
from plan_tracker.services.plans import stored_plan
from plan_tracker.store import calendar_table
from plan_tracker.store.locks import begin_write, lock_key


def extend_calendar(engine: Engine, plan_id: str) -> bool:
    """Extend the plan's calendar rows to today's `table_range`; True if rows were written.
    One small query when nothing is missing."""
    with engine.connect() as conn:
        header = stored_plan(conn, plan_id).plan
        key = calendar_table.calendar_key(header.calendar)
        have = calendar_table.covered(conn, key)
    calendar = WorkCalendar(header.calendar)
    first, last = calendar_table.table_range(calendar, header.start, header.end)
    if _holds(have, first, last):
        return False
    with engine.begin() as conn:
        begin_write(conn)  # SQLite: one writer at a time
        if conn.dialect.name == "postgresql":  # two commands at once extend it once
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key(f"plan-tracker:calendar:{key}")})
        if _holds(calendar_table.covered(conn, key), first, last):
            return False
        calendar_table.ensure_calendar(conn, calendar, key, first, last)
    return True


def _holds(have: tuple[dt.date, dt.date] | None, first: dt.date, last: dt.date) -> bool:
    return have is not None and have[0] <= first and have[1] >= last

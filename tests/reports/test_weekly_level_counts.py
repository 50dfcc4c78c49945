"""The report counts a level read only by weekly audiences (the leading group's 通报) once
per item and digest period, in SQL over the store, on both backends: held equal to the
domain's rule (`scoring.once_per_period`) applied to every firing read back."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path

from sqlalchemy import Engine, select
from tests.nightly.test_cadence_year import PLAN

from plan_tracker.domain.cadence import digest_period
from plan_tracker.domain.calendar import WorkCalendar
from plan_tracker.domain.scoring import once_per_period
from plan_tracker.reports import build_report
from plan_tracker.services.nightly import evaluate
from plan_tracker.services.plans import apply_plan
from plan_tracker.store.db import migrate
from plan_tracker.store.models import Obligation
from plan_tracker.store.outbox_models import Reminder

FIRST, LAST = dt.date(2018, 2, 1), dt.date(2018, 4, 20)  # the Spring Festival's 调休 inside


def test_repeats_of_a_weekly_level_count_once_per_digest_period(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "plan.yaml").write_text(PLAN, encoding="utf-8")
    migrate(engine)
    apply_plan(engine, tmp_path / "plan.yaml")
    calendar = WorkCalendar()
    day = FIRST
    while day <= LAST:
        if calendar.is_working_day(day):
            evaluate(engine, "silent-2018", day, now=dt.datetime.combine(day, dt.time(1), tzinfo=dt.UTC))
        day += dt.timedelta(days=1)

    r, o = Reminder.__table__, Obligation.__table__  # type: ignore[attr-defined]
    fired: dict[str, list[tuple[int, dt.date]]] = defaultdict(list)
    with engine.connect() as conn:
        for unit, obligation, on in conn.execute(
                select(o.c.unit_id, r.c.obligation_id, r.c.fired_on).join(r, r.c.obligation_id == o.c.id)
                .where(r.c.level == "accountability", r.c.state != "skipped", r.c.fired_on <= LAST)):
            fired[unit].append((obligation, on))
    expected = {unit: once_per_period(events, lambda d: digest_period(calendar, d)) for unit, events in fired.items()}
    assert sum(len(events) for events in fired.values()) > sum(expected.values())  # repeats within a week happened

    report = build_report(engine, "silent-2018", LAST)
    counted = {u.id: u.reminders.get("accountability", 0) for u in report.units if u.reminders.get("accountability")}
    assert counted == expected

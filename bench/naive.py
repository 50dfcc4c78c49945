"""The naive design a user might otherwise write: one Prefect task per obligation, each
reading its reports and computing its light in Python. Timed on 1k obligations under
Prefect's test harness (server start-up excluded) and extrapolated linearly.

`python -m bench.naive URL PLAN_ID` prints one JSON line.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time

from sqlalchemy import Engine, select

from bench.steps import AS_OF


def main() -> None:
    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    from plan_tracker.domain.calendar import WorkCalendar
    from plan_tracker.domain.lights import light_on
    from plan_tracker.domain.reports import state_as_of
    from plan_tracker.store.db import make_engine
    from plan_tracker.store.models import Obligation, StatusReport

    url, plan_id = sys.argv[1], sys.argv[2]
    engine: Engine = make_engine(url)
    calendar = WorkCalendar()
    o, r = Obligation.__table__, StatusReport.__table__

    @task(cache_policy=NO_CACHE)
    def evaluate_one(oid: int) -> str:
        with engine.begin() as conn:
            ob = conn.execute(select(o).where(o.c.id == oid)).one()
            reports = [(row.reported_on, row.id, row.status, row.progress)
                       for row in conn.execute(select(r).where(r.c.obligation_id == oid))]
            _, _, done_on = state_as_of(reports, AS_OF)
            reading = light_on(calendar, as_of=AS_OF, period_start=ob.period_start, due=ob.due,
                               warn_days=ob.warn_days, done_on=done_on)
            conn.execute(o.update().where(o.c.id == oid).values(light=reading.light.value, overdue_wd=reading.overdue_wd))
            return reading.light.value

    @flow
    def naive_nightly(ids: list[int]) -> int:
        return len([evaluate_one(i) for i in ids])

    with engine.connect() as conn:
        ids = [row[0] for row in conn.execute(select(o.c.id).where(o.c.plan_id == plan_id).order_by(o.c.id))]
    with prefect_test_harness(server_startup_timeout=120), temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        started = time.perf_counter()
        naive_nightly(ids)
        seconds = time.perf_counter() - started
    per = seconds / max(len(ids), 1)
    print(json.dumps({"step": "naive", "obligations": len(ids), "seconds": round(seconds, 2),
                      "per_obligation_ms": round(per * 1000, 2),
                      "extrapolated_1M_hours": round(per * 1_000_000 / 3600, 2),
                      "as_of": AS_OF.isoformat(), "measured": dt.date.today().isoformat()}))


if __name__ == "__main__":
    main()

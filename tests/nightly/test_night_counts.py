"""What a night's summary counts of its own work: the lights it changed and the steps it
recorded skipped are counted by its batches as they write them (no read of the night's
whole record afterwards: at 1M a quarter of a second each), and a re-run of the night,
which changes nothing, counts nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import Engine, func, select

from plan_tracker.services.nightly import evaluate, evaluation_summary
from plan_tracker.services.plans import apply_plan
from plan_tracker.store.models import Obligation
from plan_tracker.store.outbox_models import LightFlip

from .conftest import counties_plan

NIGHT = dt.date(2018, 7, 20)
NOW = dt.datetime(2018, 7, 20, 1, tzinfo=dt.UTC)


def _flips_on_night(engine: Engine, plan_id: str) -> int:
    f, o = LightFlip.__table__, Obligation.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(f.join(o, o.c.id == f.c.obligation_id))
                                .where(o.c.plan_id == plan_id, f.c.as_of == NIGHT)).scalar_one())


def test_a_night_counts_the_lights_it_changed_and_a_rerun_counts_none(engine: Engine, tmp_path: Path) -> None:
    plan = counties_plan(tmp_path, tasks=4, start="2018-01-01")
    apply_plan(engine, plan, actor="test", source="test")
    plan_id = plan.stem
    first = evaluate(engine, plan_id, NIGHT, now=NOW, batch=7)  # several batches, each counting its own
    recorded = _flips_on_night(engine, plan_id)
    assert recorded > 7 and first.flips == recorded
    assert first.skipped > 0
    again = evaluate(engine, plan_id, NIGHT, now=NOW, batch=7)
    assert (again.flips, again.skipped, again.raised) == (0, 0, 0)
    assert _flips_on_night(engine, plan_id) == recorded
    # the shards' flow, which has no batches' count, reads the night's from the store
    assert evaluation_summary(engine, plan_id, NIGHT).flips == recorded

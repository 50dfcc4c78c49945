"""A first night on PostgreSQL whose growing tables were analysed empty (a store vacuumed
before its first night) must not probe them with a sequential scan per candidate row: the
night's other connections fill them while the statement runs, which made a province's
evaluation 25-50 s instead of 4 s in one night of three (`services.nightly._probing`).

The plans are read with EXPLAIN through the same guard the batch uses; the control shows
that without it this server plans the quadratic shape. And the statistics the night keeps
of those tables (`TableStats`) are refreshed without one worker waiting for another's."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, text

from plan_tracker.services import nightly
from plan_tracker.services.nightly import PROBED_BY_DECISION, PROBED_BY_DELIVERIES, TableStats
from plan_tracker.services.plans import apply_plan
from plan_tracker.services.status import id_bounds
from plan_tracker.store import evaluation_sql as q
from plan_tracker.store.db import make_engine, migrate

from ..conftest import new_pg_database
from .conftest import COUNTIES_PLAN, counties_plan

PLAN = COUNTIES_PLAN
NIGHT = dt.date(2018, 7, 20)  # its first night: every open month escalates at once
NOW = dt.datetime(2018, 7, 20, 1, tzinfo=dt.UTC)
GROWING = ("reminder", "skipped_step", "delivery")


@pytest.fixture
def analysed_empty(tmp_path: Path) -> Iterator[Engine]:
    """The plan applied to a new PostgreSQL store, its growing tables vacuumed and analysed
    while empty, as an operator's routine maintenance would leave them."""
    url, drop = new_pg_database("pt_probed")
    engine = make_engine(url)
    try:
        migrate(engine)
        apply_plan(engine, counties_plan(tmp_path, tasks=6, start="2018-01-01"), actor="test", source="test")
        _vacuum_growing(engine)
        yield engine
    finally:
        engine.dispose()
        drop()


def _vacuum_growing(engine: Engine) -> None:
    """VACUUM ANALYZE the growing tables: an empty one ends with no pages and no rows known."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE " + ", ".join(GROWING)))


def _explain(statement: Any) -> Any:
    """EXPLAIN of a batch statement, with the statement's own typed parameters."""
    return text("EXPLAIN " + statement.text).bindparams(*statement._bindparams.values())


def _plans(conn: Connection, work: Any, *, guarded: bool) -> tuple[str, str]:
    """The plans of the decision and of the deliveries' insert for the plan's one batch, as
    the batch runs them (guarded), or as the planner chooses alone."""
    s, (low, high) = work.statements, id_bounds(conn, PLAN)
    params = {**work.night, "lo": low, "hi": high}
    conn.execute(text(q.CREATE_BATCH))  # in the transaction id_bounds began, rolled back below
    conn.execute(s.fill, params)
    conn.execute(text("ANALYZE eval_batch"))
    conn.execute(s.create_steps)

    def plan(tables: tuple[str, ...], statement: Any, bound: dict[str, Any]) -> str:
        if guarded:
            rows = nightly._probing(conn, work, tables, _explain(statement), bound)
        else:
            rows = conn.execute(_explain(statement), bound)
        return "\n".join(row[0] for row in rows)

    (decide,) = s.decide_steps  # PostgreSQL decides in one statement
    decision = plan(PROBED_BY_DECISION, decide, params)
    for step in (decide, s.raise_reminders, s.record_skipped):  # tonight's reminders, as the batch has them
        conn.execute(step, params)
    deliveries = plan(PROBED_BY_DELIVERIES, s.add_deliveries, {**params, **work.role_params})
    conn.rollback()
    return decision, deliveries


def _night_work(conn: Connection) -> Any:
    work = nightly._night_work(conn, PLAN, NIGHT, now=NOW, shard=nightly.WHOLE_PLAN, context=None)
    conn.rollback()
    if work.holds.pairs:
        nightly._fill_digest_holds(conn, work.holds.pairs, postgresql=True)
    return work


def test_probes_of_tables_analysed_empty_are_hashed_not_scanned_per_row(analysed_empty: Engine) -> None:
    with analysed_empty.connect() as conn:
        work = _night_work(conn)
        assert work.stats.thin(PROBED_BY_DECISION) and work.stats.thin(PROBED_BY_DELIVERIES)
        bare_decision, bare_deliveries = _plans(conn, work, guarded=False)
        decision, deliveries = _plans(conn, work, guarded=True)
        with conn.begin():
            nightly._probing(conn, work, PROBED_BY_DECISION, text("SELECT 1"), {})
            setting = conn.execute(text("SHOW enable_nestloop")).scalar_one()
    # the control: alone, the planner scans the "empty" tables once per candidate
    assert "Nested Loop Anti Join" in bare_decision and "Seq Scan on skipped_step" in bare_decision
    assert "Nested Loop Anti Join" in bare_deliveries and "Seq Scan on delivery" in bare_deliveries
    # guarded: each probed table is read once (hashed or sorted), whatever it holds by then
    for plan in (decision, deliveries):
        assert "Nested Loop Anti Join" not in plan
        assert "Hash Anti Join" in plan or "Merge Anti Join" in plan
    assert setting == "on"  # the guard ends with the statement (SET LOCAL, back to the default)


def test_the_planner_chooses_alone_once_the_night_knows_the_tables() -> None:
    stats = TableStats(known={"reminder": 51_000, "skipped_step": 185_500, "delivery": 400})
    assert not stats.thin(PROBED_BY_DECISION)
    assert stats.thin(PROBED_BY_DELIVERIES)
    assert TableStats().thin(("reminder",))  # never analysed: PostgreSQL says -1, read as none


def test_an_analyze_another_worker_holds_is_skipped_not_waited_for(analysed_empty: Engine) -> None:
    """An ANALYZE holds its lock until its transaction ends: the night's second worker used
    to wait for the first one's whole batch before analysing the same table."""
    first, second = analysed_empty.connect(), analysed_empty.connect()
    try:
        first.execute(text("ANALYZE reminder"))  # in the first worker's batch, not committed
        release = threading.Timer(5, first.commit)  # without the fix, the wait ends here
        release.start()
        second.execute(text("SELECT 1"))
        started = time.perf_counter()
        TableStats().grew(second, "reminder", 5000)
        waited = time.perf_counter() - started
        release.cancel()
        assert waited < 2
        # the batch goes on: its transaction usable, its lock timeout the server's again
        assert second.execute(text("SHOW lock_timeout")).scalar_one() == "0"
        first.commit()
        TableStats().grew(second, "reminder", 5000)  # nobody else analysing: it analyses
        assert second.execute(text("SHOW lock_timeout")).scalar_one() == "0"
        second.commit()
    finally:
        first.close()
        second.close()


def _join_filters(plan: str) -> list[str]:
    return [line.strip() for line in plan.splitlines() if "Join Filter" in line]


def test_recipients_are_joined_on_their_unit_not_filtered_after(analysed_empty: Engine,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A reminder's recipients are its unit's (contact, head) or the plan's ('*'): joined on
    `unit_id IN (o.unit_id, '*')`, PostgreSQL hashed `role_recipient` on the role alone and
    tested the unit as a filter, every reminder meeting every unit's recipient of its role
    (748,500 rows thrown away per batch of a province). The deliveries are joined on the unit
    in both plans, guarded (the first batches of a first night) or the planner's own."""
    with analysed_empty.connect() as conn:
        work = _night_work(conn)
        plans = [_plans(conn, work, guarded=guarded)[1] for guarded in (False, True)]
        sqlite_form = q.add_deliveries_sql("sqlite")  # the control: SQLite's one join, on PostgreSQL
        monkeypatch.setattr(q, "add_deliveries_sql", lambda dialect: sqlite_form)
        single_join = _night_work(conn)
        controls = [_plans(conn, single_join, guarded=guarded)[1] for guarded in (False, True)]
    for plan in plans:
        assert "role_recipient" in plan
        assert not [f for f in _join_filters(plan) if "unit_id" in f], plan
    assert any("unit_id" in f and "OR" in f for plan in controls for f in _join_filters(plan)), controls

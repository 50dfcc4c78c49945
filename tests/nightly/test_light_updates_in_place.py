"""PostgreSQL: a plan's first night gives every obligation its light, one UPDATE of every
row. The obligation table keeps half of each page free (migration 0015), so each new row
version stays on its page (a HOT update: no entry in any of the table's four indexes). On
full pages (the control) every version moved to another page, with an index entry each; at
the fifth free of migration 0005, 77 % of a province's did, and its evaluation took 11 %
longer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from plan_tracker.services.nightly import evaluate
from plan_tracker.services.plans import apply_plan
from plan_tracker.store.db import make_engine, migrate

from ..conftest import new_pg_database
from .conftest import COUNTIES_PLAN, counties_plan

NIGHT = dt.date(2018, 7, 20)
NOW = dt.datetime(2018, 7, 20, 1, tzinfo=dt.UTC)


@pytest.fixture
def applied(tmp_path: Path) -> Iterator[Engine]:
    url, drop = new_pg_database("pt_in_place")
    engine = make_engine(url)
    try:
        migrate(engine)
        apply_plan(engine, counties_plan(tmp_path, tasks=6, start="2018-01-01"), actor="test", source="test")
        yield engine
    finally:
        engine.dispose()
        drop()


def _pages(engine: Engine) -> dict[int, int]:
    """Each obligation's page in the table (the block of its current row version)."""
    with engine.connect() as conn:
        return {int(i): int(page) for i, page in conn.execute(text(
            "SELECT id, (ctid::text::point)[0] FROM obligation"))}


def _moved_by_the_first_night(engine: Engine) -> float:
    before = _pages(engine)
    evaluate(engine, COUNTIES_PLAN, NIGHT, now=NOW, workers=2)
    after = _pages(engine)
    with engine.connect() as conn:
        lit = conn.execute(text("SELECT count(*) FROM obligation WHERE light IS NOT NULL")).scalar_one()
    assert lit == len(before) > 2000  # every obligation was updated, on many pages
    return sum(1 for i, page in before.items() if after[i] != page) / len(before)


def test_the_obligation_table_keeps_room_for_its_updates(applied: Engine) -> None:
    with applied.connect() as conn:
        options = conn.execute(text("SELECT reloptions FROM pg_class WHERE relname = 'obligation'")).scalar_one()
    assert options == ["fillfactor=50"]


def test_a_first_night_updates_every_light_in_place(applied: Engine) -> None:
    assert _moved_by_the_first_night(applied) < 0.1  # 5 % here, all of them without the room (below)


def test_without_the_room_the_first_night_moves_most_rows(applied: Engine) -> None:
    """The control: the same store rewritten with full pages."""
    with applied.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ALTER TABLE obligation RESET (fillfactor)"))
        conn.execute(text("VACUUM FULL obligation"))
    assert _moved_by_the_first_night(applied) > 0.5

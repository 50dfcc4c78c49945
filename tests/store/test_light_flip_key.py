"""Light flips carry no foreign key to `obligation` (migration 0017, as skipped steps since
0013): only the evaluation writes them, from the obligations it evaluates. The migration
keeps every flip, down and up again, on both backends."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, func, inspect, select

from plan_tracker.services.nightly import evaluate
from plan_tracker.services.plans import apply_plan
from plan_tracker.store.db import MIGRATIONS, make_engine, migrate
from plan_tracker.store.outbox_models import LightFlip

from ..conftest import new_pg_database

F = LightFlip.__table__  # type: ignore[attr-defined]
NIGHT = dt.date(2018, 7, 20)


@pytest.fixture(params=["sqlite", "postgresql"])
def own_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A store of this test's own: migrating it down must not touch the shared one."""
    if request.param == "sqlite":
        url, drop = f"sqlite:///{tmp_path / 'store.sqlite3'}", (lambda: None)
    else:
        url, drop = new_pg_database("pt_flipkey")
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()
        drop()


def _migrate(engine: Engine, revision: str, to: object = command.upgrade) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        to(config, revision)  # type: ignore[operator]


def _flips(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(F).order_by(F.c.id))]


def _keys(engine: Engine) -> list[str]:
    return [fk["referred_table"] for fk in inspect(engine).get_foreign_keys("light_flip")]


def test_light_flips_have_no_foreign_key_and_the_migration_keeps_them(own_store: Engine, founding_plan: Path) -> None:
    migrate(own_store)
    apply_plan(own_store, founding_plan, actor="test", source="test")
    plan_id = founding_plan.stem
    evaluate(own_store, plan_id, NIGHT, now=dt.datetime(2018, 7, 20, 1, tzinfo=dt.UTC))
    flips = _flips(own_store)
    assert len(flips) > 100 and _keys(own_store) == []

    _migrate(own_store, "0016", command.downgrade)
    assert _keys(own_store) == ["obligation"] and _flips(own_store) == flips
    _migrate(own_store, "head")
    assert _keys(own_store) == [] and _flips(own_store) == flips
    with own_store.connect() as conn:  # the index the readers use is kept
        assert {ix["name"] for ix in inspect(conn).get_indexes("light_flip")} == {"ix_flip_obligation"}
        assert conn.execute(select(func.count()).select_from(F)).scalar_one() == len(flips)

"""Shared fixtures: a migrated store on SQLite and on the real local PostgreSQL.

PostgreSQL is not optional: if it cannot be reached the tests fail (CI must not go green
by skipping half the matrix). Each session creates its own database and drops it after.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from plan_tracker.store.db import make_engine, migrate

ROOT = Path(__file__).resolve().parent.parent
FOUNDING_PLAN = ROOT / "config" / "plans" / "jingzhou-2018.yaml"


@pytest.fixture(scope="session")
def founding_plan() -> Path:
    return FOUNDING_PLAN
PG_ADMIN_URL = os.environ.get(
    "PLAN_TRACKER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"pt_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # pragma: no cover - the environment is broken
        pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is required for the tests: {exc}")
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_engine(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    migrate(engine)
    yield engine
    engine.dispose()


def _truncate_pg(engine: Engine) -> None:
    with engine.begin() as conn:
        tables = [r[0] for r in conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"))]
        if tables:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A clean, migrated database URL on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
        engine = make_engine(url)
        migrate(engine)
        engine.dispose()
        return url
    engine = request.getfixturevalue("pg_engine")
    _truncate_pg(engine)
    return str(engine.url.render_as_string(hide_password=False))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def cli_env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Point the CLI (in-process or subprocess) at the test database and a temp data dir."""
    from plan_tracker.settings import get_settings
    from plan_tracker.store.db import engine_for

    env = {"PLAN_TRACKER_DATABASE_URL": db_url, "PLAN_TRACKER_DATA_DIR": str(tmp_path / "var")}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    engine_for.cache_clear()
    yield env
    get_settings.cache_clear()
    engine_for.cache_clear()

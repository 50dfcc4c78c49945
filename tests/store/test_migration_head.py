"""A store already at the newest schema opens without Alembic; any other is migrated."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text

from plan_tracker.store.db import HEAD_REVISION, MIGRATIONS, at_head, make_engine, migrate


def _config(connection: object = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def test_the_head_revision_is_alembics_own_head() -> None:
    # A new migration must move HEAD_REVISION too, or stores at the old head would skip it.
    assert ScriptDirectory.from_config(_config()).get_heads() == [HEAD_REVISION]


def test_a_store_one_revision_behind_is_migrated_to_head(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    with engine.begin() as conn:
        command.upgrade(_config(conn), "0011")
    assert not at_head(engine)
    migrate(engine)
    assert at_head(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == HEAD_REVISION


def test_a_store_at_head_opens_without_importing_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    migrate(make_engine(url))
    probe = ("import sys; from plan_tracker.store.db import engine_for; "
             f"engine_for({url!r}); print('alembic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

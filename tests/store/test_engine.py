"""The engine's PostgreSQL connections: JIT off (the night's statements paid 0.4-0.6 s of
compilation each), whatever the transaction did, and the URL's own options kept."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import make_url

from plan_tracker.store.db import make_engine


def test_postgresql_connections_run_without_jit_and_keep_the_urls_options(pg_url: str) -> None:
    url = make_url(pg_url).update_query_dict({"options": "-c statement_timeout=12345"})
    engine = make_engine(url.render_as_string(hide_password=False))
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW jit")).scalar_one() == "off"
            conn.rollback()  # the SET was committed at connect: a rollback keeps it
            assert conn.execute(text("SHOW jit")).scalar_one() == "off"
            assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "12345ms"
        with engine.connect() as again:  # the pooled connection, checked in and out
            assert again.execute(text("SHOW jit")).scalar_one() == "off"
    finally:
        engine.dispose()

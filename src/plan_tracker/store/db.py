"""Engine creation and migrations. Nothing is created at import; callers pass URLs in."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from plan_tracker.domain.errors import DomainError
from plan_tracker.domain.messages import msg

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class StoreUnavailable(DomainError):
    """The store's URL is malformed, or it names a store that does not exist (bad input)."""


class StoreMissing(StoreUnavailable):
    """The URL names a SQLite file that does not exist."""


def parse_store_url(url: str) -> URL:
    """The parsed URL, its dialect loadable; a malformed URL is bad input, said plainly."""
    shown = _shown(url)
    try:
        parsed = make_url(url)
        parsed.get_dialect()
    except NoSuchModuleError:  # a subclass of ArgumentError: first
        raise StoreUnavailable("store.unknown_driver", url=shown, driver=parsed.drivername,
                               expected=msg("store.expected_urls")) from None
    except ArgumentError as exc:
        raise StoreUnavailable("store.bad_url", url=shown, reason=str(exc), expected=msg("store.expected_urls")) from None
    return parsed


def in_memory(url: URL) -> bool:
    """An in-memory SQLite store (`sqlite://`, `sqlite:///:memory:`). SQLAlchemy gives each
    thread its own connection to it, and each connection is a database of its own: work on
    such a store stays on the thread that holds it (no second connection, no other process)."""
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def _shown(url: str) -> str:
    """The URL for a message, password hidden."""
    try:
        return repr(make_url(url).render_as_string(hide_password=True))
    except ArgumentError:
        return repr(url)


def require_store(url: str) -> None:
    """Raise StoreUnavailable unless `url` is well formed and, for a SQLite file, the file
    exists. Nothing is created: only `plan apply` and `init` create a store."""
    parsed = parse_store_url(url)
    if parsed.get_backend_name() != "sqlite" or in_memory(parsed):
        return
    if not Path(str(parsed.database)).is_file():
        raise StoreMissing("store.missing", url=_shown(url), path=parsed.database)


def open_store(url: str, *, create: bool = False) -> Engine:
    """The CLI's migrated engine for `url`. Without `create`, a missing SQLite store is an
    error naming the URL and the fix, and no file or folder is made."""
    if create:
        parse_store_url(url)
    else:
        require_store(url)
    return engine_for(url)


def make_engine(url: str, *, serial: bool = False) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys and a busy timeout for concurrent runs.

    `serial` (SQLite only; the web server uses it): one pooled connection shared in turn by
    the request threads. SQLite takes one writer at a time anyway, and threads queueing on
    the pool wake at once, where threads contending for the file lock sleep in SQLite's busy
    handler (1, 2, 5 … 100 ms steps). Measured: 112 → 151 submissions/s at 32 clients
    (BENCHMARKS.md).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if not in_memory(parsed):
            Path(str(parsed.database)).parent.mkdir(parents=True, exist_ok=True)
        pool = {"pool_size": 1, "max_overflow": 0, "pool_timeout": 60} if serial else {}
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **pool)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        _arm_faults(engine)
        return engine
    engine = create_engine(url, pool_pre_ping=True)
    event.listen(engine, "connect", _no_jit)
    _arm_faults(engine)
    return engine


def _no_jit(dbapi_conn: Any, _record: Any) -> None:
    """PostgreSQL's JIT off for this connection. The night's statements are set-based and
    short, but their estimated costs are high (correlated lookups per obligation), so
    PostgreSQL compiled the reminders' statement for 0.4-0.6 s each batch: 2 s of a
    province's first night, 3.5 s of a steady night at 1M (BENCHMARKS.md). A SET at connect
    leaves the URL's own `options` alone; committed, since a rollback would undo it."""
    with dbapi_conn.cursor() as cursor:
        cursor.execute("SET jit = off")
    dbapi_conn.commit()


def _arm_faults(engine: Engine) -> None:
    """The crash tests' commit counter (`plan_tracker.faults`); a no-op unless they set it."""
    from plan_tracker import faults

    faults.arm(engine)


# The newest revision in `migrations/versions` (tests/store hold it to Alembic's own head). A
# store already there needs no Alembic at all: importing it and reading every migration
# script cost each CLI command about 0.2 s, to find nothing to do.
HEAD_REVISION = "0018"


def at_head(engine: Engine) -> bool:
    """Whether the store's schema is at HEAD_REVISION (False for a new or older store)."""
    try:
        with engine.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except DBAPIError:  # no alembic_version table: a new store
        return False
    return versions == [HEAD_REVISION]


def migrate(engine: Engine) -> None:
    """Bring the schema to the latest Alembic revision (idempotent)."""
    if at_head(engine):
        return
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@cache
def engine_for(url: str) -> Engine:
    """One migrated engine per URL per process (the CLI and web reuse it)."""
    engine = make_engine(url)
    migrate(engine)
    return engine

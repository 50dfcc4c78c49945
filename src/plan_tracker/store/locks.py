"""Keeping writers that must not overlap apart, on SQLite and PostgreSQL.

Two things race without these (both measured in `tests/reliability/test_races.py`):

- Two nightly runs of one plan for the same night (a duplicated schedule, a manual run
  during the scheduled one). Each stage is idempotent on its own, but interleaved they
  recorded light flips twice, failed on the daily figures' primary key on PostgreSQL, sent
  the weekly report twice, and hit "database is locked" on SQLite. `nightly_lock` makes the
  second run wait for the first; it then finds everything done and changes nothing.
  PostgreSQL: a session advisory lock; SQLite: an `flock` on a file beside the database.
  Both vanish with the process that holds them, so a killed run never leaves a stale lock.
- SQLite upgrading a read transaction to a write one fails at once ("database is locked",
  SQLITE_BUSY_SNAPSHOT, no busy wait) when another connection committed in between, e.g.
  a status report arriving while an evaluation batch reads the store. `begin_write` takes
  the write lock first (BEGIN IMMEDIATE), so the batch waits its turn instead.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Connection, Engine, text

from plan_tracker.store.db import in_memory

WAIT_SECONDS = 3600.0  # a night's run takes seconds to minutes; an hour means something is stuck
_POLL = 0.05
_memory_locks: dict[str, threading.Lock] = {}
_memory_guard = threading.Lock()


class RunInProgress(RuntimeError):
    """Another nightly run of the plan held its lock for longer than we waited."""


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for PostgreSQL's advisory locks."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def begin_write(conn: Connection) -> None:
    """SQLite: make the transaction just begun a write transaction now (BEGIN IMMEDIATE).

    Call it first in `engine.begin()`, before any statement. PostgreSQL needs nothing here.
    """
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")


@contextlib.contextmanager
def nightly_lock(engine: Engine, plan_id: str, *, wait: float = WAIT_SECONDS) -> Iterator[None]:
    """Hold the plan's nightly lock for the duration of the block; wait up to `wait` s."""
    name = f"plan-tracker:nightly:{plan_id}"
    if engine.dialect.name == "postgresql":
        with _pg_lock(engine, name, wait):
            yield
        return
    if in_memory(engine.url):
        with _memory_lock(name, wait):
            yield
        return
    with _file_lock(Path(f"{engine.url.database}.nightly-{plan_id}.lock"), name, wait):
        yield


def _deadline_passed(started: float, wait: float, name: str) -> None:
    if time.monotonic() - started > wait:
        raise RunInProgress(f"another nightly run holds {name!r}; waited {wait:.0f} s")


@contextlib.contextmanager
def _pg_lock(engine: Engine, name: str, wait: float) -> Iterator[None]:
    key = lock_key(name)
    started = time.monotonic()
    with engine.connect() as conn:  # a session of its own: the lock lives as long as it does
        while True:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar_one()
            conn.commit()  # session locks outlive transactions; do not sit idle in one
            if got:
                break
            _deadline_passed(started, wait, name)
            time.sleep(_POLL)
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()


@contextlib.contextmanager
def _file_lock(path: Path, name: str, wait: float) -> Iterator[None]:
    """flock on `path`, which is removed on release (no stray `.lock` files beside the store).

    Removing a lock file is safe only with a check: a waiter may have opened the file just
    before the holder unlinked it, and would then lock an orphan while a third run creates a
    new file. So the holder unlinks before it unlocks, and whoever gets the lock checks
    that its file is still the one at `path`, retrying with a fresh open otherwise.
    """
    started = time.monotonic()
    while True:
        handle = path.open("a")  # flock: per open file, so threads exclude each other too
        try:
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    _deadline_passed(started, wait, name)
                    time.sleep(_POLL)
            if _same_file(handle.fileno(), path):
                break
        except BaseException:
            handle.close()
            raise
        handle.close()  # we locked a file already removed by the previous holder: retry
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        handle.close()


def _same_file(fd: int, path: Path) -> bool:
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (mine.st_dev, mine.st_ino) == (on_disk.st_dev, on_disk.st_ino)


@contextlib.contextmanager
def _memory_lock(name: str, wait: float) -> Iterator[None]:
    with _memory_guard:
        lock = _memory_locks.setdefault(name, threading.Lock())
    if not lock.acquire(timeout=wait):
        raise RunInProgress(f"another nightly run holds {name!r}; waited {wait:.0f} s")
    try:
        yield
    finally:
        lock.release()

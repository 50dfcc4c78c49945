"""A night resolves the plan once, at its edge, and passes the context down: one read of the
plan's versions for the whole night (collect, evaluate, deliver, snapshot, report and the
weekly report), however many stages need it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

from plan_tracker.night import run_nightly
from plan_tracker.services.plans import apply_plan
from plan_tracker.settings import Settings

from .conftest import at


def _plan_reads(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM plan_version" in statement or "FROM plan\n" in statement or "FROM plan " in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_a_night_reads_the_plan_once(engine: Engine, plan_file: Path, tmp_path: Path) -> None:
    store = engine
    apply_plan(store, plan_file)
    settings = Settings(data_dir=tmp_path / "var")
    run_nightly(store, "national-day", dt.date(2018, 10, 5), now=at(dt.date(2018, 10, 5)), settings=settings)
    monday = dt.date(2018, 10, 15)  # the first working day of a week: the weekly report goes out too
    reads = _plan_reads(store)
    seen = next(reads)
    summary = run_nightly(store, "national-day", monday, now=at(monday), settings=settings)
    next(reads, None)
    assert summary.report.weekly is not None and summary.delivery.messages_sent > 0
    versions = [s for s in seen if "FROM plan_version" in s]
    assert len(versions) == 1, seen  # the night's context
    assert len(seen) <= 3, seen  # and the plan row it came with (the lock's table is not the plan's)

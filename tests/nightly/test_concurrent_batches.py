"""A night's batches evaluated on several connections at once (`evaluation_workers`; on
SQLite each batch decides outside the write lock and writes under it) end in exactly the
state of one connection taking them in order; a batch that fails stops the others and
loses nothing a re-run cannot finish."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, event

from plan_tracker.night import run_nightly
from plan_tracker.services import nightly
from plan_tracker.services.nightly import batch_ranges, evaluate, evaluation_summary
from plan_tracker.services.plans import apply_plan
from plan_tracker.settings import Settings
from plan_tracker.store.db import make_engine, migrate

from .conftest import night_state

PLAN = "jingzhou-2018"
NIGHTS = [dt.date(2018, 3, 30), dt.date(2018, 7, 2), dt.date(2018, 10, 8), dt.date(2018, 12, 28)]
NOW = dt.datetime(2018, 12, 28, 18, tzinfo=dt.UTC)


@given(low=st.integers(1, 10**6), span=st.integers(0, 5000), batch=st.integers(1, 3000), workers=st.integers(1, 8))
def test_batches_cover_every_id_once_and_none_is_too_big(low: int, span: int, batch: int, workers: int) -> None:
    ranges = batch_ranges(low, low + span - 1, batch, workers)
    ids = [i for lo, hi in ranges for i in range(lo, hi + 1)]
    assert ids == list(range(low, low + span))
    assert all(hi - lo + 1 <= batch for lo, hi in ranges)


def test_workers_get_even_batches_that_end_together() -> None:
    assert batch_ranges(1, 102_000, 50_000) == [(1, 50_000), (50_001, 100_000), (100_001, 102_000)]
    assert batch_ranges(1, 102_000, 50_000, 2) == [(1, 25_500), (25_501, 51_000), (51_001, 76_500), (76_501, 102_000)]
    assert batch_ranges(5, 4, 10, 2) == []


def _connections_evaluating(engine: Engine) -> set[int]:
    """The threads that ran a batch's statements on `engine` (recorded from now on)."""
    threads: set[int] = set()

    @event.listens_for(engine, "before_cursor_execute")
    def _seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "eval_batch" in statement:
            threads.add(threading.get_ident())

    return threads


def test_batches_on_several_connections_equal_one_connection(two_stores: tuple[Engine, Engine]) -> None:
    one, several = two_stores
    threads = _connections_evaluating(several)
    for night in NIGHTS:
        expected = evaluate(one, PLAN, night, now=NOW, batch=97)
        assert evaluate(several, PLAN, night, now=NOW, batch=29, workers=3) == expected
        assert night_state(several) == night_state(one)
    assert expected.raised > 0 and sum(expected.lights.values()) == 413
    # three connections take the batches, on SQLite too (one writes while the others decide)
    assert len(threads) == 3


def test_a_failed_batch_stops_the_others_and_a_rerun_finishes_the_night(
        two_stores: tuple[Engine, Engine], monkeypatch: pytest.MonkeyPatch) -> None:
    one, several = two_stores
    night = NIGHTS[1]
    evaluate(one, PLAN, night, now=NOW, batch=97)
    real, calls = nightly._evaluate_batch, []

    def third_fails(conn: Any, work: Any, low: int, high: int, **how: Any) -> None:
        calls.append(low)
        if len(calls) == 3:
            raise RuntimeError("the database went away")
        real(conn, work, low, high, **how)

    monkeypatch.setattr(nightly, "_evaluate_batch", third_fails)
    with pytest.raises(RuntimeError, match="went away"):
        evaluate(several, PLAN, night, now=NOW, batch=29, workers=3)
    assert len(calls) < len(batch_ranges(1, 413, 29, 3))  # the others stopped after their batch
    monkeypatch.setattr(nightly, "_evaluate_batch", real)
    evaluate(several, PLAN, night, now=NOW, batch=29, workers=3)
    assert night_state(several) == night_state(one)
    assert evaluation_summary(several, PLAN, night).lights == evaluation_summary(one, PLAN, night).lights


def test_a_night_on_an_in_memory_store_keeps_to_one_connection(
        tmp_path: Path, founding_plan: Path, caplog: pytest.LogCaptureFixture) -> None:
    """An in-memory SQLite store is a database per connection: with the settings' two
    evaluation connections and the report built beside the night, a second connection found
    no tables (the night failed). On such a store everything runs on the night's own
    connection and ends as on a file."""
    stores = {"memory": make_engine("sqlite://"), "file": make_engine(f"sqlite:///{tmp_path / 'file.sqlite3'}")}
    for engine in stores.values():
        migrate(engine)
        apply_plan(engine, founding_plan, actor="test", source="test")
    threads = _connections_evaluating(stores["memory"])
    settings = Settings(data_dir=tmp_path / "var")
    assert settings.evaluation_workers > 1 and settings.nightly_formats  # the defaults this is about
    with caplog.at_level(logging.WARNING):
        for night in NIGHTS:
            summaries = [run_nightly(engine, PLAN, night, now=NOW, settings=settings).as_dict()
                         for engine in stores.values()]
            assert summaries[0]["reminders"] == summaries[1]["reminders"]
            assert night_state(stores["memory"]) == night_state(stores["file"])
    assert len(threads) == 1
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text

"""A night split by unit shard (scale-out) ends in exactly the state of the whole night:
the same lights, flips, reminders and deliveries, on SQLite and PostgreSQL, whether the
shards run one after another or at the same time."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import Engine

from plan_tracker.services.nightly import (
    Shard,
    evaluate,
    evaluate_batches,
    evaluate_shard,
    evaluation_summary,
    shards_evaluated,
)

from .conftest import night_state

PLAN = "jingzhou-2018"
NIGHTS = [dt.date(2018, 3, 30), dt.date(2018, 7, 2), dt.date(2018, 10, 8), dt.date(2018, 12, 28)]
NOW = dt.datetime(2018, 12, 28, 18, tzinfo=dt.UTC)


def test_every_unit_is_in_exactly_one_shard() -> None:
    units = [f"unit-{i}" for i in range(500)] + ["区法制办", "town.1"]
    for count in (1, 2, 3, 8):
        owners = [[k for k in range(count) if Shard(k, count).holds(u)] for u in units]
        assert all(len(o) == 1 for o in owners)
        sizes = [sum(1 for o in owners if o == [k]) for k in range(count)]
        assert min(sizes) > len(units) / count / 2  # CRC-32 spreads units, not all in one shard


def test_a_units_shard_depends_only_on_its_id_and_the_count() -> None:
    assert Shard(1, 4).holds("town.1") == Shard(1, 4).holds("town.1")
    assert [Shard(k, 3).holds("区法制办") for k in range(3)].count(True) == 1


@pytest.mark.parametrize("index, count", [(0, 0), (2, 2), (-1, 3)])
def test_an_impossible_shard_is_refused(index: int, count: int) -> None:
    with pytest.raises(ValueError, match="shard"):
        Shard(index, count)


def test_shards_one_after_another_equal_the_whole_night(two_stores: tuple[Engine, Engine]) -> None:
    whole, split = two_stores
    for night in NIGHTS:
        expected = evaluate(whole, PLAN, night, now=NOW, batch=97)
        for k in range(3):
            evaluate_batches(split, PLAN, night, now=NOW, batch=97, shard=Shard(k, 3))
        assert evaluation_summary(split, PLAN, night) == expected
        assert night_state(split) == night_state(whole)
    assert expected.raised > 0 and sum(expected.lights.values()) == 413


def test_shards_at_the_same_time_equal_the_whole_night(two_stores: tuple[Engine, Engine]) -> None:
    whole, split = two_stores
    night = NIGHTS[2]
    evaluate(whole, PLAN, night, now=NOW, batch=50)
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def worker(k: int) -> None:
        barrier.wait()
        try:
            evaluate_shard(split, PLAN, night, now=NOW, batch=50, shard=Shard(k, 4), worker=f"worker-{k}")
        except BaseException as exc:  # every failure is a finding
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert night_state(split) == night_state(whole)
    done = shards_evaluated(split, PLAN, night)
    assert [(d["shard"], d["shards"], d["worker"]) for d in done] == [(k, 4, f"worker-{k}") for k in range(4)]
    assert sum(d["units"] for d in done) == 47  # every unit of the plan, each once


def test_a_shard_run_again_changes_nothing(two_stores: tuple[Engine, Engine]) -> None:
    _, split = two_stores
    for k in range(2):
        evaluate_batches(split, PLAN, NIGHTS[1], now=NOW, shard=Shard(k, 2))
    before = night_state(split)
    evaluate_batches(split, PLAN, NIGHTS[1], now=NOW, shard=Shard(1, 2))
    assert night_state(split) == before

"""bench: the hand-tuned delivery limit in two processes does the product's work, all of it.

`bench.delivery_limit.deliver_limit_split` is the yardstick beside which the night's delivery
stage is measured: it must deliver every recipient due once, record every due row sent and
leave the reminders in the states the product's own delivery leaves them in, or its rate
would be the rate of less work."""

from __future__ import annotations

import importlib
import shutil
import sqlite3
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def bench_delivery(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(ROOT))  # bench/ is a folder beside the package, not installed
    return importlib.import_module("bench.delivery")


def _rows(store: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(store) as con:
        return con.execute(sql).fetchall()


def test_two_limit_processes_deliver_what_the_product_delivers(bench_delivery, tmp_path, monkeypatch):
    import bench.province
    from bench.delivery_limit import deliver_limit_split

    from plan_tracker.services.delivery import deliver
    from plan_tracker.settings import Settings
    from plan_tracker.store.db import make_engine

    monkeypatch.setattr(bench.province, "UNITS", bench.province.UNITS)  # `prepare` sets it
    template = bench_delivery.prepare(tmp_path / "template", units=6)
    due = _rows(template, "SELECT DISTINCT recipient_key FROM delivery WHERE state = 'pending'"
                          " AND next_attempt_at IS NULL")
    limit_store, ours_store = tmp_path / "limit.sqlite3", tmp_path / "ours.sqlite3"
    shutil.copy(template, limit_store)
    shutil.copy(template, ours_store)

    found = deliver_limit_split(limit_store, tmp_path / "outbox", bench_delivery.PLAN, bench_delivery.NOW,
                                bench_delivery.FIRST_NIGHT, processes=2)
    engine = make_engine(f"sqlite:///{ours_store}")
    ours = deliver(engine, bench_delivery.PLAN, now=bench_delivery.NOW, as_of=bench_delivery.FIRST_NIGHT,
                   settings=Settings(data_dir=tmp_path / "ours"))
    engine.dispose()

    assert found["messages"] == ours.messages_sent == len(due) > 2
    assert found["deliveries"] == ours.deliveries_sent
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == found["messages"]
    states = "SELECT id, state FROM reminder ORDER BY id"
    assert _rows(limit_store, states) == _rows(ours_store, states)
    sent = "SELECT id FROM delivery WHERE state = 'sent' ORDER BY id"
    assert _rows(limit_store, sent) == _rows(ours_store, sent)


def test_the_stage_beside_the_limit_is_the_nights_split_delivery(bench_delivery, tmp_path, monkeypatch):
    """The stage's rows are the night's delivery stage (its processes started ahead, the run
    split between them), not `plan-tracker deliver`'s one process, on every run."""
    import bench.province

    monkeypatch.setattr(bench.province, "UNITS", bench.province.UNITS)  # `prepare` sets it
    monkeypatch.setattr(bench_delivery, "LIMIT_RUNS", 2)
    monkeypatch.setenv("PLAN_TRACKER_DELIVERY_WORKERS", "2")
    monkeypatch.setenv("PLAN_TRACKER_DELIVERY_SPLIT_FROM", "1")  # a 6-unit plan's 12 recipients split too
    template = bench_delivery.prepare(tmp_path / "template", units=6)

    stage, *limits, versus = bench_delivery.stage_delivery(template, tmp_path)

    assert stage["step"] == "deliver_file_stage" and stage["processes"] == 2 and stage["messages"] == 12
    assert len(stage["runs"]) == 2 and stage["seconds"] in stage["runs"]
    assert [row["step"] for row in limits] == ["deliver_file_limit_split"] * 2
    assert all(row["messages"] == 12 for row in limits)
    assert versus["step"] == "deliver_file_stage_vs_limit" and versus["messages"] == 12
    # the CPU of every process that delivered, and the rate the cores allow at that cost
    assert stage["cpu_ms_per_message"] > 0 and all(row["cpu_ms_per_message"] > 0 for row in limits)
    assert versus["cores_allow_per_s"] == round(versus["cores"] * 1000 / versus["cpu_ms_per_message"], 1)

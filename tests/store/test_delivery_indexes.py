"""The delivery table's indexes of columns most rows leave empty (topic, claim, frozen
message) hold only the rows that fill them (migration 0016), and the one-row-per-topic rule
still holds: a second raise of a recipient's topic is a no-op, also when it races the first."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

import pytest
from sqlalchemy import Engine, func, insert, inspect, select
from sqlalchemy.exc import IntegrityError

from plan_tracker.services.topics import raise_topic
from plan_tracker.store.outbox_models import Delivery

D = Delivery.__table__  # type: ignore[attr-defined]
NIGHT = dt.date(2018, 10, 15)
PARTIAL = {"uq_delivery_topic": "topic", "ix_delivery_claim_token": "claim", "ix_delivery_message": "message_id"}


def _predicate(index: dict[str, object]) -> str:
    options = index.get("dialect_options") or {}
    assert isinstance(options, dict)
    where = options.get("postgresql_where", options.get("sqlite_where"))
    return str(where).strip("()").lower() if where is not None else ""


def test_the_indexes_of_mostly_empty_columns_hold_the_rows_that_fill_them(engine: Engine) -> None:
    indexes = {ix["name"]: ix for ix in inspect(engine).get_indexes("delivery")}
    for name, column in PARTIAL.items():
        assert _predicate(indexes[name]) == f"{column} is not null", name  # type: ignore[arg-type]
    assert indexes["uq_delivery_topic"]["unique"]
    names = {uq["name"] for uq in inspect(engine).get_unique_constraints("delivery")}
    assert "uq_delivery_topic" not in names  # the whole-table constraint it replaced


def _rows(engine: Engine, **where: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(D).where(
            *(D.c[column] == value for column, value in where.items()))).scalar_one())


def test_a_topic_is_raised_once_per_recipient(engine: Engine) -> None:
    with engine.begin() as conn:
        assert raise_topic(conn, "p", "email:lg@example.org", "weekly:2018-W42", NIGHT)
        assert not raise_topic(conn, "p", "email:lg@example.org", "weekly:2018-W42", NIGHT)
        assert raise_topic(conn, "p", "email:lg@example.org", "decisions:2018-10-15", NIGHT)
    assert _rows(engine, topic="weekly:2018-W42") == 1
    row = {"plan_id": "p", "recipient_key": "email:lg@example.org", "topic": "weekly:2018-W42",
           "state": "pending", "attempts": 0}
    with pytest.raises(IntegrityError), engine.begin() as conn:  # the index, not only the NOT EXISTS
        conn.execute(insert(D), [row])
    with engine.begin() as conn:  # rows without a topic (a reminder's) never collide on it
        conn.execute(insert(D), [{**row, "topic": None}, {**row, "topic": None}])
    assert _rows(engine, plan_id="p", recipient_key="email:lg@example.org") == 4


def test_a_raise_racing_another_waits_for_it_then_does_nothing(pg_engine: Engine) -> None:
    """PostgreSQL: the other transaction's row is not visible to the NOT EXISTS yet, so the
    partial unique index settles it, as the conflict's target (its WHERE names the index).
    (SQLite takes one writer at a time: the second raise starts after the first commits.)"""
    plan = f"race-{uuid.uuid4().hex[:8]}"
    first = pg_engine.connect()
    try:
        pending = first.begin()
        assert raise_topic(first, plan, "email:c@example.org", "decisions:2018-10-15", NIGHT)
        commit = threading.Timer(0.5, pending.commit)
        commit.start()
        with pg_engine.begin() as second:  # waits on the first's row in the index, then skips
            assert not raise_topic(second, plan, "email:c@example.org", "decisions:2018-10-15", NIGHT)
        commit.join()
    finally:
        first.close()
    assert _rows(pg_engine, plan_id=plan) == 1

"""A night with many messages is delivered by several processes at once (issue 17). Every
recipient gets its one message, byte for byte the one a single process sends, on SQLite and
PostgreSQL; a robot's recipients stay with one process (its rate limit is per process)."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select

from plan_tracker.reports.delivery_processes import delivery_shares
from plan_tracker.reports.weekly_mail import (
    deliver_share_here,
    deliver_with_weekly,
    raise_night_topics,
)
from plan_tracker.services.delivery import roll_up_reminders, split_run
from plan_tracker.services.nightly import evaluate
from plan_tracker.settings import Settings
from plan_tracker.store.outbox_models import ChannelState, Delivery

from .conftest import COUNTIES_PLAN, counties_plan, fresh_stores, night_state

PLAN = COUNTIES_PLAN
UNITS = 40
NIGHT = dt.date(2018, 7, 12)  # June's items a few working days late: contacts and heads urged
NOW = dt.datetime(2018, 7, 12, 1, tzinfo=dt.UTC)  # 09:00 in Shanghai, inside the delivery window
ROBOT = "county-7-robot"
def _plan(folder: Path) -> Path:
    """40 counties × 3 monthly tasks, nobody reporting: on 2 July each county's contact and
    head get a message (80 messages); county 7's contact is its group's robot."""
    return counties_plan(folder, units=UNITS, robot=(7, ROBOT))


@pytest.fixture(params=["sqlite", "postgresql"])
def two_stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Engine, Engine]]:
    """Two stores holding the counties' plan: one delivered by one process, one by several."""
    engines, drop = fresh_stores(request.param, tmp_path, _plan(tmp_path / "plan"), 2)
    try:
        yield engines[0], engines[1]
    finally:
        drop()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Engine]:
    """One SQLite store of the counties' plan, for the rules of a split (portable SQL, which
    the night above runs on both backends)."""
    engines, drop = fresh_stores("sqlite", tmp_path, _plan(tmp_path / "plan"), 1)
    try:
        yield engines[0]
    finally:
        drop()


SECRET = "a-secret-of-the-test-at-least-32-characters"  # the same links and forms in both stores


def settings_for(folder: Path, processes: int) -> Settings:
    return Settings(data_dir=folder, delivery_workers=processes, delivery_split_from=1, token_secret=SECRET)


def night(engine: Engine, folder: Path, processes: int) -> object:
    evaluate(engine, PLAN, NIGHT, now=NOW)
    return deliver_with_weekly(engine, PLAN, now=NOW, as_of=NIGHT, settings=settings_for(folder, processes))


def outbox(folder: Path) -> dict[str, list[object]]:
    """Each outbox file's headers (Date aside) and parts, an XLSX form by its members'
    contents (a zip records the time each member was written)."""
    return {path.name: parts(path.read_bytes()) for path in (folder / "outbox").glob("*.eml")}


def parts(raw: bytes) -> list[object]:
    email = message_from_bytes(raw, policy=policy.default)
    found: list[object] = [sorted((k, str(v)) for k, v in email.items() if k != "Date")]  # the send time
    for part in email.walk():
        if part.is_multipart():
            continue
        content = part.get_content()
        if isinstance(content, bytes) and content.startswith(b"PK"):
            with zipfile.ZipFile(io.BytesIO(content)) as book:
                content = sorted((name, book.read(name)) for name in book.namelist())
        found.append((part.get_content_type(), part.get_filename(), content))
    return found


def test_a_night_delivered_by_two_processes_is_the_night_one_process_delivers(
        two_stores: tuple[Engine, Engine], tmp_path: Path) -> None:
    whole, split = two_stores
    one = night(whole, tmp_path / "one", 1)
    two = night(split, tmp_path / "two", 2)
    assert (one.processes, two.processes) == (1, 2)  # type: ignore[attr-defined]
    counts = ("messages_sent", "deliveries_sent", "failed", "dead", "waiting", "held")
    assert [getattr(two, c) for c in counts] == [getattr(one, c) for c in counts]
    assert one.messages_sent > 20  # type: ignore[attr-defined]
    assert night_state(split) == night_state(whole)  # reminders rolled up, every row sent once
    assert outbox(tmp_path / "two") == outbox(tmp_path / "one")  # the same files, the same messages
    again = deliver_with_weekly(split, PLAN, now=NOW, as_of=NIGHT, settings=settings_for(tmp_path / "two", 2))
    assert again.messages_sent == 0 and outbox(tmp_path / "two") == outbox(tmp_path / "one")


def processes(engine: Engine, settings: Settings, factory: object = None) -> int:
    return len(delivery_shares(engine, PLAN, NOW, settings, factory))


def test_a_few_recipients_or_a_test_channel_stay_in_one_process(store: Engine, tmp_path: Path) -> None:
    engine = store
    evaluate(engine, PLAN, NIGHT, now=NOW)
    many = Settings(data_dir=tmp_path, delivery_workers=3, delivery_split_from=1)
    assert processes(engine, many) == 3
    assert processes(engine, many, factory=lambda kind, options: None) == 1
    assert processes(engine, Settings(data_dir=tmp_path, delivery_workers=3, delivery_split_from=81)) == 1
    assert processes(engine, Settings(data_dir=tmp_path, delivery_workers=3, delivery_split_from=80)) == 3
    assert processes(engine, Settings(data_dir=tmp_path, delivery_workers=1, delivery_split_from=1)) == 1


def test_each_recipient_is_dealt_to_one_share_in_turn_and_a_robot_only_to_the_first(
        store: Engine, tmp_path: Path) -> None:
    engine = store
    evaluate(engine, PLAN, NIGHT, now=NOW)
    robots = {ROBOT: {"kind": "dingtalk", "url": "http://127.0.0.1:9/robot", "secret": "SEC"}}
    for settings in (Settings(data_dir=tmp_path), Settings(data_dir=tmp_path, robots=robots)):
        keys = [share.keys or frozenset() for share in split_run(engine, PLAN, NOW, settings, 3)]
        assert sum(len(k) for k in keys) == len(frozenset().union(*keys)) == 80  # each recipient in one share
        assert max(len(k) for k in keys) - min(len(k) for k in keys) <= 2  # dealt in turn
    robot = next(key for key in keys[0] if ROBOT in key)
    assert robot in keys[0]  # with its robot configured, county 7's contact goes with share 0


MONDAY = dt.date(2018, 7, 16)  # the week's report goes to the managers with their items
MONDAY_NOW = dt.datetime(2018, 7, 16, 1, tzinfo=dt.UTC)


def test_the_managers_carrying_the_weeks_report_head_the_last_share(store: Engine, tmp_path: Path) -> None:
    """One process builds the week's report: every manager whose message carries it is dealt
    to the last share, first in its walk, and the others help it with the rest."""
    engine = store
    evaluate(engine, PLAN, MONDAY, now=MONDAY_NOW)
    raise_night_topics(engine, PLAN, MONDAY)
    weekly = managers_owed_the_week(engine)
    assert len(weekly) >= 2  # the coordinator's and the leading group's
    shares = split_run(engine, PLAN, MONDAY_NOW, Settings(data_dir=tmp_path), 3)
    assert set(shares[-1].walks[-1][:len(weekly)]) == weekly  # type: ignore[index]
    assert not any(weekly & (share.keys or frozenset()) for share in shares[:-1])


def managers_owed_the_week(engine: Engine) -> set[str]:
    d = Delivery.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return set(conn.execute(select(d.c.recipient_key).where(d.c.topic.like("weekly:%"))).scalars())


@pytest.mark.parametrize("alone", [0, 1])
def test_a_process_that_finishes_first_delivers_what_is_left_of_the_others(
        two_stores: tuple[Engine, Engine], tmp_path: Path, alone: int) -> None:
    """A share's process, done with its own recipients, takes the others' from the far end
    of their walks until it meets what their processes took. Here the other process has not
    begun at all (slow to start, say): the first delivers the whole night, the week's
    report included, and the other finds nothing left; the night is the one-process night."""
    whole, split = two_stores
    for engine in (whole, split):
        evaluate(engine, PLAN, MONDAY, now=MONDAY_NOW)
    settings = settings_for(tmp_path / "two", 2)
    one = deliver_with_weekly(whole, PLAN, now=MONDAY_NOW, as_of=MONDAY, settings=settings_for(tmp_path / "one", 1))
    raise_night_topics(split, PLAN, MONDAY)
    shares = delivery_shares(split, PLAN, MONDAY_NOW, settings, None)
    assert len(shares) == 2 and all(share.keys for share in shares)
    first = deliver_share_here(split, PLAN, now=MONDAY_NOW, as_of=MONDAY, settings=settings, share=shares[alone])
    assert (first.messages_sent, first.deliveries_sent) == (one.messages_sent, one.deliveries_sent)
    late = deliver_share_here(split, PLAN, now=MONDAY_NOW, as_of=MONDAY, settings=settings, share=shares[1 - alone])
    assert (late.messages_sent, late.held, late.deferred) == (0, 0, 0)
    roll_up_reminders(split, PLAN)
    assert managers_owed_the_week(split) and night_state(split) == night_state(whole)
    assert outbox(tmp_path / "two") == outbox(tmp_path / "one")


def test_a_disabled_channels_deliveries_are_counted_held_once_across_processes(
        two_stores: tuple[Engine, Engine], tmp_path: Path) -> None:
    """No process claims for a disabled channel, and what waits is counted once: each process
    counts what is left of its own share, none of what it would have helped with."""
    whole, split = two_stores
    for engine in (whole, split):
        with engine.begin() as conn:
            conn.execute(insert(ChannelState.__table__).values(  # type: ignore[attr-defined]
                name="file", disabled=True, reason="disk full", changed_at=NOW))
    one, two = night(whole, tmp_path / "one", 1), night(split, tmp_path / "two", 2)
    assert (one.processes, two.processes) == (1, 2)  # type: ignore[attr-defined]
    assert two.held == one.held > 20 and (one.messages_sent, two.messages_sent) == (0, 0)  # type: ignore[attr-defined]

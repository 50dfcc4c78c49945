"""Delivery of raised reminders through real channels: SMTP and robots against local servers,
the delivery window, failures and retries, and a crash part-way through."""

from __future__ import annotations

import datetime as dt
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from plan_tracker.services.delivery import LEASE, deliver, enable_channel
from plan_tracker.services.nightly import evaluate
from plan_tracker.services.plans import apply_plan
from plan_tracker.settings import Settings
from plan_tracker.store.outbox_models import ChannelState, Delivery, DeliveryMessage

from .conftest import PLAN_YAML, UNREACHABLE, addressed, at, deliveries, reminders

OCT9 = dt.date(2018, 10, 9)


def test_smtp_waits_for_the_delivery_window_then_sends(applied, smtp_server, tmp_path: Path):
    settings = Settings(data_dir=tmp_path, smtp_host="127.0.0.1", smtp_port=smtp_server.port)
    evaluate(applied, "national-day", OCT9, now=at(OCT9))
    night = deliver(applied, "national-day", now=at(OCT9, dt.time(2, 0)), as_of=OCT9, settings=settings)
    assert night.messages_sent == 0 and night.waiting > 0      # nobody is messaged at 02:00
    assert not smtp_server.handler.envelopes
    morning = deliver(applied, "national-day", now=at(OCT9, dt.time(8, 30)), as_of=OCT9, settings=settings)
    assert morning.messages_sent == len(smtp_server.handler.envelopes) > 0
    subjects = [str(message_from_bytes(e.content, policy=policy.default)["Subject"]) for e in smtp_server.handler.envelopes]
    assert all(s.startswith("【催办】") for s in subjects)
    assert {state for _, state in addressed(applied)} == {"sent"}


def test_no_messages_on_a_holiday_even_in_office_hours(applied, smtp_server, tmp_path: Path):
    settings = Settings(data_dir=tmp_path, smtp_host="127.0.0.1", smtp_port=smtp_server.port)
    evaluate(applied, "national-day", OCT9, now=at(OCT9))
    holiday = dt.date(2018, 10, 13)  # Saturday (not one of the adjusted working days)
    result = deliver(applied, "national-day", now=at(holiday, dt.time(10, 0)), as_of=OCT9, settings=settings)
    assert result.messages_sent == 0 and result.waiting > 0


def robot_plan(tmp_path: Path, engine) -> None:
    text = PLAN_YAML.replace("contact: {name: 王五, email: town-a@example.org}", "contact: {name: 王五, dingtalk: town-a-robot}")
    path = tmp_path / "robot.yaml"
    path.write_text(text, encoding="utf-8")
    apply_plan(engine, path)


def test_dingtalk_errcode_is_a_failure_even_with_http_200_and_is_retried(engine, http_server, tmp_path: Path):
    robot_plan(tmp_path, engine)
    settings = Settings(data_dir=tmp_path, robots={"town-a-robot": {"kind": "dingtalk", "url": http_server.url(), "secret": "SEC123"}})
    evaluate(engine, "national-day", OCT9, now=at(OCT9))
    http_server.replies((200, {"errcode": 130101, "errmsg": "send too fast"}), (200, {"errcode": 0, "errmsg": "ok"}))
    first = deliver(engine, "national-day", now=at(OCT9, dt.time(9)), as_of=OCT9, settings=settings)
    assert first.failed == 2 and first.messages_sent >= 1  # the robot's two items failed; e-mail went
    states = {(t, u, st) for t, u, lv, _, _, st in reminders(engine)}
    assert ("s.self-check", "town-a", "failed") in states
    too_soon = deliver(engine, "national-day", now=at(OCT9, dt.time(9, 1)), as_of=OCT9, settings=settings)
    assert too_soon.deliveries_sent == 0  # backing off
    later = deliver(engine, "national-day", now=at(OCT9, dt.time(10)), as_of=OCT9, settings=settings)
    assert later.deliveries_sent == 2
    # first night: remind skipped; town-b's urge is dead for its head, whom nobody holds
    assert {(u, st) for _, u, *_, st in reminders(engine)} == {
        ("town-a", "sent"), ("town-a", "skipped"), ("town-b", "dead"), ("town-b", "skipped")}
    assert "sign" in http_server.requests[-1].query and "timestamp" in http_server.requests[-1].query


def robot_rows(engine) -> list[tuple[str, int, str | None]]:
    d = Delivery.__table__
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(d.c.state, d.c.attempts, d.c.fault).where(
            d.c.recipient_key == "dingtalk:town-a-robot").order_by(d.c.id))]


def test_a_wrong_robot_secret_holds_its_deliveries_until_the_channel_is_enabled(engine, http_server, tmp_path: Path):
    """Issue 18 (1): errcode 310000 disables the robot; its deliveries wait (not dead), use
    no attempt while it is off, and go out at the next run after `channels enable`, without
    waiting a day."""
    robot_plan(tmp_path, engine)
    settings = Settings(data_dir=tmp_path, robots={"town-a-robot": {"kind": "dingtalk", "url": http_server.url(), "secret": "SEC123"}})
    evaluate(engine, "national-day", OCT9, now=at(OCT9))
    http_server.replies((200, {"errcode": 310000, "errmsg": "sign not match"}))
    result = deliver(engine, "national-day", now=at(OCT9, dt.time(9)), as_of=OCT9, settings=settings)
    assert (result.dead, result.held) == (0, 2)
    assert robot_rows(engine) == [("failed", 0, "channel"), ("failed", 0, "channel")]
    with engine.connect() as conn:
        disabled = conn.execute(select(ChannelState.__table__.c.name).where(ChannelState.__table__.c.disabled)).scalars().all()
    assert disabled == ["dingtalk:town-a-robot"]
    assert ("s.self-check", "town-a", "dead") not in {(t, u, st) for t, u, lv, _, _, st in reminders(engine)}
    refused = http_server.requests[-1].body
    # While it stays disabled, runs (even a day later) do not touch it and use no attempt.
    asked = len(http_server.requests)
    for later in (at(OCT9, dt.time(10)), at(OCT9 + dt.timedelta(days=1), dt.time(10))):
        held = deliver(engine, "national-day", now=later, as_of=OCT9, settings=settings)
        assert (held.held, held.dead, held.failed) == (2, 0, 0)
    assert len(http_server.requests) == asked
    assert robot_rows(engine) == [("failed", 0, "channel"), ("failed", 0, "channel")]
    # The operator fixes the secret and enables the robot: the next run sends them, at once.
    http_server.replies((200, {"errcode": 0, "errmsg": "ok"}))
    assert enable_channel(engine, "dingtalk:town-a-robot", at(OCT9 + dt.timedelta(days=1), dt.time(10, 5)))
    after = deliver(engine, "national-day", now=at(OCT9 + dt.timedelta(days=1), dt.time(10, 10)), as_of=OCT9 + dt.timedelta(days=1),
                    settings=settings)
    assert (after.deliveries_sent, after.held, after.dead) == (2, 0, 0)
    assert [state for state, *_ in robot_rows(engine)] == ["sent", "sent"]
    # the robot never took the refused message: the held items go in one message rendered afresh
    assert refused != http_server.requests[-1].body and b"2018-10-10" in http_server.requests[-1].body


def test_retry_dead_requeues_dead_deliveries_explicitly_and_audits_it(engine, http_server, tmp_path: Path):
    from plan_tracker.services.delivery import retry_dead
    from plan_tracker.store.models import Event

    robot_plan(tmp_path, engine)
    settings = Settings(data_dir=tmp_path, robots={"town-a-robot": {"kind": "dingtalk", "url": http_server.url(), "secret": "SEC123"}})
    evaluate(engine, "national-day", OCT9, now=at(OCT9))
    http_server.replies((200, {"errcode": 430102, "errmsg": "content refused"}))  # permanent, not a channel fault
    first = deliver(engine, "national-day", now=at(OCT9, dt.time(9)), as_of=OCT9, settings=settings)
    assert first.dead == 2 and [f for *_, f in robot_rows(engine)] == ["refused", "refused"]
    # narrowed to another channel or a later day: nothing requeued
    assert retry_dead(engine, settings, now=at(OCT9, dt.time(9, 30)), actor="op", channel="smtp") == []
    assert retry_dead(engine, settings, now=at(OCT9, dt.time(9, 30)), actor="op", since=OCT9 + dt.timedelta(days=1)) == []
    done = retry_dead(engine, settings, now=at(OCT9, dt.time(9, 30)), actor="op", since=OCT9,
                      channel="dingtalk:town-a-robot")
    assert [(r.plan_id, r.deliveries) for r in done] == [("national-day", 2)]
    assert robot_rows(engine) == [("pending", 0, None), ("pending", 0, None)]
    http_server.replies((200, {"errcode": 0, "errmsg": "ok"}))
    again = deliver(engine, "national-day", now=at(OCT9, dt.time(9, 31)), as_of=OCT9, settings=settings)
    assert again.deliveries_sent == 2 and [s for s, *_ in robot_rows(engine)] == ["sent", "sent"]
    assert ("s.self-check", "town-a", "sent") in {(t, u, st) for t, u, lv, _, _, st in reminders(engine)}
    assert UNREACHABLE in deliveries(engine)  # a role nobody holds stays dead: nothing to send it to
    e = Event.__table__
    with engine.connect() as conn:
        audit = conn.execute(select(e.c.actor, e.c.payload).where(e.c.kind == "delivery.retry_dead")).all()
    assert [(a, p["deliveries"], p["channel"], p["since"]) for a, p in audit] == [
        ("op", 2, "dingtalk:town-a-robot", "2018-10-09")]


def test_webhook_server_error_is_retried_until_it_answers(engine, http_server, tmp_path: Path):
    text = PLAN_YAML.replace("contact: {name: 钱七, email: town-b@example.org}", "contact: {name: 钱七, webhook: oa-hook}")
    path = tmp_path / "hook.yaml"
    path.write_text(text, encoding="utf-8")
    apply_plan(engine, path)
    settings = Settings(data_dir=tmp_path, robots={"oa-hook": {"kind": "webhook", "url": http_server.url("/hook")}})
    evaluate(engine, "national-day", OCT9, now=at(OCT9))
    http_server.replies((500, {"error": "down"}), (200, {"ok": True}))
    assert deliver(engine, "national-day", now=at(OCT9, dt.time(9)), as_of=OCT9, settings=settings).failed == 1
    assert deliver(engine, "national-day", now=at(OCT9, dt.time(12)), as_of=OCT9, settings=settings).deliveries_sent == 1
    assert http_server.requests[-1].json["recipient"] == "钱七"


def office_hours(day: dt.date) -> list[dt.datetime]:
    """A delivery run every 30 minutes, 08:30 to 17:30 (the README's schedule)."""
    return [at(day, dt.time(8 + (30 + 30 * n) // 60, (30 + 30 * n) % 60)) for n in range(19)]


def test_an_smtp_outage_of_three_working_days_loses_nothing(applied, smtp_server, tmp_path: Path):
    """Issue 18 (7): the retry schedule against an outage over more than one working day.
    Down from the first attempt (Tue 10-09 08:30) to the end of Thursday; up on Friday
    morning: every reminder goes out, none died on the way (attempts counted)."""
    from ..conftest import free_port

    down = Settings(data_dir=tmp_path, smtp_host="127.0.0.1", smtp_port=free_port())  # nobody listens
    evaluate(applied, "national-day", OCT9, now=at(OCT9))
    tried: list[int] = []
    for day in (OCT9, dt.date(2018, 10, 10), dt.date(2018, 10, 11)):
        for moment in office_hours(day):
            result = deliver(applied, "national-day", now=moment, as_of=day, settings=down)
            assert result.dead == 0, moment
            tried.append(result.failed)
    up = Settings(data_dir=tmp_path, smtp_host="127.0.0.1", smtp_port=smtp_server.port)
    friday = deliver(applied, "national-day", now=at(dt.date(2018, 10, 12), dt.time(8, 30)), as_of=dt.date(2018, 10, 12),
                     settings=up)
    assert friday.dead == 0 and {state for _, state in addressed(applied)} == {"sent"}
    assert sum(1 for n in tried if n) == 11  # attempts 1-7 on Tuesday, two a day after (6 h cap); the 12th sends


class Crash(Exception):
    pass


def test_a_crash_after_k_of_n_sends_then_a_rerun_delivers_every_reminder_once(applied, tmp_path: Path, recording):
    settings = Settings(data_dir=tmp_path)
    recorder = recording()
    evaluate(applied, "national-day", OCT9, now=at(OCT9))
    recipients = {key for key, _ in addressed(applied)}
    assert len(recipients) == 3  # town-a contact and head, town-b contact (urge step)
    assert UNREACHABLE in deliveries(applied)  # …and town-b's head, whom nobody holds
    sends = 0

    def crash_after_two(_: int) -> None:
        nonlocal sends
        sends += 1
        if sends == 2:  # the 2nd message went out but its record was never written
            raise Crash

    with pytest.raises(Crash):
        deliver(applied, "national-day", now=at(OCT9, dt.time(9)), as_of=OCT9, settings=settings,
                factory=recorder, after_send=crash_after_two)
    assert len(recorder.sent) == 2
    # Within the lease nothing is resent; after it, the crashed claim is taken over.
    deliver(applied, "national-day", now=at(OCT9, dt.time(9, 5)), as_of=OCT9, settings=settings, factory=recorder)
    deliver(applied, "national-day", now=at(OCT9, dt.time(9)) + LEASE + dt.timedelta(minutes=1), as_of=OCT9,
            settings=settings, factory=recorder)
    assert {state for _, state in addressed(applied)} == {"sent"}
    assert len(set(recorder.sent)) == len(recipients)           # every recipient got its message
    duplicates = [k for k in set(recorder.sent) if recorder.sent.count(k) > 1]
    assert len(duplicates) == 1 and duplicates[0] == recorder.sent[1]  # only the crash-window one
    assert len(list(settings.folder("outbox").iterdir())) == len(recipients)  # same key, same file


def test_two_delivery_workers_never_send_the_same_rows(applied, tmp_path: Path, recording):
    from concurrent.futures import ThreadPoolExecutor

    settings = Settings(data_dir=tmp_path)
    recorder = recording()
    evaluate(applied, "national-day", OCT9, now=at(OCT9))
    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(lambda _: deliver(applied, "national-day", now=at(OCT9, dt.time(9)), as_of=OCT9,
                                        settings=settings, factory=recorder), range(3)))
    assert len(recorder.sent) == len(set(recorder.sent))
    d = Delivery.__table__
    with applied.connect() as conn:
        assert set(conn.execute(select(d.c.state).where(~d.c.recipient_key.like("unreachable:%"))).scalars()) == {"sent"}


def test_a_batch_that_runs_long_gives_the_rest_back_and_they_go_in_the_next_batch_of_the_run(
        applied, smtp_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A claim must not outlive its lease while it waits in a batch: past BATCH_SECONDS a
    batch stops after the message in hand and gives the rest back (no attempt used); the
    run claims them again at once. Here every batch runs "long": one message each."""
    from plan_tracker.services import delivery

    monkeypatch.setattr(delivery, "BATCH_SECONDS", 0.0)
    settings = Settings(data_dir=tmp_path, smtp_host="127.0.0.1", smtp_port=smtp_server.port)
    evaluate(applied, "national-day", OCT9, now=at(OCT9))
    recipients = {key for key, _ in addressed(applied)}
    assert len(recipients) == 3
    summary = deliver(applied, "national-day", now=at(OCT9, dt.time(9)), as_of=OCT9, settings=settings)
    ids = [str(message_from_bytes(e.content, policy=policy.default)["Message-ID"]) for e in smtp_server.handler.envelopes]
    assert summary.messages_sent == len(ids) == len(set(ids)) == len(recipients)  # each once, all in this run
    assert summary.deferred == 0 and {state for _, state in addressed(applied)} == {"sent"}
    d = Delivery.__table__
    with applied.connect() as conn:
        attempts = set(conn.execute(select(d.c.attempts).where(~d.c.recipient_key.like("unreachable:%"))).scalars())
    assert attempts == {1}  # the claims given back cost nothing


def frozen_rows(engine: Engine) -> list[tuple[str, int | None, str | None]]:
    """(state, the frozen message pointed at, that message's claim) of every addressed row."""
    d, m = Delivery.__table__, DeliveryMessage.__table__
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            select(d.c.state, d.c.message_id, m.c.claim).outerjoin(m, m.c.id == d.c.message_id)
            .where(~d.c.recipient_key.like("unreachable:%")).order_by(d.c.id))]


def test_rows_a_crash_left_claimed_go_again_as_the_message_frozen_for_their_claim(applied, tmp_path: Path):
    """A row points at its frozen message when it is recorded; a crash after the files were
    durable and before the record leaves the rows claimed with no pointer. After the lease,
    the next run finds their message by the claim it was frozen for and sends it again as
    it was (the same files, nothing new written), although more is due for the same
    recipients by then; what is due besides follows as a fresh message."""
    settings = Settings(data_dir=tmp_path)
    outbox = settings.folder("outbox")
    evaluate(applied, "national-day", OCT9, now=at(OCT9))

    def crash(_: int) -> None:
        raise Crash

    with pytest.raises(Crash):
        deliver(applied, "national-day", now=at(OCT9, dt.time(9)), as_of=OCT9, settings=settings, after_send=crash)
    crashed = {p.name: p.read_bytes() for p in outbox.iterdir()}
    assert crashed and {state for state, *_ in frozen_rows(applied)} == {"sending"}
    assert {message for _, message, _ in frozen_rows(applied)} == {None}  # the pointer waits for the record
    later = dt.date(2018, 10, 16)  # 督办 to the heads: more is due for a recipient of the crashed run
    evaluate(applied, "national-day", later, now=at(later))
    rerun = at(later, dt.time(9))
    after = deliver(applied, "national-day", now=rerun, as_of=later, settings=settings)
    assert after.messages_sent > len(crashed)
    files = {p.name: p.read_bytes() for p in outbox.iterdir()}
    assert {name: files[name] for name in crashed} == crashed  # the same messages, byte for byte
    rows = frozen_rows(applied)
    assert {state for state, *_ in rows} == {"sent"}
    assert all(message is not None and claim is not None for _, message, claim in rows)
    with applied.connect() as conn:
        frozen = conn.execute(select(func.count()).select_from(DeliveryMessage.__table__)).scalar_one()
    assert frozen == len(files)  # one frozen message per file: none rendered twice

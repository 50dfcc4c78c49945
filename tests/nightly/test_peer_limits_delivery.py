"""Peer limits through the delivery run (issue 18, findings 2 and 7), on SQLite and PostgreSQL.

- A hung mail server (accepts, never greets) and 60 recipients: the run ends in seconds;
  after three unreachable failures the other 57 are left for the next run, unclaimed and
  with no attempt used, and the run says so. The next run, against a working server,
  sends all 60.
- A long 通报 to a DingTalk group robot that refuses bodies over 20,000 bytes (errcode
  460101, as DingTalk does) arrives whole, in parts cut between items.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from plan_tracker.channels import SmtpChannel
from plan_tracker.services.delivery import deliver, resolve_route
from plan_tracker.services.nightly import evaluate
from plan_tracker.services.plans import apply_plan
from plan_tracker.settings import Settings
from plan_tracker.store.outbox_models import Delivery

from .conftest import at

OCT9 = dt.date(2018, 10, 9)
GREETING_TIMEOUT = 0.3
BOUND_S = 8.0  # the old channel: 60 × its timeout (10 s by default) = 600 s


def many_units_plan(tmp_path: Path, engine: Engine, units: int, *, tasks: int = 1,
                    office: str = "email: office@example.org") -> None:
    """`units` towns with a contact each, `tasks` tasks led by all of them, and a
    coordinating office (reached by `office`) that is told of everything overdue."""
    unit_lines = "\n".join(
        f"  - {{id: u{n:02d}, name: 第{n}镇人民政府, groups: [towns], contact: {{name: 联络员{n}, email: u{n:02d}@example.org}}}}"
        for n in range(1, units + 1))
    task_lines = "\n".join(
        f"      - {{id: s.t{k:02d}, title: 对执法队伍进行第{k}轮轮训并建立执法人员台账, lead: group:towns, due: 2018-09-03}}"
        for k in range(1, tasks + 1))
    text = f"""\
version: 1
plan:
  id: many
  title: 多单位测试计划
  coordinator: office
  start: 2018-01-01
  end: 2018-12-31
  warn_days: 3
units:
  - {{id: office, name: 区政府督查室, contact: {{name: 督查室, {office}}}}}
{unit_lines}
escalation:
  - {{after: 1, level: urge, notify: [contact]}}
  - {{after: 10, level: supervise, notify: [coordinator]}}
sections:
  - id: s
    title: 测试
    tasks:
{task_lines}
"""
    path = tmp_path / "many.yaml"
    path.write_text(text, encoding="utf-8")
    apply_plan(engine, path)


def email_rows(engine: Engine) -> list[Any]:
    d = Delivery.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return list(conn.execute(select(d.c.recipient_key, d.c.state, d.c.attempts)
                                 .where(d.c.recipient_key.not_like("unreachable:%")).order_by(d.c.id)))


def test_a_hung_mail_server_costs_seconds_for_60_recipients_and_uses_no_attempts(
    engine: Engine, hung_server: Any, smtp_server: Any, tmp_path: Path
) -> None:
    many_units_plan(tmp_path, engine, 60)
    evaluate(engine, "many", dt.date(2018, 9, 5), now=at(dt.date(2018, 9, 5)))
    hung = Settings(data_dir=tmp_path, smtp_host="127.0.0.1", smtp_port=hung_server.port,
                    smtp_greeting_timeout_s=GREETING_TIMEOUT, smtp_breaker_threshold=3)
    morning = at(dt.date(2018, 9, 5), dt.time(9, 0))
    result: dict[str, Any] = {}

    def run() -> None:
        result["summary"] = deliver(engine, "many", now=morning, as_of=dt.date(2018, 9, 5), settings=hung)

    started = time.monotonic()
    worker = threading.Thread(target=run, daemon=True)  # bounded even if the peer hangs it
    worker.start()
    worker.join(BOUND_S)
    elapsed = time.monotonic() - started
    assert not worker.is_alive(), f"60 recipients against a hung server took over {BOUND_S} s"
    summary = result["summary"]
    assert elapsed < 3 * GREETING_TIMEOUT + 3
    assert (summary.failed, summary.deferred, summary.messages_sent) == (3, 57, 0)
    assert len(hung_server.accepted) == 3
    assert any("stopped trying after 3 connection failures" in e and "57 recipient(s)" in e for e in summary.errors)
    (stopped,) = summary.stopped  # what the CLI words for people
    assert (stopped.channel, stopped.failures, stopped.waiting) == ("smtp", 3, 57) and stopped.last_error
    rows = email_rows(engine)
    assert len(rows) == 60
    assert sorted((state, attempts) for _, state, attempts in rows) == [("failed", 1)] * 3 + [("pending", 0)] * 57

    # The next run (a new channel, a new breaker) against a working server sends them all.
    fixed = Settings(data_dir=tmp_path, smtp_host="127.0.0.1", smtp_port=smtp_server.port)
    later = deliver(engine, "many", now=morning + dt.timedelta(minutes=10), as_of=dt.date(2018, 9, 5), settings=fixed)
    assert (later.messages_sent, later.deferred) == (60, 0)
    assert {state for _, state, _ in email_rows(engine)} == {"sent"}


def test_smtp_timeouts_and_threshold_come_from_the_settings(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, smtp_host="mail.example.org", smtp_connect_timeout_s=4,
                        smtp_greeting_timeout_s=6, smtp_command_timeout_s=20, smtp_breaker_threshold=5)
    recipient = type("R", (), {"channel": "email", "address": "a@example.org"})()
    route = resolve_route(recipient, settings, lambda kind, options: SmtpChannel(**options))
    channel = route.channel
    assert isinstance(channel, SmtpChannel)
    assert (channel.connect_timeout, channel.greeting_timeout, channel.timeout, channel.breaker.threshold) == (4, 6, 20, 5)
    defaults = Settings(data_dir=tmp_path)
    assert (defaults.smtp_connect_timeout_s, defaults.smtp_greeting_timeout_s, defaults.smtp_command_timeout_s) == (10, 10, 30)


def test_a_long_tongbao_to_a_dingtalk_group_arrives_whole_within_20000_byte_bodies(
    engine: Engine, http_server: Any, tmp_path: Path
) -> None:
    many_units_plan(tmp_path, engine, 30, tasks=4, office="dingtalk: lg-robot")
    http_server.reply = lambda request: (
        (200, {"errcode": 460101, "errmsg": "description: body 大小不合法;solution:请保持大小在 20000bytes 以内;"})
        if len(request.body) > 20_000 else (200, {"errcode": 0, "errmsg": "ok"}))
    settings = Settings(data_dir=tmp_path, robots={"lg-robot": {"kind": "dingtalk", "url": http_server.url(), "secret": "SEC123"}})
    day = dt.date(2018, 9, 20)  # 13 working days after the due date: the office's group is told
    evaluate(engine, "many", day, now=at(day))
    summary = deliver(engine, "many", now=at(day, dt.time(9, 0)), as_of=day, settings=settings)

    assert summary.failed == summary.dead == 0, summary.errors
    http_server.requests = [r for r in http_server.requests if r.path == "/robot/send"]
    contents = [r.json["text"]["content"] for r in http_server.requests]
    assert len(contents) >= 2 and max(len(r.body) for r in http_server.requests) <= 20_000
    items = [line for c in contents for line in c.splitlines() if "【" in line and line[:1].isdigit()]
    assert len(items) == 120 and len(set(items)) == 120  # 30 units × 4 tasks, each once, whole
    chunks = [content.split("\n\n", 1)[1] for content in contents]  # without the part header
    assert all(chunk.split(".", 1)[0].isdigit() for chunk in chunks[1:])  # each later part opens an item
    assert all(chunk.endswith("\n\n") for chunk in chunks[:-1])  # and the one before closed one

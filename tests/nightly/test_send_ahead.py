"""Sending ahead of the records (issue 17): an SMTP batch is sent on a thread of its own, at
most `ahead` messages before their `sent` records, against a real SMTP server."""

from __future__ import annotations

import dataclasses
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from plan_tracker.channels import DeliveryError, Message, Receipt, SmtpChannel
from plan_tracker.services.send_ahead import SendAhead

if TYPE_CHECKING:
    from tests.conftest import SmtpServer

AHEAD = 3


@dataclass(frozen=True)
class Item:
    message: Message


def items(count: int) -> list[Item]:
    base = Message(recipient_name="联络员", address="c@example.org", subject="【提醒】", text="请报送。", message_key="k")
    return [Item(dataclasses.replace(base, message_key=f"k{n}", address=f"c{n}@example.org")) for n in range(count)]


def received(server: SmtpServer) -> int:
    return len(server.handler.envelopes)


def wait_for(condition: object, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.01)


def channel_for(server: SmtpServer, credentials: tuple[str, str], password: str | None = None) -> SmtpChannel:
    user, right = credentials
    return SmtpChannel(server.host, server.port, username=user, password=password or right, timeout=5)


def test_the_sender_goes_at_most_ahead_messages_beyond_the_records(smtp_server: SmtpServer,
                                                                   smtp_credentials: tuple[str, str]) -> None:
    batch = items(10)
    recorded = 0
    with SendAhead(channel_for(smtp_server, smtp_credentials), batch, ahead=AHEAD, budget_s=60) as sender:
        for went in sender.results():
            if recorded == 0:  # hold the first record back: the sender runs ahead, then waits
                wait_for(lambda: received(smtp_server) >= AHEAD)
                time.sleep(0.2)
                assert received(smtp_server) == AHEAD
            assert all(isinstance(result, Receipt) for _, result in went)
            recorded += len(went)
            assert received(smtp_server) <= recorded + AHEAD
            sender.recorded(len(went))
    assert recorded == 10 and received(smtp_server) == 10 and sender.unsent == []
    assert [e.rcpt_tos[0] for e in smtp_server.handler.envelopes] == [f"c{n}@example.org" for n in range(10)]


def test_records_gather_half_the_window_and_a_slow_message_is_recorded_alone(
        smtp_server: SmtpServer, smtp_credentials: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A transaction per message or two cost as much as sending them: the delivery thread
    waits (GATHER_S at most) until half the window has gone, then records it together.
    The wait is set per half so that neither depends on how busy the machine is: a long one
    (no message takes 10 s on a local server) where groups must fill, a short one against a
    far slower server where each message must go alone."""
    from plan_tracker.services import send_ahead

    monkeypatch.setattr(send_ahead, "GATHER_S", 10.0)
    groups: list[int] = []
    with SendAhead(channel_for(smtp_server, smtp_credentials), items(24), ahead=8, budget_s=60) as sender:
        for went in sender.results():
            groups.append(len(went))
            assert received(smtp_server) <= sum(groups) + 8  # the window still holds
            sender.recorded(len(went))
    assert sum(groups) == 24 and all(size >= 4 for size in groups[:-1]), groups

    monkeypatch.setattr(send_ahead, "GATHER_S", 0.02)

    class Slow(SmtpChannel):  # each message takes far longer than the wait for the next
        @contextmanager
        def session(self):  # type: ignore[no-untyped-def, override]
            with super().session() as send:
                def slowly(message: Message) -> Receipt:
                    time.sleep(0.4)
                    return send(message)
                yield slowly

    user, password = smtp_credentials
    slow = Slow(smtp_server.host, smtp_server.port, username=user, password=password, timeout=5)
    slow_groups: list[int] = []
    with SendAhead(slow, items(3), ahead=8, budget_s=60) as sender:
        for went in sender.results():
            slow_groups.append(len(went))
            sender.recorded(len(went))
    assert slow_groups == [1, 1, 1]


def test_an_error_while_recording_stops_the_sender_within_its_window(smtp_server: SmtpServer,
                                                                      smtp_credentials: tuple[str, str]) -> None:
    class Crash(Exception):
        pass

    with pytest.raises(Crash), SendAhead(channel_for(smtp_server, smtp_credentials), items(20), ahead=AHEAD,
                                         budget_s=60) as sender:
        for _ in sender.results():
            raise Crash  # nothing recorded: the sender may have sent its window, no more
    assert 1 <= received(smtp_server) <= AHEAD  # its window at most


def test_a_channel_fault_hands_back_the_rest_unsent(smtp_server: SmtpServer,
                                                    smtp_credentials: tuple[str, str]) -> None:
    batch = items(6)
    outcomes = []
    with SendAhead(channel_for(smtp_server, smtp_credentials, password="wrong"), batch, ahead=AHEAD,
                   budget_s=60) as sender:
        for went in sender.results():
            outcomes += [result for _, result in went]
            sender.recorded(len(went))
    assert len(outcomes) == 1 and isinstance(outcomes[0], DeliveryError) and outcomes[0].channel_fault
    assert sender.unsent == batch[1:] and received(smtp_server) == 0


def test_a_batch_past_its_budget_hands_back_the_rest(smtp_server: SmtpServer,
                                                     smtp_credentials: tuple[str, str]) -> None:
    batch = items(5)
    with SendAhead(channel_for(smtp_server, smtp_credentials), batch, ahead=1, budget_s=0.0) as sender:
        for went in sender.results():
            sender.recorded(len(went))
    assert received(smtp_server) == 1 and sender.unsent == batch[1:]  # the first always goes


def test_a_failure_inside_the_sender_is_raised_where_the_records_are_written() -> None:
    class Broken:
        name = "broken"

        def send(self, message: Message) -> Receipt:
            raise RuntimeError("a bug in a channel")

    with pytest.raises(RuntimeError, match="a bug in a channel"), \
            SendAhead(Broken(), items(3), ahead=AHEAD, budget_s=60) as sender:  # type: ignore[arg-type]
        for went in sender.results():
            sender.recorded(len(went))

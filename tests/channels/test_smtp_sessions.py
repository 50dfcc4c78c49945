"""One SMTP connection for many messages (issue 17): a delivery batch logs in once and sends
over one connection; a connection the server dropped is opened again; each message is
still judged alone."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from typing import TYPE_CHECKING, Any

from plan_tracker.channels import DeliveryError, Message, SmtpChannel

if TYPE_CHECKING:
    from tests.channels.conftest import SmtpServer


def peers_of(server: SmtpServer) -> list[Any]:
    """Record the client address of each accepted message (one per connection)."""
    peers: list[Any] = []
    original = server.handler.handle_DATA

    async def handle_DATA(smtp: Any, session: Any, envelope: Any) -> str:
        peers.append(session.peer)
        return await original(smtp, session, envelope)

    server.handler.handle_DATA = handle_DATA  # type: ignore[method-assign]
    return peers


def test_a_session_sends_many_messages_over_one_connection_logged_in_once(
        smtp_server: SmtpServer, smtp_credentials: tuple[str, str], message: Message) -> None:
    peers = peers_of(smtp_server)
    user, password = smtp_credentials
    channel = SmtpChannel(smtp_server.host, smtp_server.port, username=user, password=password, timeout=5)
    with channel.session() as send:
        receipts = [send(dataclasses.replace(message, message_key=f"k{n}")) for n in range(5)]
    assert len(smtp_server.handler.envelopes) == 5 and len({r.detail for r in receipts}) == 5
    assert len(set(peers)) == 1  # one connection, one login


def test_a_refused_recipient_fails_alone_and_the_session_goes_on(smtp_server: SmtpServer, message: Message) -> None:
    peers = peers_of(smtp_server)
    channel = SmtpChannel(smtp_server.host, smtp_server.port, timeout=5)
    outcomes: list[str] = []
    with channel.session() as send:
        for n, address in enumerate(["a@example.org", "bad@example.org", "c@example.org"]):
            smtp_server.handler.rcpt_reply = "550 5.1.1 no such user" if address.startswith("bad") else None
            try:
                send(dataclasses.replace(message, message_key=f"r{n}", address=address))
                outcomes.append("sent")
            except DeliveryError as exc:
                outcomes.append("permanent" if exc.permanent else "transient")
    assert outcomes == ["sent", "permanent", "sent"]
    assert len(set(peers)) == 1  # the refusal was an answer: the connection stayed usable


def test_a_connection_the_server_dropped_between_messages_is_opened_again(
        smtp_server: SmtpServer, message: Message) -> None:
    peers = peers_of(smtp_server)
    original = smtp_server.handler.handle_DATA
    hung_up = threading.Event()

    def hang_up(smtp: Any) -> None:
        smtp.transport.close()
        hung_up.set()

    async def hang_up_after_the_first(smtp: Any, session: Any, envelope: Any) -> str:
        reply = await original(smtp, session, envelope)
        if len(peers) == 1:  # the server closes the connection once the first message is in
            asyncio.get_running_loop().call_later(0.05, hang_up, smtp)
        return reply

    smtp_server.handler.handle_DATA = hang_up_after_the_first  # type: ignore[method-assign]
    channel = SmtpChannel(smtp_server.host, smtp_server.port, timeout=5)
    with channel.session() as send:
        send(dataclasses.replace(message, message_key="d1"))
        assert hung_up.wait(10)  # however busy the machine, the second message finds it closed
        time.sleep(0.2)
        send(dataclasses.replace(message, message_key="d2"))
        send(dataclasses.replace(message, message_key="d3"))
    assert len(smtp_server.handler.envelopes) == 3
    assert len(set(peers)) == 2 and peers[1] == peers[2]  # a new connection, then reused
    assert channel.breaker.failures == 0  # not counted as the peer being unreachable

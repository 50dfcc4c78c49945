"""The SMTP channel against a real aiosmtpd server on 127.0.0.1."""

from __future__ import annotations

import dataclasses
from email import policy
from email.parser import BytesParser
from typing import TYPE_CHECKING

import pytest

from plan_tracker.channels import DeliveryError, Message, SmtpChannel

if TYPE_CHECKING:
    from tests.channels.conftest import SmtpServer

SENDER = "区政府法制办 <duban@example.org>"


def channel_for(server: SmtpServer, **options: object) -> SmtpChannel:
    return SmtpChannel(server.host, server.port, SENDER, timeout=5, **options)  # type: ignore[arg-type]


def test_smtp_delivers_with_the_chinese_subject_decoded_correctly(smtp_server: SmtpServer, message: Message) -> None:
    receipt = channel_for(smtp_server).send(message)

    [envelope] = smtp_server.handler.envelopes
    assert envelope.mail_from == "duban@example.org"  # the bare address, not the display name
    assert envelope.rcpt_tos == ["zhangsan@example.org"]
    delivered = BytesParser(policy=policy.default).parsebytes(envelope.original_content or b"")
    assert delivered["Subject"] == message.subject
    assert delivered["To"].addresses[0].display_name == "张三"
    assert delivered.get_content().rstrip("\n") == message.text
    assert receipt.channel == "smtp"
    assert receipt.detail == delivered["Message-ID"]


def test_smtp_message_id_is_the_same_when_the_same_key_is_sent_again(smtp_server: SmtpServer, message: Message) -> None:
    # A resend after a crash must be recognisable as the same message by mail clients.
    channel = channel_for(smtp_server)
    first, second = channel.send(message), channel.send(message)
    other = channel.send(dataclasses.replace(message, message_key="another-key"))
    assert first.detail == second.detail != other.detail


def test_smtp_sends_the_html_alternative_when_given(smtp_server: SmtpServer, message: Message) -> None:
    channel_for(smtp_server).send(dataclasses.replace(message, html="<p>请尽快<b>反馈</b></p>"))
    delivered = BytesParser(policy=policy.default).parsebytes(smtp_server.handler.envelopes[0].original_content or b"")
    html = delivered.get_body(preferencelist=("html",))
    assert html is not None and "请尽快<b>反馈</b>" in html.get_content()


def test_smtp_recipient_refused_with_550_is_permanent(smtp_server: SmtpServer, message: Message) -> None:
    smtp_server.handler.rcpt_reply = "550 5.1.1 Mailbox unavailable"
    with pytest.raises(DeliveryError) as caught:
        channel_for(smtp_server).send(message)
    assert caught.value.permanent
    assert not caught.value.channel_fault  # one bad address must not switch email off
    assert "550" in str(caught.value)


def test_smtp_451_at_data_is_transient(smtp_server: SmtpServer, message: Message) -> None:
    smtp_server.handler.data_reply = "451 4.3.0 Try again later"
    with pytest.raises(DeliveryError) as caught:
        channel_for(smtp_server).send(message)
    assert not caught.value.permanent
    assert smtp_server.handler.envelopes == []


def test_smtp_451_for_the_recipient_is_transient(smtp_server: SmtpServer, message: Message) -> None:
    smtp_server.handler.rcpt_reply = "451 4.7.1 Greylisted, come back later"
    with pytest.raises(DeliveryError) as caught:
        channel_for(smtp_server).send(message)
    assert not caught.value.permanent


def test_smtp_connection_refused_is_transient(closed_port: int, message: Message) -> None:
    channel = SmtpChannel("127.0.0.1", closed_port, SENDER, timeout=2)
    with pytest.raises(DeliveryError) as caught:
        channel.send(message)
    assert not caught.value.permanent


def test_smtp_channel_connects_only_when_sending(closed_port: int) -> None:
    # Building the channel (as the registry does at start-up) must not touch the network.
    SmtpChannel("127.0.0.1", closed_port, SENDER)


def test_smtp_logs_in_with_good_credentials(
    smtp_server: SmtpServer, smtp_credentials: tuple[str, str], message: Message
) -> None:
    username, password = smtp_credentials
    channel_for(smtp_server, username=username, password=password).send(message)
    assert len(smtp_server.handler.envelopes) == 1


def test_smtp_wrong_password_is_a_permanent_channel_fault(
    smtp_server: SmtpServer, smtp_credentials: tuple[str, str], message: Message
) -> None:
    username, _ = smtp_credentials
    with pytest.raises(DeliveryError) as caught:
        channel_for(smtp_server, username=username, password="wrong-password").send(message)
    assert caught.value.permanent and caught.value.channel_fault
    assert "535" in str(caught.value)  # refused by AUTH, not for lack of it
    assert "wrong-password" not in str(caught.value)
    assert smtp_server.handler.envelopes == []


def test_smtp_malformed_address_is_permanent_and_sends_nothing(smtp_server: SmtpServer, message: Message) -> None:
    bad = dataclasses.replace(message, address="zhangsan@example.org\r\nBcc: everyone@example.org")
    with pytest.raises(DeliveryError) as caught:
        channel_for(smtp_server).send(bad)
    assert caught.value.permanent
    assert smtp_server.handler.envelopes == []


def test_smtp_repr_never_shows_the_password() -> None:
    channel = SmtpChannel("smtp.example.org", 587, SENDER, "duban", "hunter2-password", starttls=True)
    assert "hunter2-password" not in repr(channel)
    assert "smtp.example.org" in repr(channel)


def test_smtp_refuses_starttls_and_ssl_together() -> None:
    with pytest.raises(ValueError):
        SmtpChannel("smtp.example.org", 465, SENDER, starttls=True, ssl=True)


def test_a_chinese_domain_to_a_server_without_smtputf8_fails_that_message_only(
        ascii_smtp_server: SmtpServer, message: Message) -> None:
    # One unit's address on a Chinese domain must not switch e-mail off for every other unit.
    channel = channel_for(ascii_smtp_server)
    with pytest.raises(DeliveryError) as caught:
        channel.send(dataclasses.replace(message, address="zhangsan@例子.中国"))
    assert caught.value.permanent and not caught.value.channel_fault
    assert "SMTPUTF8" in str(caught.value) and "例子.中国" in str(caught.value)
    channel.send(message)  # the next unit's message goes, on the same connection
    assert [e.rcpt_tos for e in ascii_smtp_server.handler.envelopes] == [["zhangsan@example.org"]]
    assert len(set(ascii_smtp_server.handler.peers)) == 1


def test_a_chinese_sender_address_to_a_server_without_smtputf8_is_the_channels_fault(
        ascii_smtp_server: SmtpServer, message: Message) -> None:
    channel = SmtpChannel(ascii_smtp_server.host, ascii_smtp_server.port, "督查办 <duban@例子.中国>", timeout=5)
    with pytest.raises(DeliveryError) as caught:
        channel.send(message)
    assert caught.value.permanent and caught.value.channel_fault  # no message of this channel can go
    assert ascii_smtp_server.handler.envelopes == []


def test_smtp_a_chinese_domain_goes_with_smtputf8_as_before(smtp_server: SmtpServer, message: Message) -> None:
    # As smtplib's send_message sent it: SMTPUTF8 on MAIL FROM for a non-ASCII envelope.
    channel_for(smtp_server).send(dataclasses.replace(message, address="zhangsan@例子.中国"))
    [envelope] = smtp_server.handler.envelopes
    assert envelope.rcpt_tos == ["zhangsan@例子.中国"] and envelope.smtp_utf8
    delivered = BytesParser(policy=policy.default).parsebytes(envelope.original_content or b"")
    assert delivered["Subject"] == message.subject

"""A hung mail server costs seconds, not minutes (issue 18, finding 7): the SMTP channel's
connect/greeting/command timeouts and its circuit breaker, against a TCP server that
accepts and never greets, one that greets and then falls silent, and aiosmtpd."""

from __future__ import annotations

import dataclasses
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from plan_tracker.channels import DeliveryError, Message, SmtpChannel
from plan_tracker.channels.breaker import circuit_open

if TYPE_CHECKING:
    from tests.conftest import HungServer, SmtpServer


def test_a_server_that_never_greets_fails_at_the_greeting_timeout(hung_server: HungServer, message: Message) -> None:
    channel = SmtpChannel(hung_server.host, hung_server.port, greeting_timeout=0.3, timeout=30)
    started = time.monotonic()
    with pytest.raises(DeliveryError) as caught:
        channel.send(message)
    elapsed = time.monotonic() - started
    assert 0.25 < elapsed < 3  # the greeting timeout, not the 30 s command timeout
    assert not caught.value.permanent  # the server may come back: retried on a later run
    assert "no answer in time" in str(caught.value)


@pytest.fixture
def silent_after_greeting() -> Iterator[int]:
    """A server that says 220 and then never answers a command (EHLO hangs)."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.sendall(b"220 mail.example.org ESMTP\r\n")
            held.append(conn)

    threading.Thread(target=serve, daemon=True).start()
    yield int(listener.getsockname()[1])
    listener.close()
    for conn in held:
        conn.close()


def test_a_command_that_gets_no_answer_fails_at_the_command_timeout(silent_after_greeting: int, message: Message) -> None:
    channel = SmtpChannel("127.0.0.1", silent_after_greeting, greeting_timeout=30, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(DeliveryError) as caught:
        channel.send(message)
    assert time.monotonic() - started < 3
    assert not caught.value.permanent


def test_the_breaker_opens_after_three_unreachable_failures_and_tries_no_more(
    hung_server: HungServer, message: Message
) -> None:
    channel = SmtpChannel(hung_server.host, hung_server.port, greeting_timeout=0.2, breaker_threshold=3)
    outcomes = []
    for n in range(6):
        try:
            channel.send(dataclasses.replace(message, message_key=f"k{n}"))
        except DeliveryError as exc:
            outcomes.append(str(exc))
    assert len(outcomes) == 6
    assert len(hung_server.accepted) == 3  # the last three never connected
    assert all(o.startswith("not attempted") for o in outcomes[3:])
    reason = circuit_open(channel)
    assert reason is not None and reason.startswith("3 connection failures in a row")


def test_an_answer_from_the_server_resets_the_count(
    smtp_server: SmtpServer, closed_port: int, message: Message
) -> None:
    channel = SmtpChannel(smtp_server.host, closed_port, breaker_threshold=3)
    for _ in range(2):
        with pytest.raises(DeliveryError):
            channel.send(message)  # refused: unreachable
    channel.port = smtp_server.port
    smtp_server.handler.rcpt_reply = "550 5.1.1 no such user"
    with pytest.raises(DeliveryError) as caught:
        channel.send(message)  # a refusal, but the server answered: the peer is alive
    assert caught.value.permanent
    channel.port = closed_port
    for _ in range(2):
        with pytest.raises(DeliveryError):
            channel.send(message)
    assert circuit_open(channel) is None  # 2 in a row since the answer, not 4


def test_a_greeting_of_421_counts_as_unreachable(message: Message) -> None:
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.sendall(b"421 4.3.2 too busy, try later\r\n")
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        channel = SmtpChannel("127.0.0.1", int(listener.getsockname()[1]), breaker_threshold=2)
        for _ in range(2):
            with pytest.raises(DeliveryError) as caught:
                channel.send(message)
            assert not caught.value.permanent and "421" in str(caught.value)
        assert circuit_open(channel) is not None
    finally:
        listener.close()


def test_timeouts_must_be_positive() -> None:
    with pytest.raises(ValueError):
        SmtpChannel("127.0.0.1", 25, greeting_timeout=0)


def test_smtps_handshake_with_a_hung_server_is_cut_by_the_connect_timeout(hung_server: HungServer, message: Message) -> None:
    # Port 465: the TLS handshake is part of connecting, so a silent peer stops it there.
    channel = SmtpChannel(hung_server.host, hung_server.port, ssl=True, connect_timeout=0.3, greeting_timeout=30)
    started = time.monotonic()
    with pytest.raises(DeliveryError) as caught:
        channel.send(message)
    assert time.monotonic() - started < 3
    assert not caught.value.permanent and channel.breaker.failures == 1


def _self_signed(folder: Path) -> ssl.SSLContext:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context


def test_starttls_still_checks_the_certificate_against_the_host(tmp_path: Path, message: Message) -> None:
    # The timed connection is opened without a host (so smtplib's single timeout is not
    # used); STARTTLS must still know the host name to check the server's certificate.
    from aiosmtpd.controller import Controller
    from tests.conftest import RecordingHandler, free_port

    port = free_port()
    controller = Controller(RecordingHandler(), hostname="127.0.0.1", port=port, tls_context=_self_signed(tmp_path))
    controller.start()
    try:
        with pytest.raises(DeliveryError) as caught:
            SmtpChannel("127.0.0.1", port, starttls=True).send(message)
    finally:
        controller.stop()
    assert caught.value.permanent and "certificate" in str(caught.value)

"""Email through an SMTP server (smtplib).

`send` opens a connection per message; a delivery run sends a batch through `session`,
one connection logged in once for many messages (a connection per message cost a TCP
and often a TLS handshake and a login each: the bulk of a large night's mail time), opened
again when it drops. Nothing connects when the channel is built. Failures are sorted by SMTP reply
code: 4xx and network trouble are transient, 5xx refusals are permanent.

Three timeouts, because a peer can hang at three places: the TCP connect
(`connect_timeout`), the 220 greeting (`greeting_timeout`: a server that accepts and
never greets), and each later command (`timeout`; DATA included). smtplib has one
timeout for all three; a hung peer then cost 10 s per recipient. A `CircuitBreaker`
stops the run trying after a few unreachable failures in a row (see `breaker`).
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import socket
import ssl as ssl_module
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from plan_tracker.channels.base import DeliveryError, Message, Receipt
from plan_tracker.channels.breaker import CircuitBreaker, Unreachable, guarded
from plan_tracker.channels.email_format import email_bytes, envelope_address, message_id

logger = logging.getLogger(__name__)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _by_code(code: int | None, what: str, *, fault: bool = False) -> DeliveryError:
    permanent = code is not None and code >= 500
    return DeliveryError(f"{what} (SMTP {code})", permanent=permanent, channel_fault=fault and permanent)


def _reply(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def _quit_quietly(server: smtplib.SMTP) -> None:
    # Once DATA is accepted the message is the server's: a failed QUIT must not turn a
    # delivered message into an error (and so into a duplicate on retry).
    try:
        server.quit()
    except (smtplib.SMTPException, OSError):
        server.close()


class SmtpChannel:
    def __init__(
        self,
        host: str,
        port: int = 25,
        sender: str = "plan-tracker@localhost",
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        ssl: bool = False,
        timeout: float = 30,
        *,
        connect_timeout: float = 10,
        greeting_timeout: float = 10,
        breaker_threshold: int = 3,
        name: str = "smtp",
        clock: Callable[[], dt.datetime] = _utcnow,
    ) -> None:
        if starttls and ssl:
            raise ValueError("choose starttls (upgrade on port 587) or ssl (port 465), not both")
        if min(timeout, connect_timeout, greeting_timeout) <= 0:
            raise ValueError("SMTP timeouts must be positive numbers of seconds")
        self.host = host
        self.port = port
        self.sender = sender
        self.username = username
        self._password = password  # private and left out of __repr__: never shown
        self.starttls = starttls
        self.ssl = ssl
        self.timeout = timeout  # per command after the greeting
        self.connect_timeout = connect_timeout
        self.greeting_timeout = greeting_timeout
        self.breaker = CircuitBreaker(breaker_threshold)
        self.name = name
        self._clock = clock

    def __repr__(self) -> str:
        auth = f", username={self.username!r}, password='***'" if self.username else ""
        return (
            f"SmtpChannel(host={self.host!r}, port={self.port}, sender={self.sender!r}{auth}, "
            f"starttls={self.starttls}, ssl={self.ssl})"
        )

    def send(self, message: Message) -> Receipt:
        with self.session() as send:
            return send(message)

    @contextmanager
    def session(self) -> Iterator[Callable[[Message], Receipt]]:
        """A sender for many messages over one connection, logged in once; the connection
        is closed when the block ends. A connection that dropped is opened again for the
        next message (and, when a reused one turns out gone, for this one). Each message is
        still judged alone: its failure is its own, and the circuit breaker counts it."""
        link = _Link(self)
        where = f"{self.host}:{self.port}"
        try:
            yield lambda message: guarded(self.breaker, where, lambda: link.send(message))
        finally:
            link.close()

    def _connect(self) -> smtplib.SMTP:
        server: smtplib.SMTP
        if self.ssl:
            server = _TimedSMTPSSL(host=self.host, connect_timeout=self.connect_timeout,
                                   greeting_timeout=self.greeting_timeout, timeout=self.timeout,
                                   context=ssl_module.create_default_context())
        else:
            server = _TimedSMTP(host=self.host, connect_timeout=self.connect_timeout,
                                greeting_timeout=self.greeting_timeout, timeout=self.timeout)
        try:
            code, greeting = server.connect(self.host, self.port)  # the greeting, under greeting_timeout
            if code != 220:
                raise smtplib.SMTPConnectError(code, greeting)
            if server.sock is not None:
                server.sock.settimeout(self.timeout)  # every command from here on
            if self.starttls:
                server.starttls(context=ssl_module.create_default_context())
        except BaseException:
            server.close()
            raise
        return server

class _Link:
    """One SMTP connection reused across a session's messages."""

    def __init__(self, channel: SmtpChannel) -> None:
        self.channel = channel
        self.server: smtplib.SMTP | None = None
        self.reused = False  # the open connection already carried a message

    def send(self, message: Message) -> Receipt:
        channel = self.channel
        data = email_bytes(message, sender=channel.sender, date=channel._clock())
        try:
            try:
                self._transfer(data, message.address)
            except (smtplib.SMTPServerDisconnected, ConnectionError) as exc:
                # A reused connection the server closed while idle (or after its limit of
                # messages per connection): this message never started, so it goes on a new
                # one. A fresh connection failing is the peer's trouble, judged below.
                if not self.reused:
                    raise
                logger.debug("SMTP connection dropped (%s); reconnecting", exc)
                self.close()
                self._transfer(data, message.address)
        except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused) as exc:
            # an answer (smtplib has reset the transaction): the connection stays usable,
            # unless the answer was to the greeting or the login
            if isinstance(exc, smtplib.SMTPAuthenticationError | smtplib.SMTPConnectError):
                self.close()
            raise _translate(exc, channel) from None
        except (smtplib.SMTPException, OSError) as exc:
            self.close()  # the connection's state is unknown: never reuse it
            raise _translate(exc, channel) from None
        self.reused = True
        logger.debug("mail for %s handed to %s:%s", message.address, channel.host, channel.port)
        return Receipt(channel=channel.name, detail=message_id(message.message_key, channel.sender, message.plan_id))

    def _transfer(self, data: bytes, address: str) -> None:
        if self.server is None:
            self.reused = False
            server = self.channel._connect()
            try:
                if self.channel.username is not None:
                    server.login(self.channel.username, self.channel._password or "")
            except BaseException:
                server.close()
                raise
            self.server = server
        sender = envelope_address(self.channel.sender)
        self.server.sendmail(sender, [address], data, mail_options=_utf8_options(self.server, sender, address))

    def close(self) -> None:
        if self.server is not None:
            _quit_quietly(self.server)
            self.server = None


def _utf8_options(server: smtplib.SMTP, sender: str, recipient: str) -> tuple[str, ...]:
    """What `send_message` asked for a non-ASCII envelope address (a Chinese domain): the
    server's SMTPUTF8. Without it, a non-ASCII sender is the channel's fault (no message can
    go), while a non-ASCII recipient is that one message's: the others still go. The
    message's own fields are ASCII."""
    if sender.isascii() and recipient.isascii():
        return ()
    server.ehlo_or_helo_if_needed()
    if server.has_extn("smtputf8"):
        return ("SMTPUTF8", "BODY=8BITMIME")
    if not sender.isascii():
        raise smtplib.SMTPNotSupportedError("One or more source or delivery addresses require internationalized"
                                            " email support, but the server does not advertise SMTPUTF8")
    raise DeliveryError(f"the server does not accept internationalized addresses (no SMTPUTF8): {recipient}",
                        permanent=True)


def _translate(exc: BaseException, channel: SmtpChannel) -> DeliveryError:
    """Sort an smtplib failure: an answer from the peer (refusal by reply code), a channel
    fault (authentication, missing STARTTLS/AUTH, a rejected certificate), or unreachable."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        reply = "; ".join(_reply(text) for _, text in exc.recipients.values())
        return DeliveryError(f"recipient refused (SMTP {codes}): {reply}", permanent=all(c >= 500 for c in codes))
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        # 535 wrong credentials: permanent for every message, so a channel fault.
        return _by_code(exc.smtp_code, "authentication failed", fault=True)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        # The server lacks STARTTLS or AUTH: a configuration error, retrying cannot help.
        return DeliveryError(f"server does not support: {exc}", permanent=True, channel_fault=True)
    if isinstance(exc, smtplib.SMTPConnectError):  # a greeting other than 220 (421: busy, closing)
        # 421 is the server saying it cannot serve now: as unreachable as no answer.
        error = _by_code(exc.smtp_code, f"server refused the connection: {_reply(exc.smtp_error)}")
        return error if error.permanent else Unreachable(str(error))
    if isinstance(exc, smtplib.SMTPResponseException):  # sender refused, data refused
        return _by_code(exc.smtp_code, f"server refused: {_reply(exc.smtp_error)}")
    if isinstance(exc, ssl_module.SSLCertVerificationError):
        return DeliveryError(f"TLS certificate rejected: {exc}", permanent=True, channel_fault=True)
    # refused, reset, timeout, DNS, disconnected
    return Unreachable(f"could not reach {channel.host}:{channel.port}: {_what(exc)}")


def _what(exc: BaseException) -> str:
    # smtplib turns a read timeout into SMTPServerDisconnected("...: timed out"); the
    # TimeoutError is its context. Say plainly that the server did not answer.
    if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
        return f"no answer in time ({type(exc).__name__}: {exc})"
    return f"{type(exc).__name__}: {exc}"


class _TimedSMTP(smtplib.SMTP):
    """smtplib.SMTP with its own connect and greeting timeouts (smtplib has one for all)."""

    def __init__(self, *, host: str, connect_timeout: float, greeting_timeout: float, timeout: float) -> None:
        self.connect_timeout, self.greeting_timeout = connect_timeout, greeting_timeout
        super().__init__(timeout=timeout)  # no host: nothing connects here
        self._host = host  # what smtplib would have kept: STARTTLS checks the certificate against it

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock: socket.socket = super()._get_socket(host, port, self.connect_timeout)  # type: ignore[misc]
        sock.settimeout(self.greeting_timeout)
        return sock


class _TimedSMTPSSL(smtplib.SMTP_SSL):
    """The same for SMTPS (port 465): the TLS handshake is part of the connect."""

    def __init__(self, *, host: str, connect_timeout: float, greeting_timeout: float, timeout: float,
                 context: Any) -> None:
        self.connect_timeout, self.greeting_timeout = connect_timeout, greeting_timeout
        super().__init__(timeout=timeout, context=context)
        self._host = host  # the TLS handshake checks the certificate against it

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock: socket.socket = super()._get_socket(host, port, self.connect_timeout)  # type: ignore[misc]
        sock.settimeout(self.greeting_timeout)
        return sock

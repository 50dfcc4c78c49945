"""Email through an SMTP server (smtplib).

One connection per `send`: reminders go out once a night, one message per recipient, so
a connection per message costs little and leaves no session to go stale or leak between
sends; nothing connects when the channel is built. Failures are sorted by SMTP reply
code: 4xx and network trouble are transient, 5xx refusals are permanent.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import ssl as ssl_module
from collections.abc import Callable

from plan_tracker.channels.base import DeliveryError, Message, Receipt
from plan_tracker.channels.email_format import build_email, envelope_address

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
        timeout: float = 10,
        *,
        name: str = "smtp",
        clock: Callable[[], dt.datetime] = _utcnow,
    ) -> None:
        if starttls and ssl:
            raise ValueError("choose starttls (upgrade on port 587) or ssl (port 465), not both")
        self.host = host
        self.port = port
        self.sender = sender
        self.username = username
        self._password = password  # private and left out of __repr__: never shown
        self.starttls = starttls
        self.ssl = ssl
        self.timeout = timeout
        self.name = name
        self._clock = clock

    def __repr__(self) -> str:
        auth = f", username={self.username!r}, password='***'" if self.username else ""
        return (
            f"SmtpChannel(host={self.host!r}, port={self.port}, sender={self.sender!r}{auth}, "
            f"starttls={self.starttls}, ssl={self.ssl})"
        )

    def send(self, message: Message) -> Receipt:
        email = build_email(message, sender=self.sender, date=self._clock())
        try:
            server = self._connect()
            try:
                if self.username is not None:
                    server.login(self.username, self._password or "")
                server.send_message(email, from_addr=envelope_address(self.sender), to_addrs=[message.address])
            finally:
                _quit_quietly(server)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            reply = "; ".join(_reply(text) for _, text in exc.recipients.values())
            raise DeliveryError(
                f"recipient refused (SMTP {codes}): {reply}", permanent=all(c >= 500 for c in codes)
            ) from None
        except smtplib.SMTPAuthenticationError as exc:
            # 535 wrong credentials: permanent for every message, so a channel fault.
            raise _by_code(exc.smtp_code, "authentication failed", fault=True) from None
        except smtplib.SMTPNotSupportedError as exc:
            # The server lacks STARTTLS or AUTH: a configuration error, retrying cannot help.
            raise DeliveryError(f"server does not support: {exc}", permanent=True, channel_fault=True) from None
        except smtplib.SMTPResponseException as exc:  # sender refused, data refused, greeting
            raise _by_code(exc.smtp_code, f"server refused: {_reply(exc.smtp_error)}") from None
        except ssl_module.SSLCertVerificationError as exc:
            raise DeliveryError(f"TLS certificate rejected: {exc}", permanent=True, channel_fault=True) from None
        except (smtplib.SMTPException, OSError) as exc:  # refused, reset, timeout, DNS
            raise DeliveryError(f"could not reach {self.host}:{self.port}: {type(exc).__name__}: {exc}") from None
        logger.debug("mail for %s handed to %s:%s", message.address, self.host, self.port)
        return Receipt(channel=self.name, detail=str(email["Message-ID"]))

    def _connect(self) -> smtplib.SMTP:
        if self.ssl:
            return smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=ssl_module.create_default_context()
            )
        server = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        if self.starttls:
            try:
                server.starttls(context=ssl_module.create_default_context())
            except BaseException:
                server.close()
                raise
        return server

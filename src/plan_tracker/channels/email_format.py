"""Rendering a `Message` as an RFC 5322 email, shared by the SMTP channel and the file outbox.

The Message-ID is derived from `message_key`, so a resend after a crash carries the same
id and mail clients and archives can recognise the duplicate.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from plan_tracker.channels.base import DeliveryError, Message

DEFAULT_SENDER = "plan-tracker@localhost"


def key_digest(message_key: str) -> str:
    """A stable, filesystem- and header-safe fingerprint of any key (NUL, '/', Chinese)."""
    return hashlib.sha256(message_key.encode("utf-8", "surrogatepass")).hexdigest()


def message_id(message_key: str, sender: str) -> str:
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    return f"<{key_digest(message_key)[:40]}@{domain}>"


def envelope_address(sender: str) -> str:
    """The bare address of a sender given as 'a@b' or '督办室 <a@b>'."""
    return parseaddr(sender)[1] or sender


def _one_line(value: str) -> str:
    # A CR or LF in a header would be refused by the email package (header injection).
    return " ".join(value.splitlines()).strip()


def build_email(message: Message, *, sender: str, date: dt.datetime) -> EmailMessage:
    """The email for `message`; a malformed address is a permanent DeliveryError.

    Bodies are base64: safe through relays without 8BITMIME, and a parser gives the text
    back exactly (an 8bit body read from a CRLF file would come back with CRLFs in it).
    """
    email = EmailMessage()
    try:
        email["From"] = sender
        email["To"] = Address(display_name=_one_line(message.recipient_name), addr_spec=message.address)
    except (ValueError, IndexError, HeaderParseError) as exc:
        raise DeliveryError(f"bad email address: {exc}", permanent=True) from None
    # The email package encodes non-ASCII subjects as RFC 2047 (=?utf-8?b?...?=) on output.
    email["Subject"] = _one_line(message.subject)
    email["Date"] = format_datetime(date)
    email["Message-ID"] = message_id(message.message_key, sender)
    email["Auto-Submitted"] = "auto-generated"  # RFC 3834: vacation responders stay quiet
    email.set_content(message.text, charset="utf-8", cte="base64")
    if message.html is not None:
        email.add_alternative(message.html, subtype="html", charset="utf-8", cte="base64")
        # From the key, not random: a resend is the same bytes (Date aside). "=_" never occurs
        # in base64 text, so the boundary cannot collide with a body line.
        email.set_boundary(f"=_pt_{key_digest(message.message_key)[:40]}")
    return email

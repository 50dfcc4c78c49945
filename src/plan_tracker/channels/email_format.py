"""Rendering a `Message` as an RFC 5322 email, shared by the SMTP channel and the file outbox.

The Message-ID is derived from `message_key`, so a resend after a crash carries the same
id and mail clients and archives can recognise the duplicate.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from email import policy as email_policy
from email.errors import HeaderParseError
from email.headerregistry import Address, BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from plan_tracker.channels.base import Attachment, DeliveryError, Message

DEFAULT_SENDER = "plan-tracker@localhost"
PLAN_TAG = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
# A Message-ID a receipt may answer: one bracketed id, no white space (header injection).
REFERENCE_ID = re.compile(r"<[^<>\s]{1,250}>")
REFERENCE = re.compile(r"<[0-9a-f]{40}\.([a-z0-9][a-z0-9-]{0,63})@[^>\s]*>")


class _MadeOnce(HeaderRegistry):
    """The standard header registry, except that each header's class is made once: the
    stock registry builds a new class (`type(...)`) for every header it parses, a third of
    the time a night spends building its e-mails. The headers and the bytes are the same."""

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = super().__getitem__(name)
        return made


POLICY = email_policy.default.clone(header_factory=_MadeOnce())


def key_digest(message_key: str) -> str:
    """A stable, filesystem- and header-safe fingerprint of any key (NUL, '/', Chinese)."""
    return hashlib.sha256(message_key.encode("utf-8", "surrogatepass")).hexdigest()


def message_id(message_key: str, sender: str, plan_id: str | None = None) -> str:
    """`<digest@domain>`, or `<digest.plan@domain>` for a message a unit may answer: the
    reply's In-Reply-To then names the plan (plan ids are lowercase letters, digits and '-')."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    tag = f".{plan_id}" if plan_id and PLAN_TAG.fullmatch(plan_id) else ""
    return f"<{key_digest(message_key)[:40]}{tag}@{domain}>"


def plans_named(header: str | None) -> list[str]:
    """The plans named by the Message-IDs in an In-Reply-To or References header (any
    sender can write these headers: they choose a plan's wording, never a unit's rights)."""
    return [found.group(1) for found in REFERENCE.finditer(header or "")]


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
    email = EmailMessage(policy=POLICY)
    try:
        email["From"] = sender
        email["To"] = Address(display_name=_one_line(message.recipient_name), addr_spec=message.address)
    except (ValueError, IndexError, HeaderParseError) as exc:
        raise DeliveryError(f"bad email address: {exc}", permanent=True) from None
    # The email package encodes non-ASCII subjects as RFC 2047 (=?utf-8?b?...?=) on output.
    email["Subject"] = _one_line(message.subject)
    email["Date"] = format_datetime(date)
    email["Message-ID"] = message_id(message.message_key, sender, message.plan_id)
    email["Auto-Submitted"] = "auto-generated"  # RFC 3834: vacation responders stay quiet
    _reply_headers(email, message)
    email.set_content(message.text, charset="utf-8", cte="base64")
    if message.html is not None:
        email.add_alternative(message.html, subtype="html", charset="utf-8", cte="base64")
    for attachment in message.attachments:
        _attach(email, attachment)
    # Boundaries from the key, not random: a resend is the same bytes (Date aside). "=_" never
    # occurs in base64 text, so a boundary cannot collide with a body line; nested parts
    # (text + HTML inside the attachments' multipart/mixed) are numbered in front, so no
    # boundary is a prefix of another.
    digest = key_digest(message.message_key)[:40]
    for number, part in enumerate(p for p in email.walk() if p.is_multipart()):
        part.set_boundary(f"=_pt{number}_{digest}")
    return email


def _reply_headers(email: EmailMessage, message: Message) -> None:
    try:
        if message.reply_to:
            email["Reply-To"] = message.reply_to
    except (ValueError, IndexError, HeaderParseError) as exc:
        raise DeliveryError(f"bad reply address: {exc}", permanent=True) from None
    if message.in_reply_to and REFERENCE_ID.fullmatch(message.in_reply_to):
        email["In-Reply-To"] = message.in_reply_to
        email["References"] = message.in_reply_to


def _attach(email: EmailMessage, attachment: Attachment) -> None:
    maintype, _, subtype = attachment.mime_type.partition("/")
    # RFC 2231 names (filename*=utf-8''…): Chinese unit names survive every mail client.
    email.add_attachment(attachment.content, maintype=maintype, subtype=subtype or "octet-stream",
                         filename=("utf-8", "", _one_line(attachment.filename)))

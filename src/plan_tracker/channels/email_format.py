"""Rendering a `Message` as an RFC 5322 email, shared by the SMTP channel and the file outbox.

The Message-ID is derived from `message_key`, so a resend after a crash carries the same
id and mail clients and archives can recognise the duplicate.

`email_bytes` glues pieces the `email` package encodes (RFC 2047 words and folding by
`email.header.Header`, display names by `email.utils.formataddr`, the sender's and reply
address's fields by its modern policy, once per value) around bodies base64-encoded in one
`binascii` call each. Building an `EmailMessage` and flattening it cost about 5 ms for a
reminder with an HTML part and a reply form, mostly the modern policy's header folding
and the generator writing the bodies line by line; a night must build thousands.
"""

from __future__ import annotations

import binascii
import datetime as dt
import functools
import hashlib
import itertools
import re
from email import policy as email_policy
from email.errors import HeaderParseError
from email.header import Header
from email.headerregistry import Address
from email.utils import format_datetime, formataddr, parseaddr, quote
from urllib.parse import quote as percent_encoded

from plan_tracker.channels.base import Attachment, DeliveryError, Message

DEFAULT_SENDER = "plan-tracker@localhost"
PLAN_TAG = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
# A Message-ID a receipt may answer: one bracketed id, no white space (header injection).
REFERENCE_ID = re.compile(r"<[^<>\s]{1,250}>")
REFERENCE = re.compile(r"<[0-9a-f]{40}\.([a-z0-9][a-z0-9-]{0,63})@[^>\s]*>")

CRLF = "\r\n"  # what SMTP sends and the outbox files have always held
LINE = 78  # RFC 5322's recommended line length; folding keeps to it
LONGEST_WORD = 900  # below the 998-character hard limit: a longer word goes as RFC 2047 words
BASE64_LINE = 76  # characters per body line, as the email package writes base64 (57 bytes)
# Addresses the header parser accepts unchanged (dot-atom@dot-atom): the common case skips it.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
PLAIN_ADDRESS = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")
_MIME_NAME = r"[A-Za-z0-9!#$%&'*+.^_`|~-]+"
MIME_TYPE = re.compile(rf"(?!multipart/|message/){_MIME_NAME}/{_MIME_NAME}", re.IGNORECASE)
_ADDRESS_ERRORS = (ValueError, IndexError, HeaderParseError)  # what the email package raises


def key_digest(message_key: str) -> str:
    """A stable, filesystem- and header-safe fingerprint of any key (NUL, '/', Chinese)."""
    return hashlib.sha256(message_key.encode("utf-8", "surrogatepass")).hexdigest()


def message_id(message_key: str, sender: str, plan_id: str | None = None) -> str:
    """`<digest@domain>`, or `<digest.plan@domain>` for a message a unit may answer: the
    reply's In-Reply-To then names the plan (plan ids are lowercase letters, digits and '-')."""
    domain = _domain(sender)
    tag = f".{plan_id}" if plan_id and PLAN_TAG.fullmatch(plan_id) else ""
    return f"<{key_digest(message_key)[:40]}{tag}@{domain}>"


@functools.lru_cache(maxsize=64)
def _domain(sender: str) -> str:
    return parseaddr(sender)[1].rpartition("@")[2] or "localhost"


def plans_named(header: str | None) -> list[str]:
    """The plans named by the Message-IDs in an In-Reply-To or References header (any
    sender can write these headers: they choose a plan's wording, never a unit's rights)."""
    return [found.group(1) for found in REFERENCE.finditer(header or "")]


def envelope_address(sender: str) -> str:
    """The bare address of a sender given as 'a@b' or '督办室 <a@b>'."""
    return parseaddr(sender)[1] or sender


def _one_line(value: str) -> str:
    # A CR or LF in a header would start a header of the sender's choosing (header injection).
    return " ".join(value.splitlines()).strip()


def email_bytes(message: Message, *, sender: str, date: dt.datetime) -> bytes:
    """The email for `message`, CRLF line ends; a malformed address is a permanent DeliveryError.

    Bodies are base64: safe through relays without 8BITMIME, and a parser gives the text
    back exactly (an 8bit body read from a CRLF file would come back with CRLFs in it).
    """
    try:
        sender_field = _address_field("From", sender)
    except _ADDRESS_ERRORS as exc:
        raise DeliveryError(f"bad email address: {exc}", permanent=True) from None
    fields = [
        sender_field,
        _field("To", _recipient(message)),
        _text_field("Subject", _one_line(message.subject)),
        f"Date: {format_datetime(date)}",
        _text_field("Message-ID", message_id(message.message_key, sender, message.plan_id)),
        "Auto-Submitted: auto-generated",  # RFC 3834: vacation responders stay quiet
        *_reply_fields(message),
        "MIME-Version: 1.0",
    ]
    content_fields, body = _content(message)
    return _entity([*fields, *content_fields], body)


def _recipient(message: Message) -> str | Header:
    address = _addr_spec(message.address)
    name = _one_line(message.recipient_name)
    ascii_name = name.isascii() and name.replace("\t", " ").isprintable()
    # formataddr quotes a name with a comma or quotes, and writes a Chinese one as a single
    # =?utf-8?b?...?= word: a seventh of Header's time, but only right while the word fits.
    one_word = formataddr((name, address), charset="utf-8")
    if ascii_name or len(one_word) <= LINE - len("To: "):
        return one_word
    words = Header(name, "utf-8", header_name="To")  # several words, folded
    words.append(f"<{address}>", "us-ascii")
    return words


def _addr_spec(address: str) -> str:
    """The recipient's address as the To field writes it. The header parser refuses several
    addresses, a CR or LF, a non-ASCII local part; a non-ASCII domain goes as IDNA (xn--)."""
    if PLAIN_ADDRESS.fullmatch(address):
        return address
    try:
        parsed = Address(addr_spec=address)
        if parsed.domain.isascii():
            return parsed.addr_spec
        return Address(username=parsed.username, domain=parsed.domain.encode("idna").decode("ascii")).addr_spec
    except _ADDRESS_ERRORS as exc:  # UnicodeError (IDNA) is a ValueError
        raise DeliveryError(f"bad email address: {exc}", permanent=True) from None


@functools.lru_cache(maxsize=64)
def _address_field(name: str, value: str) -> str:
    """A From or Reply-To field as the modern policy writes it: a night has a handful of
    senders and reply addresses, each parsed once (it refuses a CR or LF)."""
    policy = email_policy.SMTP
    return policy.header_store_parse(name, value)[1].fold(policy=policy).removesuffix(CRLF)


def _reply_fields(message: Message) -> list[str]:
    fields = []
    if message.reply_to:
        try:
            fields.append(_address_field("Reply-To", message.reply_to))
        except _ADDRESS_ERRORS as exc:
            raise DeliveryError(f"bad reply address: {exc}", permanent=True) from None
    if message.in_reply_to and REFERENCE_ID.fullmatch(message.in_reply_to):
        fields += [_text_field("In-Reply-To", message.in_reply_to), _text_field("References", message.in_reply_to)]
    return fields


def _text_field(name: str, value: str) -> str:
    """Printable ASCII as it is; anything else as RFC 2047 words (=?utf-8?b?...?=), which
    also split a word too long for any line."""
    if value.isascii() and value.isprintable() and all(len(word) < LONGEST_WORD for word in value.split()):
        return _field(name, value)
    return _encoded_field(name, value)


@functools.lru_cache(maxsize=1024)
def _encoded_field(name: str, value: str) -> str:
    """A field as RFC 2047 words, once per value: a night's subjects are a handful (the plan's
    title, the level, the counts) over a thousand messages, and `Header` takes about 60 µs
    to encode one."""
    return _field(name, Header(value, "utf-8", header_name=name))


def _field(name: str, value: str | Header) -> str:
    """One header field, folded to 78 characters by `Header` (at white space, or between
    RFC 2047 words); a value without white space too long for the name's line (a
    Message-ID) goes on a line of its own."""
    if isinstance(value, str):
        if len(name) + 2 + len(value) <= LINE:
            return f"{name}: {value}"
        if " " not in value:
            return f"{name}:{CRLF} {value}"
        value = Header(value, "us-ascii", header_name=name)
    return f"{name}: {value.encode(splitchars=' ', maxlinelen=LINE, linesep=CRLF)}"


# ---------------------------------------------------------------- the MIME parts

Part = tuple[list[str], bytes]  # content header fields, body


def _content(message: Message) -> Part:
    """text/plain, inside multipart/alternative with the HTML, inside multipart/mixed with
    the attachments. Boundaries from the key, not random: a resend is the same bytes (Date
    aside). "=_" never occurs in base64 text, so a boundary cannot collide with a body line;
    nested parts are numbered from the outside in, so no boundary is a prefix of another."""
    digest = key_digest(message.message_key)[:40]
    boundaries = (f"=_pt{number}_{digest}" for number in itertools.count())
    mixed = next(boundaries) if message.attachments else None
    content = _text_part("plain", message.text)
    if message.html is not None:
        content = _multipart("alternative", next(boundaries), [content, _text_part("html", message.html)])
    if mixed is not None:
        content = _multipart("mixed", mixed, [content, *map(_attachment_part, message.attachments)])
    return content


def _text_part(subtype: str, text: str) -> Part:
    # Line ends as the email package gives a text part: "\n" after every line, the last too.
    lines = b"\n".join(text.encode("utf-8").splitlines()) + b"\n"
    return [f'Content-Type: text/{subtype}; charset="utf-8"', "Content-Transfer-Encoding: base64"], _base64(lines)


def _attachment_part(attachment: Attachment) -> Part:
    maintype, _, subtype = attachment.mime_type.partition("/")
    mime_type = f"{maintype}/{subtype or 'octet-stream'}"
    if not MIME_TYPE.fullmatch(mime_type):  # never a header of its own (CR/LF) or a container
        mime_type = "application/octet-stream"
    fields = [_field("Content-Type", mime_type), "Content-Transfer-Encoding: base64",
              "Content-Disposition: attachment" + "".join(f";{CRLF} {p}" for p in _filename(attachment.filename))]
    return fields, _base64(attachment.content)


def _filename(filename: str) -> list[str]:
    """The filename parameter: quoted if printable ASCII and short, else RFC 2231
    (filename*=utf-8''%E5...; Chinese unit names survive every mail client), in sections
    that end between characters (filename*0*=..., filename*1*=...) to keep lines short."""
    name = _one_line(filename)
    if not name:
        return []  # no name at all, as the email package wrote it
    plain = f'filename="{quote(name)}"'
    if name.isascii() and name.isprintable() and len(plain) < LINE - 2:
        return [plain]
    sections = [""]
    for character in name:
        encoded = percent_encoded(character, safe="")
        if len(sections[-1]) + len(encoded) > LINE - 24:  # room for ' filename*10*=utf-8'';'
            sections.append("")
        sections[-1] += encoded
    if len(sections) == 1:
        return [f"filename*=utf-8''{sections[0]}"]
    first, *rest = sections
    return [f"filename*0*=utf-8''{first}", *(f"filename*{n}*={s}" for n, s in enumerate(rest, start=1))]


def _base64(data: bytes) -> bytes:
    encoded = binascii.b2a_base64(data, newline=False)  # one C call (base64.encodebytes loops per line)
    lines = [encoded[start:start + BASE64_LINE] for start in range(0, len(encoded), BASE64_LINE)]
    return b"\r\n".join(lines) + b"\r\n" if lines else b""


def _multipart(subtype: str, boundary: str, parts: list[Part]) -> Part:
    delimiter = f"--{boundary}\r\n".encode("ascii")
    body = b"".join(delimiter + _entity(*part) + b"\r\n" for part in parts) + f"--{boundary}--\r\n".encode("ascii")
    return [f'Content-Type: multipart/{subtype};{CRLF} boundary="{boundary}"'], body


def _entity(fields: list[str], body: bytes) -> bytes:
    # Every field is ASCII by now (RFC 2047 words, IDNA, percent-encoding).
    return (CRLF.join(fields) + CRLF + CRLF).encode("ascii") + body

"""Where replies are read from: an IMAP mailbox (imap-tools), or a local Maildir.

`PLAN_TRACKER_IMAP_URL` names it:

- `imaps://user:password@host[:993]/INBOX` — TLS from the first byte (the default);
- `imap://user:password@host[:143]/INBOX?starttls` — upgraded with STARTTLS;
- `imap://…?plain` — no TLS at all, allowed only to a loopback host (tests, a local relay);
- `maildir:/path/to/Maildir` — a local Maildir (the demo; a server delivering to disk).

Every message in the folder is new work: handled ones are flagged (\\Seen, \\Answered) and
moved to the done folder, never deleted; one that could not be handled stays where it is
and is read again on the next fetch. A message over the size cap is read as its header only.
"""

from __future__ import annotations

import email
import imaplib
import mailbox
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message as ParsedMessage
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from imap_tools.errors import ImapToolsError

from plan_tracker.domain.errors import DomainError

LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
TIMEOUT_S = 30
MAX_PER_FETCH = 500  # messages read per fetch; the rest wait for the next one (15 minutes later)


class MailboxConfigError(DomainError):
    """PLAN_TRACKER_IMAP_URL cannot be used as given (the message says how to fix it)."""


@dataclass(frozen=True)
class Incoming:
    uid: str
    raw: bytes  # the whole message; only its header when `whole` is False (over the cap)
    size: int
    whole: bool = True


class MailSource(Protocol):
    def messages(self, cap: int) -> Iterator[Incoming]: ...

    def done(self, uid: str, *, answered: bool) -> None: ...

    def close(self) -> None: ...


def open_source(url: str, done_folder: str) -> MailSource:
    """The source the URL names; MailboxConfigError for a URL that would send a password in
    the clear to another machine, or that names no folder or user."""
    parts = urlsplit(url)
    if parts.scheme == "maildir":
        return MaildirSource(Path(unquote(parts.path or parts.netloc)), done_folder)
    if parts.scheme not in ("imap", "imaps"):
        raise MailboxConfigError("mailbox.unknown_scheme", scheme=parts.scheme)
    options = parse_qs(parts.query, keep_blank_values=True)
    host = parts.hostname or ""
    if parts.scheme == "imap" and "starttls" not in options and ("plain" not in options or host not in LOOPBACK):
        raise MailboxConfigError("mailbox.cleartext")
    if not host or not parts.username:
        raise MailboxConfigError("mailbox.no_host_or_user")
    try:
        return ImapSource(host=host, port=parts.port, user=unquote(parts.username),
                          password=unquote(parts.password or ""), folder=unquote(parts.path.lstrip("/")) or "INBOX",
                          tls="tls" if parts.scheme == "imaps" else ("starttls" if "starttls" in options else "plain"),
                          done_folder=done_folder)
    except (OSError, imaplib.IMAP4.error, ImapToolsError) as exc:  # refused, TLS, login: say which, no traceback
        raise MailboxConfigError("mailbox.cannot_open", where=f"{host}:{parts.port or ''}",
                                 reason=f"{type(exc).__name__}: {exc}") from None


class ImapSource:
    def __init__(self, *, host: str, port: int | None, user: str, password: str, folder: str, tls: str,
                 done_folder: str) -> None:
        from imap_tools import MailBox, MailBoxStartTls, MailBoxUnencrypted

        context = ssl.create_default_context()
        if tls == "tls":
            self._box: Any = MailBox(host, port or 993, timeout=TIMEOUT_S, ssl_context=context)
        elif tls == "starttls":
            self._box = MailBoxStartTls(host, port or 143, timeout=TIMEOUT_S, ssl_context=context)
        else:
            self._box = MailBoxUnencrypted(host, port or 143, timeout=TIMEOUT_S)
        self._box.email_message_class = _RawMessage
        self._box.login(user, password, initial_folder=folder)
        self.done_folder = done_folder
        if not self._box.folder.exists(done_folder):
            self._box.folder.create(done_folder)

    def messages(self, cap: int) -> Iterator[Incoming]:
        heads = [(m.uid, m.size_rfc822, m.raw) for m in self._box.fetch(
            "ALL", mark_seen=False, headers_only=True, bulk=100, limit=MAX_PER_FETCH)]
        for uid, size, head in heads:
            if uid is None:
                continue
            if size > cap:  # never downloaded: the header says who to answer
                yield Incoming(uid, head, size, whole=False)
                continue
            for whole in self._box.fetch(uid_list=[uid], mark_seen=False):
                yield Incoming(uid, whole.raw, size)

    def done(self, uid: str, *, answered: bool) -> None:
        # STORE by hand: imap-tools' `flag` also EXPUNGEs the folder, which would finalise
        # deletions someone else marked. MOVE is atomic on the server (RFC 6851).
        flags = "(\\Seen \\Answered)" if answered else "(\\Seen)"
        result = self._box.client.uid("STORE", uid, "+FLAGS", flags)
        if result[0] != "OK":
            raise OSError(f"IMAP STORE {uid} failed: {result!r}")
        self._box.move([uid], self.done_folder)

    def close(self) -> None:
        self._box.logout()


def _raw_message_class() -> type:
    from imap_tools import MailMessage

    class RawMessage(MailMessage):  # type: ignore[misc]
        """The bytes as the server sent them (hashed for the ledger, parsed once by us)."""

        def __init__(self, fetch_data: list[Any]) -> None:
            raw, self._raw_uid_data, self._raw_flag_data = self._get_message_data_parts(fetch_data)
            self.raw = bytes(raw)
            self.obj = ParsedMessage()

    return RawMessage


_RawMessage = _raw_message_class()


class MaildirSource:
    """A Maildir: new messages in `new/` and `cur/`; handled ones go to the `.<done>` folder."""

    def __init__(self, path: Path, done_folder: str) -> None:
        if not path.is_dir():
            raise MailboxConfigError("mailbox.not_maildir", path=str(path))
        self._box = mailbox.Maildir(path, create=False)
        name = done_folder.replace("/", ".")
        self._done = self._box.get_folder(name) if name in self._box.list_folders() else self._box.add_folder(name)

    def messages(self, cap: int) -> Iterator[Incoming]:
        for key in sorted(self._box.keys())[:MAX_PER_FETCH]:
            with self._box.get_file(key) as handle:
                handle.seek(0, 2)
                size = handle.tell()
                handle.seek(0)
                raw = handle.read() if size <= cap else _header_of(handle)
            yield Incoming(key, raw, size, whole=size <= cap)

    def done(self, uid: str, *, answered: bool) -> None:
        message = self._box.get_message(uid)
        message.set_subdir("cur")
        message.set_flags("SR" if answered else "S")
        self._done.add(message)  # added before removed: a crash between leaves a copy, never a loss
        self._box.discard(uid)

    def close(self) -> None:
        self._box.close()


def _header_of(handle: Any, limit: int = 256 * 1024) -> bytes:
    head = handle.read(limit)
    end = head.find(b"\r\n\r\n")
    end = head.find(b"\n\n") if end < 0 else end
    return head if end < 0 else head[:end + 2]


def parse(raw: bytes) -> ParsedMessage:
    """The message as the email package reads it (lenient: defects are recorded, not raised)."""
    return email.message_from_bytes(raw, policy=email.policy.default)

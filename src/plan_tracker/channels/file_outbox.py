"""The default channel: one RFC 5322 `.eml` file per message in a local folder.

Needs no server, so it works on the first night; the files open in any mail client and
can be forwarded by hand or picked up by another system.

Idempotent by `message_key`: the file name is derived from the key alone, and a key whose
file already exists is not written again, so a resend after a crash neither duplicates
nor alters the message. Files appear atomically (temporary file, then `os.replace`): a
reader never sees half a message.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from email import policy
from pathlib import Path

from plan_tracker.atomic_files import write_atomically
from plan_tracker.channels.base import DeliveryError, Message, Receipt
from plan_tracker.channels.email_format import DEFAULT_SENDER, build_email, key_digest

logger = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_READABLE_PART = 80  # keeps names well under every filesystem's 255-byte limit


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def outbox_file_name(message_key: str) -> str:
    """A safe file name for a key: readable prefix plus a digest of the whole key.

    Only [A-Za-z0-9._-] survive and leading dots are dropped, so no key can name a path
    outside the folder ('../../etc/passwd', NUL, separators); the digest keeps keys that
    sanitise alike ('a/b' and 'a_b') apart.
    """
    readable = _UNSAFE.sub("_", message_key).lstrip(".")[:_READABLE_PART] or "message"
    return f"{readable}-{key_digest(message_key)[:16]}.eml"


class FileOutboxChannel:
    def __init__(
        self,
        folder: Path | str,
        *,
        sender: str = DEFAULT_SENDER,
        name: str = "file",
        clock: Callable[[], dt.datetime] = _utcnow,
    ) -> None:
        self.folder = Path(folder)
        self.sender = sender
        self.name = name
        self._clock = clock  # only for the Date header

    def __repr__(self) -> str:
        return f"FileOutboxChannel(folder={str(self.folder)!r}, name={self.name!r})"

    def path_for(self, message: Message) -> Path:
        path = self.folder / outbox_file_name(message.message_key)
        # Belt and braces: the name has no separators, but prove it before writing.
        if path.resolve().parent != self.folder.resolve():
            raise DeliveryError(f"unsafe outbox file name for key {message.message_key!r}", permanent=True)
        return path

    def send(self, message: Message) -> Receipt:
        email = build_email(message, sender=self.sender, date=self._clock())
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.path_for(message)
            if not path.exists():
                write_atomically(path, email.as_bytes(policy=policy.SMTP))
        except OSError as exc:  # full disk, permissions: may clear up, so transient
            raise DeliveryError(f"could not write outbox file: {exc}") from exc
        logger.debug("outbox file %s written", path.name)
        return Receipt(channel=self.name, detail=str(path))

"""The one small interface every notification channel implements (STYLE habit 4).

A channel turns a `Message` into a `Receipt` or raises `DeliveryError`. The delivery step
records the outcome; `permanent` tells it whether a retry can ever help.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Attachment:
    """A file carried by an e-mail (the unit's report form); robots cannot carry one."""

    filename: str
    content: bytes
    mime_type: str = "application/octet-stream"


@dataclass(frozen=True, kw_only=True)
class Message:
    """One rendered reminder for one recipient.

    Keyword-only: six string fields side by side are too easy to swap positionally.
    """

    recipient_name: str
    address: str  # an email address, or the robot's name for robot channels
    subject: str
    text: str  # plain-text body (Chinese); every channel can send this
    html: str | None = None  # optional HTML alternative for email channels
    message_key: str  # stable id used for idempotency (Message-ID, outbox file name)
    # E-mail only (docs/INBOX.md "Answer by reply"): the plan named in the Message-ID, so a
    # reply finds its plan; where replies go; what this message answers; its attachments.
    plan_id: str | None = None
    reply_to: str | None = None
    in_reply_to: str | None = None
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class Receipt:
    """Proof of a handover: which channel took it and what it said (message id, file path)."""

    channel: str
    detail: str


class DeliveryError(Exception):
    """A send that did not happen.

    `permanent`: retrying the same message cannot succeed (5xx refusal, bad credentials,
    invalid robot token); otherwise the failure is transient and the message is retried.
    `channel_fault`: the channel itself is broken (auth failure, revoked robot token), not
    just this message — a caller may switch the channel off instead of failing each message.
    """

    def __init__(self, message: str, *, permanent: bool = False, channel_fault: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.channel_fault = channel_fault

    def __repr__(self) -> str:
        return f"DeliveryError({self.args[0]!r}, permanent={self.permanent})"


@runtime_checkable
class Channel(Protocol):
    """What delivery needs from a channel. Implementations open no connection at construction."""

    name: str

    def send(self, message: Message) -> Receipt: ...

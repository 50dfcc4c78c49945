"""The mailbox ledger: one row per e-mail `mail fetch` handled, and its receipt to the sender.

The row is the idempotency key of a reply (the SHA-256 of the raw message: a message seen
again — the move to the done folder failed, or it was copied back — changes nothing) and the
outbox of its receipt: claimed, sent and recorded like a reminder's delivery (same channels,
same back-off), but not tied to a reminder (services.replies)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from plan_tracker.store.models import utcnow


class MailReply(SQLModel, table=True):
    __tablename__ = "mail_reply"
    __table_args__ = (
        UniqueConstraint("digest", name="uq_mail_reply_digest"),
        Index("ix_mail_reply_state", "state", "next_attempt_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    digest: str = Field(max_length=64)  # SHA-256 of the raw message
    plan_id: str | None = Field(default=None, max_length=64)  # None: the message named no plan
    message_id: str | None = Field(default=None, max_length=300)
    sender: str = Field(default="", max_length=254)
    unit_id: str | None = Field(default=None, max_length=64)
    outcome: str = Field(max_length=16)  # accepted | partial | rejected | refused | no_attachment | ignored
    received_at: dt.datetime = Field(default_factory=utcnow)
    receipt_subject: str = ""
    receipt_text: str = ""
    # the receipt's delivery; `none`: nobody to answer (no sender, an automatic message)
    state: str = Field(default="pending", max_length=10)  # pending|sending|sent|failed|dead|none
    attempts: int = 0
    next_attempt_at: dt.datetime | None = None
    claim: str | None = Field(default=None, max_length=40)
    claimed_at: dt.datetime | None = None
    sent_at: dt.datetime | None = None
    receipt: str | None = None
    last_error: str | None = None

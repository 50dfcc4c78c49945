"""Tables of the nightly follow-up: reminders (the outbox), deliveries, lights history, runs."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from plan_tracker.store.models import utcnow


class Recipient(SQLModel, table=True):
    """One address on one channel, derived from the plan's contacts on apply."""

    __tablename__ = "recipient"
    plan_id: str = Field(foreign_key="plan.id", primary_key=True, max_length=64)
    key: str = Field(primary_key=True, max_length=300)  # e.g. "email:a@example.org"
    name: str
    channel: str = Field(max_length=16)  # email | dingtalk | wecom | webhook
    address: str = Field(max_length=254)


class RoleRecipient(SQLModel, table=True):
    """Who a role means: unit-specific (contact, head) or plan-wide (unit_id '*')."""

    __tablename__ = "role_recipient"
    plan_id: str = Field(foreign_key="plan.id", primary_key=True, max_length=64)
    unit_id: str = Field(primary_key=True, max_length=64)  # '*' for coordinator / leading_group
    role: str = Field(primary_key=True, max_length=16)
    recipient_key: str = Field(primary_key=True, max_length=300)


class Reminder(SQLModel, table=True):
    """A decision that a ladder step fired (or was skipped) for an obligation: the outbox row."""

    __tablename__ = "reminder"
    __table_args__ = (
        UniqueConstraint("obligation_id", "level", "seq", name="uq_reminder_step"),
        # a batch reads tonight's reminders of its obligation range (migration 0011)
        Index("ix_reminder_plan_fired", "plan_id", "fired_on", "obligation_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    plan_id: str = Field(max_length=64)
    obligation_id: int = Field(foreign_key="obligation.id")
    level: str = Field(max_length=64)
    position: int  # the step's rank in the ladder
    seq: int  # 0: first occurrence; m: the m-th repeat of a `repeat_every` step
    scheduled_on: dt.date
    fired_on: dt.date  # the as-of date of the run that raised it
    overdue_wd: int = 0
    state: str = Field(max_length=10)  # pending | sent | failed | dead (skipped steps: `SkippedStep`)
    note: str | None = None
    created_at: dt.datetime = Field(default_factory=utcnow)


class SkippedStep(SQLModel, table=True):
    """A ladder step recorded as skipped for an obligation: due on a night when a higher step
    fired instead, or before the plan's escalation began. It is for the audit trail, never a
    message, so it holds only what a reader sees (`reminders` shows it with state `skipped`)
    and what keeps it from firing later (the step's key). Kept apart from `reminder` since
    migration 0013: a province's first night records 185,500 of them, and as reminder rows
    (id, plan, state, clock, two indexes) they were a quarter of SQLite's evaluation.
    `WITHOUT ROWID` on SQLite: the key is the table (one B-tree, no second index). No foreign
    key: only the evaluation writes it, from the obligations it evaluates, in one transaction,
    and obligations are never deleted (migration 0013 says what the check cost)."""

    __tablename__ = "skipped_step"
    __table_args__ = {"sqlite_with_rowid": False}
    obligation_id: int = Field(primary_key=True)  # obligation.id
    level: str = Field(primary_key=True, max_length=64)
    seq: int = Field(primary_key=True)  # as `Reminder.seq`
    position: int  # the step's rank in the ladder of the version in force that night
    scheduled_on: dt.date
    fired_on: dt.date  # the as-of date of the run that recorded it


class DeliveryMessage(SQLModel, table=True):
    """A message as first rendered, before its first send: a resend (after a crash, a
    failure, a disabled channel or `deliver --retry-dead`) sends these very bytes, with the
    same key (Message-ID), dated for the night it speaks for (`as_of`)."""

    __tablename__ = "delivery_message"
    __table_args__ = (
        # rows a crash left claimed find their frozen message by their claim token (0018)
        Index("ix_delivery_message_claim", "claim",
              sqlite_where=text("claim IS NOT NULL"), postgresql_where=text("claim IS NOT NULL")),
    )
    id: int | None = Field(default=None, primary_key=True)
    plan_id: str = Field(max_length=64)
    recipient_key: str = Field(max_length=300)
    message_key: str = Field(max_length=64)
    as_of: dt.date
    subject: str
    text: str
    html: str | None = None
    reply_to: str | None = Field(default=None, max_length=300)  # where a unit's reply with its form goes
    created_at: dt.datetime = Field(default_factory=utcnow)
    # the claim it was frozen for: its rows point at it once recorded, given back or failed;
    # until then (a crash in between) they find it by this token (services.delivery)
    claim: str | None = Field(default=None, max_length=40)


class DeliveryAttachment(SQLModel, table=True):
    """A file a frozen message carries (the unit's pre-filled form): stored with the message,
    so a resend attaches the very same workbook."""

    __tablename__ = "delivery_attachment"
    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="delivery_message.id", index=True)
    position: int = 0
    filename: str = Field(max_length=255)
    mime_type: str = Field(max_length=100)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class Delivery(SQLModel, table=True):
    """One reminder (or one topic: the week's report, the coordinator's decisions) to one
    recipient. Rows of a recipient are sent together as one message."""

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("reminder_id", "recipient_key", name="uq_delivery"),
        # the columns most rows leave empty are indexed for the rows that fill them (0016)
        Index("uq_delivery_topic", "plan_id", "recipient_key", "topic", unique=True,
              sqlite_where=text("topic IS NOT NULL"), postgresql_where=text("topic IS NOT NULL")),
        Index("ix_delivery_message", "message_id",
              sqlite_where=text("message_id IS NOT NULL"), postgresql_where=text("message_id IS NOT NULL")),
        Index("ix_delivery_claim", "plan_id", "state", "recipient_key"),
        Index("ix_delivery_claim_token", "claim",
              sqlite_where=text("claim IS NOT NULL"), postgresql_where=text("claim IS NOT NULL")),
        Index("ix_delivery_recipient", "plan_id", "recipient_key", "state", "sent_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    plan_id: str = Field(max_length=64)
    reminder_id: int | None = Field(default=None, foreign_key="reminder.id")  # None: a topic row
    recipient_key: str = Field(max_length=300)
    topic: str | None = Field(default=None, max_length=40)  # weekly:2018-W42 | decisions:2018-10-15
    raised_on: dt.date | None = None  # a topic row's night
    message_id: int | None = Field(default=None, foreign_key="delivery_message.id")  # frozen content
    fault: str | None = Field(default=None, max_length=12)  # channel | refused | exhausted
    state: str = Field(default="pending", max_length=10)  # pending|sending|sent|failed|dead|void
    attempts: int = 0
    next_attempt_at: dt.datetime | None = None  # UTC; None = as soon as the window opens
    claim: str | None = Field(default=None, max_length=40)
    claimed_at: dt.datetime | None = None
    sent_at: dt.datetime | None = None
    receipt: str | None = None
    last_error: str | None = None


class ChannelState(SQLModel, table=True):
    """A channel disabled by a permanent failure stays off until an operator re-enables it."""

    __tablename__ = "channel_state"
    name: str = Field(primary_key=True, max_length=80)
    disabled: bool = False
    reason: str | None = None
    changed_at: dt.datetime = Field(default_factory=utcnow)


class LightFlip(SQLModel, table=True):
    """A change of an obligation's light, saved when an evaluation sees it (the history). No
    foreign key, as `SkippedStep`: only the evaluation writes it, from the obligations it
    evaluates, in one transaction, and obligations are never deleted (migration 0017 says
    what the check cost)."""

    __tablename__ = "light_flip"
    __table_args__ = (Index("ix_flip_obligation", "obligation_id", "as_of"),)
    id: int | None = Field(default=None, primary_key=True)
    obligation_id: int  # obligation.id
    as_of: dt.date
    old_light: str | None = Field(default=None, max_length=12)
    new_light: str = Field(max_length=12)


class DailyFigure(SQLModel, table=True):
    """The day's snapshot: obligations per light, per plan and section (for trends)."""

    __tablename__ = "daily_figure"
    plan_id: str = Field(primary_key=True, max_length=64)
    as_of: dt.date = Field(primary_key=True)
    section_id: str = Field(primary_key=True, max_length=64)
    light: str = Field(primary_key=True, max_length=12)
    count: int
    overdue_wd: int = 0


class NightlyRun(SQLModel, table=True):
    __tablename__ = "nightly_run"
    id: int | None = Field(default=None, primary_key=True)
    plan_id: str = Field(max_length=64)
    as_of: dt.date
    started_at: dt.datetime = Field(default_factory=utcnow)
    finished_at: dt.datetime | None = None
    ok: bool = False
    summary: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))

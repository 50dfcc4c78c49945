"""Tables of the unit portal and API: tokens, extension requests, report reviews, supporting
units' input.

Failed-authentication counters are *not* stored here: they live in memory per server
process (see `plan_tracker.web.ratelimit`), so a brute-force attempt costs no database write
once it is being refused.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from plan_tracker.store.models import utcnow


class ApiToken(SQLModel, table=True):
    """A bearer token of one unit (or of the plan's coordinator) for one plan.

    Only a public prefix and an HMAC-SHA256 of the whole token (keyed with
    `settings.token_secret`) are kept; the token itself is shown once, at creation.
    """

    __tablename__ = "api_token"
    id: int | None = Field(default=None, primary_key=True)
    prefix: str = Field(max_length=16, unique=True)
    digest: str = Field(max_length=64)
    plan_id: str = Field(foreign_key="plan.id", max_length=64)
    unit_id: str | None = Field(default=None, max_length=64)  # None for a coordinator token
    coordinator: bool = False
    label: str | None = Field(default=None, max_length=200)
    created_at: dt.datetime = Field(default_factory=utcnow)
    revoked_at: dt.datetime | None = None
    last_used_at: dt.datetime | None = None


class ExtensionRequest(SQLModel, table=True):
    """A unit's request to move an obligation's due date (延期申请) and its decision."""

    __tablename__ = "extension_request"
    __table_args__ = (Index("ix_extension_plan_state", "plan_id", "state", "id"),
                      Index("ix_extension_obligation", "obligation_id"))
    id: int | None = Field(default=None, primary_key=True)
    plan_id: str = Field(foreign_key="plan.id", max_length=64)
    obligation_id: int = Field(foreign_key="obligation.id")
    requested_by: str = Field(max_length=64)
    reason: str
    old_due: dt.date  # the effective due date when asked
    new_due: dt.date  # a working day after old_due
    requested_on: dt.date  # plan-local date of the request
    requested_at: dt.datetime = Field(default_factory=utcnow)
    state: str = Field(default="pending", max_length=10)  # pending | approved | rejected
    decided_by: str | None = Field(default=None, max_length=64)
    decided_at: dt.datetime | None = None
    decision_reason: str | None = None


class ReportReview(SQLModel, table=True):
    """The coordinator's decision on a done report: accepted (审结) or sent back (退办)."""

    __tablename__ = "report_review"
    __table_args__ = (UniqueConstraint("report_id", name="uq_review_report"),
                      Index("ix_review_obligation", "obligation_id"))
    id: int | None = Field(default=None, primary_key=True)
    plan_id: str = Field(foreign_key="plan.id", max_length=64)
    report_id: int = Field(foreign_key="status_report.id")
    obligation_id: int = Field(foreign_key="obligation.id")
    decision: str = Field(max_length=10)  # accepted | sent_back
    reason: str | None = None
    decided_by: str = Field(max_length=64)
    decided_on: dt.date  # plan-local date (the reopening report carries it too)
    decided_at: dt.datetime = Field(default_factory=utcnow)
    reopen_report_id: int | None = Field(default=None, foreign_key="status_report.id")


class SupportInput(SQLModel, table=True):
    """Input from a supporting unit (配合单位) on a lead unit's obligation."""

    __tablename__ = "support_input"
    __table_args__ = (Index("ix_support_obligation", "obligation_id", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    plan_id: str = Field(foreign_key="plan.id", max_length=64)
    obligation_id: int = Field(foreign_key="obligation.id")
    unit_id: str = Field(max_length=64)
    note: str
    evidence: str | None = None
    submitted_on: dt.date
    received_at: dt.datetime = Field(default_factory=utcnow)


class PortalSession(SQLModel, table=True):
    """A signed-in portal session. The cookie holds a random id (256 bits); only its SHA-256
    is kept, so a copy of the database opens no session. Ended at logout (`ended_at`), when
    its token is revoked (the token row is read with it) and at `expires_at`."""

    __tablename__ = "portal_session"
    __table_args__ = (Index("ix_portal_session_token", "token_id"),
                      Index("ix_portal_session_expires", "expires_at"))
    id: int | None = Field(default=None, primary_key=True)
    digest: str = Field(max_length=64, unique=True)
    token_id: int = Field(foreign_key="api_token.id")
    created_at: dt.datetime
    expires_at: dt.datetime
    ended_at: dt.datetime | None = None


class IdempotencyKey(SQLModel, table=True):
    """The first answer to an API POST sent with an `Idempotency-Key` header, kept 24 h.

    `scope` is a digest of the caller's credentials (one caller's keys never meet
    another's), `fingerprint` of the method, path and body; `status` is NULL while the
    first request is still running."""

    __tablename__ = "idempotency_key"
    __table_args__ = (UniqueConstraint("scope", "key", name="uq_idempotency_scope_key"),
                      Index("ix_idempotency_created", "created_at"))
    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=64)
    key: str = Field(max_length=255)
    fingerprint: str = Field(max_length=64)
    created_at: dt.datetime
    status: int | None = None
    body: bytes | None = None
    content_type: str | None = Field(default=None, max_length=100)


class EscalationResume(SQLModel, table=True):
    """The coordinator's decision to resume the escalation of an item its unit reported
    blocked (恢复催办): the blocked reports dated on or before `resumed_on` pause it no more."""

    __tablename__ = "escalation_resume"
    __table_args__ = (Index("ix_resume_obligation", "obligation_id", "resumed_on"),)
    id: int | None = Field(default=None, primary_key=True)
    plan_id: str = Field(foreign_key="plan.id", max_length=64)
    obligation_id: int = Field(foreign_key="obligation.id")
    resumed_on: dt.date  # plan-local date of the decision
    reason: str | None = None
    decided_by: str = Field(max_length=64)
    decided_at: dt.datetime = Field(default_factory=utcnow)

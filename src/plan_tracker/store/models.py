"""SQLModel tables. Dates are plan-local calendar dates; timestamps are stored in UTC."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel


def utcnow() -> dt.datetime:
    """Edge helper for record timestamps (never used for domain decisions)."""
    return dt.datetime.now(dt.UTC)


class PlanRow(SQLModel, table=True):
    __tablename__ = "plan"
    id: str = Field(primary_key=True, max_length=64)
    title: str
    coordinator: str
    timezone: str
    calendar_key: str = Field(max_length=80)
    start: dt.date
    end: dt.date
    warn_days: int
    version: int
    content_hash: str = Field(max_length=64)
    spec: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    source: str | None = None
    # The latest date from which any obligation's terms differ from the day before (a plan
    # version's effective date, a cancellation, an approved extension). An as-of date on or
    # after it reads the obligation rows as they stand; an earlier one reads the term history.
    terms_settled_from: dt.date | None = None


class PlanVersion(SQLModel, table=True):
    __tablename__ = "plan_version"
    __table_args__ = (UniqueConstraint("plan_id", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    plan_id: str = Field(foreign_key="plan.id", max_length=64)
    version: int
    content_hash: str = Field(max_length=64)
    applied_at: dt.datetime = Field(default_factory=utcnow)
    summary: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    # The version is in force from this date (plan-local) until the next version's.
    effective_from: dt.date
    spec: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class UnitRow(SQLModel, table=True):
    __tablename__ = "unit"
    plan_id: str = Field(foreign_key="plan.id", primary_key=True, max_length=64)
    id: str = Field(primary_key=True, max_length=64)
    name: str
    groups: list[str] = Field(sa_column=Column(JSON, nullable=False))
    contact: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    head: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    active: bool = True


class TaskRow(SQLModel, table=True):
    __tablename__ = "task"
    plan_id: str = Field(foreign_key="plan.id", primary_key=True, max_length=64)
    id: str = Field(primary_key=True, max_length=128)
    section_id: str
    section_title: str
    position: int
    title: str
    description: str | None = None
    every: str | None = None
    due_after: int | None = None
    due: dt.date | None = None
    lead: list[str] = Field(sa_column=Column(JSON, nullable=False))
    support: list[str] = Field(sa_column=Column(JSON, nullable=False))
    depends_on: list[str] = Field(sa_column=Column(JSON, nullable=False))
    indicators: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    active: bool = True


class EscalationStepRow(SQLModel, table=True):
    __tablename__ = "escalation_step"
    plan_id: str = Field(foreign_key="plan.id", primary_key=True, max_length=64)
    level: str = Field(primary_key=True, max_length=64)
    position: int  # order of thresholds: a higher position is a higher level
    after: int
    repeat_every: int | None = None
    notify: list[str] = Field(sa_column=Column(JSON, nullable=False))


class Obligation(SQLModel, table=True):
    __tablename__ = "obligation"
    __table_args__ = (
        UniqueConstraint("plan_id", "task_id", "unit_id", "period", name="uq_obligation_key"),
        Index("ix_obligation_plan_active", "plan_id", "active", "id"),
        Index("ix_obligation_unit", "plan_id", "unit_id"),
        # PostgreSQL: room on each page for a first night's update of every light to stay HOT (0005, 0015)
        {"postgresql_with": {"fillfactor": 50}},
    )
    id: int | None = Field(default=None, primary_key=True)
    plan_id: str = Field(foreign_key="plan.id", max_length=64)
    task_id: str = Field(max_length=128)
    unit_id: str = Field(max_length=64)
    period: str = Field(max_length=16)
    period_start: dt.date
    period_end: dt.date
    due: dt.date  # effective due date (after an approved extension)
    original_due: dt.date  # the plan's due date; scoring always uses it
    warn_days: int
    active: bool = True  # false once the task or unit leaves the plan; reports are kept
    # The row holds the obligation's terms from this date on (NULL: from the beginning);
    # earlier terms are rows of `obligation_term`. Before its first term it did not exist.
    terms_from: dt.date | None = None
    # Last evaluation (written set-based by the nightly evaluation, only when it changes).
    light: str | None = Field(default=None, max_length=12)
    overdue_wd: int = 0
    evaluated_on: dt.date | None = None  # the as-of date the light or lateness last changed


class ObligationTerm(SQLModel, table=True):
    """Superseded terms of an obligation, in force on [valid_from, valid_until) (plan-local
    dates; valid_from NULL: from the beginning). A plan version, a cancellation or an approved
    extension never rewrites what an obligation was on an earlier day: the old terms move
    here and status "as of D" reads the terms in force on D."""

    __tablename__ = "obligation_term"
    __table_args__ = (
        Index("ix_obligation_term_plan", "plan_id", "valid_until"),
        Index("ix_obligation_term_obligation", "obligation_id", "valid_until"),
    )
    id: int | None = Field(default=None, primary_key=True)
    obligation_id: int = Field(foreign_key="obligation.id")
    plan_id: str = Field(max_length=64)
    valid_from: dt.date | None = None
    valid_until: dt.date
    task_id: str = Field(max_length=128)
    unit_id: str = Field(max_length=64)
    period: str = Field(max_length=16)
    period_start: dt.date
    period_end: dt.date
    due: dt.date
    original_due: dt.date
    warn_days: int
    active: bool  # false: not tracked in this span (removed or cancelled, 撤销)


class StatusReport(SQLModel, table=True):
    __tablename__ = "status_report"
    __table_args__ = (
        Index("ix_report_obligation", "obligation_id", "reported_on", "id"),
        # the coordinator's review queue walks done reports oldest first (services.portal.report_list)
        Index("ix_report_done_received", "received_at", "id", sqlite_where=text("status = 'done'"),
              postgresql_where=text("status = 'done'")),
        # the items paused by a blocked report, oldest first (services.blocked.blocked_items)
        Index("ix_report_blocked", "reported_on", "obligation_id", sqlite_where=text("status = 'blocked'"),
              postgresql_where=text("status = 'blocked'")),
    )
    id: int | None = Field(default=None, primary_key=True)
    obligation_id: int = Field(foreign_key="obligation.id")
    status: str = Field(max_length=16)
    progress: int | None = None
    note: str | None = None
    evidence: str | None = None
    indicator_values: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    reported_on: dt.date  # the date the report claims
    received_on: dt.date  # the plan-local date the store received it (status as of D counts it from D)
    received_at: dt.datetime = Field(default_factory=utcnow)
    source: str = Field(max_length=16)
    actor: str = Field(max_length=64)
    # Idempotency: the same submission (e.g. a re-ingested row) maps to the same key.
    dedupe_key: str | None = Field(default=None, max_length=64, unique=True)


class CalendarDay(SQLModel, table=True):
    __tablename__ = "calendar_day"
    __table_args__ = (Index("ix_calendar_ordinal", "calendar_key", "wd_ordinal", "is_working"),)
    calendar_key: str = Field(primary_key=True, max_length=80)
    day: dt.date = Field(primary_key=True)
    is_working: bool
    wd_ordinal: int  # working days from the table's first day up to and including `day`


class Event(SQLModel, table=True):
    """Append-only audit log: plan changes, status reports, ingestions, refusals."""

    __tablename__ = "event"
    __table_args__ = (Index("ix_event_plan_at", "plan_id", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = Field(default_factory=utcnow)
    plan_id: str | None = Field(default=None, max_length=64)
    kind: str = Field(max_length=40)
    actor: str = Field(max_length=64)
    source: str = Field(max_length=16)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))

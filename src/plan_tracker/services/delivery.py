"""Delivering raised reminders: one message per recipient, claimed, sent, recorded.

Crash policy: a delivery is claimed (state `sending`) before the send and recorded after.
A crash between the two leaves it `sending`; after `LEASE` it is claimed again and resent
with the same message key, so the file outbox rewrites the same file and e-mail carries the
same Message-ID. That window is the only place a duplicate can happen; nothing is dropped.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, and_, or_, select, update
from sqlalchemy.sql import text

from plan_tracker import faults
from plan_tracker.channels import Attachment, Channel, DeliveryError, Message, build_channel
from plan_tracker.channels.breaker import circuit_open
from plan_tracker.domain.calendar import WorkCalendar
from plan_tracker.domain.errors import CalendarNotCovered
from plan_tracker.domain.plan import Plan
from plan_tracker.services.context import PlanContext
from plan_tracker.services.message_model import claimed_message
from plan_tracker.services.messages import WeeklyPart, message_key, render_model
from plan_tracker.services.plans import stored_plan
from plan_tracker.settings import Settings
from plan_tracker.store import evaluation_sql as q
from plan_tracker.store.outbox_models import ChannelState, Delivery, Recipient

LEASE = dt.timedelta(minutes=10)
BACKOFF_BASE = dt.timedelta(minutes=5)
BACKOFF_CAP = dt.timedelta(hours=6)
D = Delivery.__table__  # type: ignore[attr-defined]


@dataclass
class DeliverySummary:
    messages_sent: int = 0
    deliveries_sent: int = 0
    failed: int = 0
    dead: int = 0
    waiting: int = 0  # outside the delivery window
    deferred: int = 0  # recipients not tried: their channel's circuit breaker opened this run
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Route:
    """Where a recipient's messages go: a channel and whether the delivery window applies."""

    name: str
    channel: Channel
    windowed: bool


ChannelFactory = Callable[[str, dict[str, Any]], Channel]


class WeeklySource(Protocol):
    """The week's report for the managers still owed it (`reports.weekly_mail.WeeklyMail`):
    delivery carries it in their message instead of sending a second one."""

    def part_for(self, recipient_key: str) -> WeeklyPart | None: ...

    def record_sent(self, conn: Connection, recipient_key: str, now: dt.datetime, channel: str,
                    receipt: str) -> None: ...


class FormSource(Protocol):
    """The forms a unit contact's message carries, to fill in and send back by reply
    (`inbox.forms.ReplyForms`); sets the model's `form_note` when it gives any."""

    def for_message(self, plan: Plan, recipient: Any, model: Any, as_of: dt.date) -> tuple[Attachment, ...]: ...


def resolve_route(recipient: Any, settings: Settings, factory: ChannelFactory,
                  routes: dict[str, Route] | None = None) -> Route:
    """E-mail goes by SMTP when configured; robots by their named settings; anything not
    configured falls back to the local file outbox, so a reminder is never lost for want of
    a channel (the operator sees it in the outbox folder).

    `routes` caches the channels of one run by route name: each channel is built once, and a
    robot's rate limit then counts every message sent to it in the run."""
    routes = {} if routes is None else routes
    name, kind, options, windowed = _route_spec(recipient, settings)
    if name not in routes:
        routes[name] = Route(name, factory(kind, options), windowed=windowed)
    return routes[name]


def _route_spec(recipient: Any, settings: Settings) -> tuple[str, str, dict[str, Any], bool]:
    """(route name, channel kind, channel options, waits for the delivery window)."""
    if recipient.channel == "email" and settings.smtp_host:
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        return "smtp", "smtp", {
            "host": settings.smtp_host, "port": settings.smtp_port, "sender": settings.smtp_sender,
            "username": settings.smtp_username, "password": password,
            "starttls": settings.smtp_starttls, "ssl": settings.smtp_ssl,
            "connect_timeout": settings.smtp_connect_timeout_s, "greeting_timeout": settings.smtp_greeting_timeout_s,
            "timeout": settings.smtp_command_timeout_s, "breaker_threshold": settings.smtp_breaker_threshold}, True
    if recipient.channel in {"dingtalk", "wecom", "webhook"}:
        robot = settings.robots.get(recipient.address)
        if robot:
            kind = robot.get("kind", recipient.channel)
            options = {k: v for k, v in robot.items() if k != "kind"}
            return f"{kind}:{recipient.address}", kind, options, True
    return "file", "file", {"folder": settings.folder("outbox")}, False


def in_window(plan: Plan, now: dt.datetime) -> bool:
    """Working day, between the plan's window times, in the plan's time zone."""
    import zoneinfo

    local = now.astimezone(zoneinfo.ZoneInfo(plan.plan.timezone))
    opens, closes = plan.plan.delivery_window
    try:
        working = WorkCalendar(plan.plan.calendar).is_working_day(local.date())
    except CalendarNotCovered:
        working = local.weekday() < 5
    return working and opens <= local.time().replace(tzinfo=None) < closes


def _claimable(plan_id: str, now: dt.datetime) -> Any:
    due = or_(D.c.next_attempt_at.is_(None), D.c.next_attempt_at <= now)
    return and_(D.c.plan_id == plan_id, or_(
        and_(D.c.state.in_(("pending", "failed")), due),
        and_(D.c.state == "sending", D.c.claimed_at < now - LEASE),
    ))


def deliver(engine: Engine, plan_id: str, *, now: dt.datetime, as_of: dt.date, settings: Settings,
            factory: ChannelFactory | None = None, templates: Path | None = None,
            after_send: Callable[[int], None] | None = None, context: PlanContext | None = None,
            weekly: WeeklySource | None = None, forms: FormSource | None = None) -> DeliverySummary:
    """Send every claimable delivery of a plan, grouped per recipient. `after_send` is a test
    hook called after each send and before it is recorded (to simulate crashes); `weekly`
    lets a manager's message carry the week's report; `forms` gives a unit contact's message the
    form to fill in and send back by reply."""
    factory = factory or (lambda kind, options: build_channel(kind, **options))
    summary = DeliverySummary()
    with engine.connect() as conn:
        # the version in force on the delivery day (the night's context when it has one)
        plan = context.plan if context is not None else stored_plan(conn, plan_id, as_of)
        keys = [r[0] for r in conn.execute(select(D.c.recipient_key).where(_claimable(plan_id, now)).distinct().order_by(D.c.recipient_key))]
        recipients = {r.key: r for r in conn.execute(select(Recipient.__table__).where(Recipient.__table__.c.plan_id == plan_id))}  # type: ignore[attr-defined]
        coordinator = _coordinator_name(plan)
    window_open = in_window(plan, now)
    routes: dict[str, Route] = {}
    held: dict[str, int] = {}  # recipients deferred per route by an open circuit
    for key in keys:
        route = resolve_route(recipients[key], settings, factory, routes)
        if route.windowed and not window_open:
            summary.waiting += 1
            continue
        if circuit_open(route.channel) is not None:  # left unclaimed: no attempt used, next run
            summary.deferred += 1
            held[route.name] = held.get(route.name, 0) + 1
            continue
        _deliver_one(engine, plan, recipients[key], route, now=now, as_of=as_of, settings=settings,
                     summary=summary, coordinator=coordinator, templates=templates, after_send=after_send,
                     weekly=weekly, form_source=forms)
    _report_open_circuits(routes, held, summary)
    with engine.begin() as conn:
        conn.execute(text(q.ROLL_UP_REMINDERS), {"plan": plan_id})
    return summary


def _report_open_circuits(routes: dict[str, Route], held: dict[str, int], summary: DeliverySummary) -> None:
    for route in routes.values():
        reason = circuit_open(route.channel)
        if reason is not None:
            summary.errors.append(f"{route.name}: stopped trying after {reason}; "
                                  f"{held.get(route.name, 0)} recipient(s) wait for the next delivery run")


def _coordinator_name(plan: Plan) -> str:
    unit = next((u for u in plan.units if u.id == plan.plan.coordinator), None)
    return unit.name if unit else plan.plan.coordinator


def _deliver_one(engine: Engine, plan: Plan, recipient: Any, route: Route, *, now: dt.datetime,
                 as_of: dt.date, settings: Settings, summary: DeliverySummary, coordinator: str,
                 templates: Path | None, after_send: Callable[[int], None] | None,
                 weekly: WeeklySource | None = None, form_source: FormSource | None = None) -> None:
    token = uuid.uuid4().hex
    with engine.begin() as conn:
        claimed = conn.execute(
            update(D).where(D.c.plan_id == plan.id, D.c.recipient_key == recipient.key, _claimable(plan.id, now))
            .values(state="sending", claim=token, claimed_at=now, attempts=D.c.attempts + 1)
        ).rowcount
    if not claimed:
        return  # another worker took them: the conditional UPDATE is the lock
    faults.point("deliver.claimed")
    with engine.connect() as conn:
        disabled = conn.execute(select(ChannelState.__table__.c.reason).where(  # type: ignore[attr-defined]
            ChannelState.__table__.c.name == route.name, ChannelState.__table__.c.disabled)).scalar_one_or_none()  # type: ignore[attr-defined]
        ids, model = claimed_message(conn, plan, recipient, token, as_of, coordinator=coordinator,
                                     portal_url=plan.plan.portal_url or settings.portal_url)
    if disabled is not None:
        _record_failure(engine, token, now, f"channel {route.name} disabled: {disabled}", permanent=False,
                        max_attempts=settings.delivery_max_attempts, summary=summary, retry_in=dt.timedelta(days=1))
        return
    model.weekly = weekly.part_for(recipient.key) if weekly is not None else None
    forms = form_source.for_message(plan, recipient, model, as_of) if form_source is not None else ()
    rendered = render_model(plan, model, templates)
    message = Message(recipient_name=recipient.name, address=recipient.address, subject=rendered.subject,
                      text=rendered.text, html=rendered.html, message_key=message_key(plan.id, recipient.key, ids),
                      plan_id=plan.id, reply_to=settings.reply_address if forms else None, attachments=forms)
    try:
        receipt = route.channel.send(message)
    except DeliveryError as exc:
        _record_failure(engine, token, now, str(exc), permanent=exc.permanent,
                        max_attempts=settings.delivery_max_attempts, summary=summary)
        if exc.channel_fault:  # the channel itself is broken (bad token, auth): not one bad address
            _disable_channel(engine, route.name, str(exc), now)
        summary.errors.append(f"{route.name} → {recipient.key}: {exc}")
        return
    if after_send is not None:
        after_send(len(ids))
    faults.point("deliver.sent")  # the crash window: sent, not yet recorded
    with engine.begin() as conn:
        conn.execute(update(D).where(D.c.claim == token, D.c.state == "sending")
                     .values(state="sent", sent_at=now, receipt=receipt.detail[:500], last_error=None))
        if model.weekly is not None and weekly is not None:  # the week's report went with it
            weekly.record_sent(conn, recipient.key, now, route.name, receipt.detail)
    summary.messages_sent += 1
    summary.deliveries_sent += len(ids)


def _record_failure(engine: Engine, token: str, now: dt.datetime, error: str, *, permanent: bool,
                    max_attempts: int, summary: DeliverySummary, retry_in: dt.timedelta | None = None) -> None:
    with engine.begin() as conn:
        rows = conn.execute(select(D.c.id, D.c.attempts).where(D.c.claim == token, D.c.state == "sending")).all()
        for row in rows:
            dead = permanent or row.attempts >= max_attempts
            backoff = retry_in or min(BACKOFF_BASE * 2 ** max(row.attempts - 1, 0), BACKOFF_CAP)
            conn.execute(update(D).where(D.c.id == row.id, D.c.claim == token).values(
                state="dead" if dead else "failed", last_error=error[:1000],
                next_attempt_at=None if dead else now + backoff))
            if dead:
                summary.dead += 1
            else:
                summary.failed += 1


def _disable_channel(engine: Engine, name: str, reason: str, now: dt.datetime) -> None:
    """A permanent failure (bad robot token, rejected sender) turns the channel off, so the
    rest of the night's messages are not thrown at it; an operator re-enables it."""
    table = ChannelState.__table__  # type: ignore[attr-defined]
    if name == "file":
        return
    with engine.begin() as conn:
        exists = conn.execute(select(table.c.name).where(table.c.name == name)).scalar_one_or_none()
        values = {"disabled": True, "reason": reason[:500], "changed_at": now}
        if exists:
            conn.execute(update(table).where(table.c.name == name).values(**values))
        else:
            conn.execute(table.insert().values(name=name, **values))


def enable_channel(engine: Engine, name: str, now: dt.datetime) -> bool:
    """Turn a disabled channel back on (the operator fixed the cause); False if it was not
    disabled. Its waiting deliveries go out on the next delivery run."""
    table = ChannelState.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        return bool(conn.execute(update(table).where(table.c.name == name, table.c.disabled)
                                 .values(disabled=False, reason=None, changed_at=now)).rowcount)


def channel_states(engine: Engine) -> list[Any]:
    table = ChannelState.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return list(conn.execute(select(table).order_by(table.c.name)))

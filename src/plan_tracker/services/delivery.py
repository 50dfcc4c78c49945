"""Delivering raised reminders and topics: one message per recipient, claimed, frozen, sent,
recorded.

The outbox holds a row per (reminder, recipient) and per topic not tied to a reminder: the
week's report to the managers (`weekly:<ISO week>`) and the coordinator's decisions digest
(`decisions:<night>`). A recipient's claimable rows go out together as ONE message, so the
leading group's 通报 digest and the week's report share a message, and a coordinator's
escalated items and decisions waiting share one.

Claim (`claim`, the one place rows are taken; batching can grow here): the rows of the
recipient's oldest message still unsent, or, when none is, every due row not yet in a
message. The conditional UPDATE is the lock.

Frozen messages: the first time rows are claimed, the message is rendered for the delivery
night and stored (`delivery_message`) before the first send; every later send of those rows
(after a crash, a transient failure or `deliver --retry-dead` of rows retried to death)
sends the stored bytes with the same key (e-mail Message-ID). Only a refusal (a channel
fault, a permanent error) releases the rows: the peer did not take the message, so they
join the recipient's next message, rendered afresh. A frozen message goes first; once it is
through, the rest due follows in the same run as one fresh message.

Crash policy: a delivery is claimed (state `sending`) before the send and recorded after.
A crash between the two leaves it `sending`; after `LEASE` it is claimed again and resent
with the same message key, so the file outbox rewrites the same file and e-mail carries the
same Message-ID. That window is the only place a duplicate can happen; nothing is dropped.

Channel faults (a robot's wrong secret, SMTP 535): the channel is disabled; its rows wait
(`failed`, fault `channel`, due at once, no attempt used) and are not even claimed while it
stays disabled; `channels enable` lets the next delivery run send them. Other failures back
off (`BACKOFF_BASE` doubling, capped at `BACKOFF_CAP`) and die after
`Settings.delivery_max_attempts`; `retry_dead` requeues dead rows on request.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, and_, func, insert, or_, select, update
from sqlalchemy.sql import text

from plan_tracker import faults
from plan_tracker.channels import Attachment, Channel, DeliveryError, Message, build_channel
from plan_tracker.channels.breaker import circuit_open
from plan_tracker.domain.calendar import WorkCalendar
from plan_tracker.domain.errors import CalendarNotCovered
from plan_tracker.domain.plan import Plan
from plan_tracker.services.context import PlanContext
from plan_tracker.services.message_model import claimed_message, waiting_decisions
from plan_tracker.services.messages import WeeklyPart, message_key, render_model
from plan_tracker.services.plans import stored_plan
from plan_tracker.settings import Settings
from plan_tracker.store import evaluation_sql as q
from plan_tracker.store.audit import record_event
from plan_tracker.store.outbox_models import (
    ChannelState,
    Delivery,
    DeliveryAttachment,
    DeliveryMessage,
    Recipient,
    Reminder,
)

LEASE = dt.timedelta(minutes=10)
BACKOFF_BASE = dt.timedelta(minutes=5)
BACKOFF_CAP = dt.timedelta(hours=6)
D = Delivery.__table__  # type: ignore[attr-defined]
M = DeliveryMessage.__table__  # type: ignore[attr-defined]
MA = DeliveryAttachment.__table__  # type: ignore[attr-defined]
WEEKLY_TOPIC, DECISIONS_TOPIC = "weekly", "decisions"
WEEKLY_EVENT = "report.weekly"  # the audit record of a week's report sent (reports.schedule)
RETRY_EVENT = "delivery.retry_dead"
UNREACHABLE_PREFIX = "unreachable:"  # dead rows for a role nobody holds: nothing to resend
LIVE = ("pending", "failed", "sending")


@dataclass
class DeliverySummary:
    messages_sent: int = 0
    deliveries_sent: int = 0
    failed: int = 0
    dead: int = 0
    waiting: int = 0  # outside the delivery window
    held: int = 0  # deliveries waiting for a disabled channel (no attempt used)
    deferred: int = 0  # recipients not tried: their channel's circuit breaker opened this run
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Route:
    """Where a recipient's messages go: a channel and whether the delivery window applies."""

    name: str
    channel: Channel
    windowed: bool


ChannelFactory = Callable[[str, dict[str, Any]], Channel]


class TopicSource(Protocol):
    """What a topic row says that services cannot build themselves: the week's report as of
    the night that raised it (`reports.weekly_mail.WeeklyParts`)."""

    def weekly_part(self, raised_on: dt.date) -> WeeklyPart: ...


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


def claim(engine: Engine, plan_id: str, recipient_key: str, now: dt.datetime, token: str) -> int:
    """Claim the recipient's next message: the rows of its oldest message still unsent (its
    frozen content goes again), else every due row not yet in a message. Returns the rows
    claimed (0: nothing due, or another worker won the conditional UPDATE)."""
    mine = and_(D.c.plan_id == plan_id, D.c.recipient_key == recipient_key)
    with engine.begin() as conn:
        unsent = conn.execute(select(func.min(D.c.message_id)).where(
            mine, D.c.message_id.is_not(None), D.c.state.in_(LIVE))).scalar_one_or_none()
        rows = D.c.message_id == unsent if unsent is not None else D.c.message_id.is_(None)
        return int(conn.execute(update(D).where(mine, rows, _claimable(plan_id, now))
                                .values(state="sending", claim=token, claimed_at=now, attempts=D.c.attempts + 1)
                                ).rowcount)


def deliver(engine: Engine, plan_id: str, *, now: dt.datetime, as_of: dt.date, settings: Settings,
            factory: ChannelFactory | None = None, templates: Path | None = None,
            after_send: Callable[[int], None] | None = None, context: PlanContext | None = None,
            topics: TopicSource | None = None, forms: FormSource | None = None) -> DeliverySummary:
    """Send every claimable delivery of a plan, one message per recipient. `after_send` is a
    test hook called after each send and before it is recorded (to simulate crashes);
    `topics` builds the week's report for weekly rows; `forms` gives a unit contact's message
    the form to fill in and send back by reply (frozen with the message, like its text)."""
    factory = factory or (lambda kind, options: build_channel(kind, **options))
    summary = DeliverySummary()
    with engine.connect() as conn:
        # the version in force on the delivery day (the night's context when it has one)
        plan = context.plan if context is not None else stored_plan(conn, plan_id, as_of)
        due: dict[str, int] = dict(conn.execute(select(D.c.recipient_key, func.count()).where(_claimable(plan_id, now))
                                .group_by(D.c.recipient_key).order_by(D.c.recipient_key)).all())
        recipients = {r.key: r for r in conn.execute(select(Recipient.__table__).where(Recipient.__table__.c.plan_id == plan_id))}  # type: ignore[attr-defined]
        disabled = set(conn.execute(select(ChannelState.__table__.c.name).where(ChannelState.__table__.c.disabled)).scalars())  # type: ignore[attr-defined]
        coordinator = _coordinator_name(plan)
    window_open = in_window(plan, now)
    routes: dict[str, Route] = {}
    deferred: dict[str, int] = {}  # recipients deferred per route by an open circuit
    for key, count in due.items():
        route = resolve_route(recipients[key], settings, factory, routes)
        if route.windowed and not window_open:
            summary.waiting += 1
            continue
        if route.name in disabled:  # not even claimed: no attempt is used while it is off
            summary.held += int(count)
            continue
        if circuit_open(route.channel) is not None:  # left unclaimed: no attempt used, next run
            summary.deferred += 1
            deferred[route.name] = deferred.get(route.name, 0) + 1
            continue
        if _deliver_one(engine, plan, recipients[key], route, now=now, as_of=as_of, settings=settings,
                        summary=summary, coordinator=coordinator, templates=templates, after_send=after_send,
                        topics=topics, forms=forms):
            disabled.add(route.name)
    _report_open_circuits(routes, deferred, summary)
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
                 topics: TopicSource | None, forms: FormSource | None = None) -> bool:
    """One recipient's messages of the run: a message frozen earlier and still unsent goes
    first, as it was; once it is through, everything else due follows in one fresh message
    (so a backlog held by an outage goes out in this run, not the next). True when the
    channel turned out broken (and is now disabled)."""
    while True:
        outcome, resent = _send_next(engine, plan, recipient, route, now=now, as_of=as_of, settings=settings,
                                     summary=summary, coordinator=coordinator, templates=templates,
                                     after_send=after_send, topics=topics, forms=forms)
        if outcome != "sent" or not resent:
            return outcome == "fault"


def _send_next(engine: Engine, plan: Plan, recipient: Any, route: Route, *, now: dt.datetime,
               as_of: dt.date, settings: Settings, summary: DeliverySummary, coordinator: str,
               templates: Path | None, after_send: Callable[[int], None] | None,
               topics: TopicSource | None, forms: FormSource | None = None) -> tuple[str, bool]:
    """Claim, freeze, send and record the recipient's next message: (outcome, whether it
    was frozen before this run); outcome is none | sent | failed | fault."""
    token = uuid.uuid4().hex
    if not claim(engine, plan.id, recipient.key, now, token):
        return "none", False
    faults.point("deliver.claimed")
    frozen = frozen_message(engine, plan, recipient, token, now=now, as_of=as_of, coordinator=coordinator,
                            templates=templates, portal_url=plan.plan.portal_url or settings.portal_url, topics=topics,
                            forms=forms, reply_address=settings.reply_address)
    if frozen is None:
        return "none", False
    message, resent = frozen
    try:
        receipt = route.channel.send(message)
    except DeliveryError as exc:
        _record_failure(engine, token, now, str(exc), permanent=exc.permanent, channel_fault=exc.channel_fault,
                        max_attempts=settings.delivery_max_attempts, summary=summary)
        if exc.channel_fault:  # the channel itself is broken (bad token, auth): not one bad address
            _disable_channel(engine, route.name, str(exc), now)
        summary.errors.append(f"{route.name} → {recipient.key}: {exc}")
        return ("fault" if exc.channel_fault else "failed"), resent
    if after_send is not None:
        after_send(_claimed_count(engine, token))
    faults.point("deliver.sent")  # the crash window: sent, not yet recorded
    with engine.begin() as conn:
        sent = conn.execute(update(D).where(D.c.claim == token, D.c.state == "sending").values(
            state="sent", sent_at=now, receipt=receipt.detail[:500], last_error=None, fault=None)).rowcount
        _record_weekly_sent(conn, plan.id, token, now, route.name, receipt.detail)
    summary.messages_sent += 1
    summary.deliveries_sent += int(sent)
    return "sent", resent


def _claimed_count(engine: Engine, token: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).where(D.c.claim == token, D.c.reminder_id.is_not(None))).scalar_one())


def frozen_message(engine: Engine, plan: Plan, recipient: Any, token: str, *, now: dt.datetime, as_of: dt.date,
                   coordinator: str,
                   portal_url: str | None, templates: Path | None = None,
                   topics: TopicSource | None = None, forms: FormSource | None = None,
                   reply_address: str | None = None) -> tuple[Message, bool] | None:
    """The message of the rows claimed under `token`, and whether it was frozen before: the
    stored one when they already have one, else rendered now, for `as_of`, and stored
    before anything is sent — the unit's form attached to it included, so a resend carries
    the same workbook. None when the rows have nothing left to say (a decisions digest
    whose decisions were all taken)."""
    with engine.connect() as conn:
        rows = conn.execute(select(D.c.id, D.c.message_id, D.c.topic, D.c.raised_on).where(D.c.claim == token)).all()
        stored = next((r.message_id for r in rows if r.message_id is not None), None)
        if stored is not None:
            m = conn.execute(select(M).where(M.c.id == stored)).one()
            files = conn.execute(select(MA).where(MA.c.message_id == stored).order_by(MA.c.position)).all()
            return Message(recipient_name=recipient.name, address=recipient.address, subject=m.subject, text=m.text,
                           html=m.html, message_key=m.message_key, plan_id=m.plan_id, reply_to=m.reply_to,
                           attachments=tuple(Attachment(f.filename, bytes(f.content), f.mime_type) for f in files)), True
        _, model = claimed_message(conn, plan, recipient, token, as_of, coordinator=coordinator, portal_url=portal_url)
        kinds = {str(r.topic).split(":")[0]: r for r in rows if r.topic}
        if DECISIONS_TOPIC in kinds and not model.decisions:
            model.decisions = waiting_decisions(conn, plan, as_of)
    if WEEKLY_TOPIC in kinds and topics is not None:
        model.weekly = topics.weekly_part(_day(kinds[WEEKLY_TOPIC].raised_on or as_of))
    if not model.items and model.weekly is None and not model.decisions:
        with engine.begin() as conn:
            conn.execute(update(D).where(D.c.claim == token, D.c.state == "sending")
                         .values(state="void", last_error="nothing left to say when it was due"))
        return None
    attached = forms.for_message(plan, recipient, model, as_of) if forms is not None else ()
    reply_to = reply_address if attached else None
    rendered = render_model(plan, model, templates)
    key = message_key(plan.id, recipient.key, [int(r.id) for r in rows])
    with engine.begin() as conn:
        stored = conn.execute(insert(M).values(plan_id=plan.id, recipient_key=recipient.key, message_key=key,
                                               as_of=as_of, subject=rendered.subject, text=rendered.text,
                                               html=rendered.html, reply_to=reply_to, created_at=now)
                              .returning(M.c.id)).scalar_one()
        for position, file in enumerate(attached):
            conn.execute(insert(MA).values(message_id=stored, position=position, filename=file.filename,
                                           mime_type=file.mime_type, content=file.content))
        conn.execute(update(D).where(D.c.claim == token).values(message_id=stored))
    faults.point("deliver.frozen")
    return Message(recipient_name=recipient.name, address=recipient.address, subject=rendered.subject,
                   text=rendered.text, html=rendered.html, message_key=key, plan_id=plan.id, reply_to=reply_to,
                   attachments=attached), False


def _day(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _record_weekly_sent(conn: Connection, plan_id: str, token: str, now: dt.datetime, channel: str,
                        receipt: str) -> None:
    """The audit record of a week's report sent, in the transaction recording its delivery."""
    for row in conn.execute(select(D.c.recipient_key, D.c.topic, D.c.raised_on).where(
            D.c.claim == token, D.c.topic.like(f"{WEEKLY_TOPIC}:%"))):
        record_event(conn, plan_id=plan_id, kind=WEEKLY_EVENT, actor="nightly", source="nightly", at=now,
                     payload={"week": row.topic.split(":", 1)[1], "as_of": str(row.raised_on),
                              "recipient": row.recipient_key, "state": "sent", "channel": channel,
                              "receipt": receipt[:500], "with": "outbox"})


def _record_failure(engine: Engine, token: str, now: dt.datetime, error: str, *, permanent: bool,
                    channel_fault: bool, max_attempts: int, summary: DeliverySummary) -> None:
    """A channel fault holds the rows (no attempt used, due again as soon as the channel is
    enabled); a permanent refusal kills them; anything else backs off until attempts run out.

    A refusal (channel fault or permanent) means the peer did not take the message: its rows
    leave the frozen message and join the next one, rendered afresh with whatever else is
    due. After a transient failure the peer may have taken it (a timeout after the data):
    the rows keep it, so a retry is the same bytes and Message-ID."""
    with engine.begin() as conn:
        rows = conn.execute(select(D.c.id, D.c.attempts).where(D.c.claim == token, D.c.state == "sending")).all()
        for row in rows:
            if channel_fault:
                values: dict[str, Any] = {"state": "failed", "fault": "channel", "attempts": max(row.attempts - 1, 0),
                                          "next_attempt_at": None}
                summary.held += 1
            elif permanent or row.attempts >= max_attempts:
                values = {"state": "dead", "fault": "refused" if permanent else "exhausted", "next_attempt_at": None}
                summary.dead += 1
            else:
                values = {"state": "failed", "fault": None, "next_attempt_at": now + backoff(row.attempts)}
                summary.failed += 1
            if channel_fault or permanent:
                values["message_id"] = None
            conn.execute(update(D).where(D.c.id == row.id, D.c.claim == token).values(last_error=error[:1000], **values))


def backoff(attempts: int) -> dt.timedelta:
    """The wait after the `attempts`-th failed attempt: 5 min, 10, 20, … capped at 6 h."""
    return min(BACKOFF_BASE * 2 ** max(attempts - 1, 0), BACKOFF_CAP)


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


@dataclass(frozen=True)
class Requeued:
    plan_id: str
    deliveries: int


def retry_dead(engine: Engine, settings: Settings, *, now: dt.datetime, actor: str, plan_id: str | None = None,
               since: dt.date | None = None, channel: str | None = None) -> list[Requeued]:
    """Requeue dead deliveries (raised on or after `since`, going through route `channel`):
    pending again, with their attempts back to 0; a frozen message goes again as it was.
    Audited per plan as a `delivery.retry_dead` event. Rows for a role nobody holds stay
    dead: they name no recipient (fix the plan instead)."""
    rc = Recipient.__table__  # type: ignore[attr-defined]
    r = Reminder.__table__  # type: ignore[attr-defined]
    raised = func.coalesce(r.c.fired_on, D.c.raised_on)
    query = (select(D.c.id, D.c.plan_id, D.c.reminder_id, rc.c.key, rc.c.channel, rc.c.address, rc.c.name)
             .join(rc, and_(rc.c.plan_id == D.c.plan_id, rc.c.key == D.c.recipient_key))
             .outerjoin(r, r.c.id == D.c.reminder_id)
             .where(D.c.state == "dead", ~D.c.recipient_key.like(f"{UNREACHABLE_PREFIX}%")))
    if plan_id is not None:
        query = query.where(D.c.plan_id == plan_id)
    if since is not None:
        query = query.where(raised >= since)
    requeued: dict[str, list[Any]] = {}
    with engine.begin() as conn:
        for row in conn.execute(query.order_by(D.c.id)):
            if channel is None or route_name(row, settings) == channel:
                requeued.setdefault(row.plan_id, []).append(row)
        for pid, rows in requeued.items():
            for start in range(0, len(rows), 500):
                chunk = rows[start:start + 500]
                conn.execute(update(D).where(D.c.id.in_([x.id for x in chunk]), D.c.state == "dead").values(
                    state="pending", attempts=0, next_attempt_at=None, claim=None, claimed_at=None, fault=None))
                conn.execute(update(r).where(r.c.id.in_([x.reminder_id for x in chunk if x.reminder_id]),
                                             r.c.state == "dead").values(state="pending"))
            record_event(conn, plan_id=pid, kind=RETRY_EVENT, actor=actor, source="cli", at=now,
                         payload={"deliveries": len(rows), "since": since.isoformat() if since else None,
                                  "channel": channel, "ids": [x.id for x in rows[:200]]})
    return [Requeued(pid, len(rows)) for pid, rows in requeued.items()]


def route_name(recipient: Any, settings: Settings) -> str:
    """The route a recipient's messages take with these settings (`smtp`, `dingtalk:NAME`, `file`)."""
    return _route_spec(recipient, settings)[0]

"""Delivering raised reminders and topics: one message per recipient, claimed, frozen, sent,
recorded.

The outbox holds a row per (reminder, recipient) and per topic not tied to a reminder: the
week's report to the managers (`weekly:<ISO week>`) and the coordinator's decisions digest
(`decisions:<night>`). A recipient's claimable rows go out together as ONE message, so the
leading group's 通报 digest and the week's report share a message, and a coordinator's
escalated items and decisions waiting share one.

Batches (issue 17): a route's recipients are claimed many per statement (`claim_batch`, the
one place rows are taken): per recipient, the rows of its oldest message still unsent, or,
when none is, every due row not yet in a message. The conditional UPDATE is the lock. The
batch's messages are built from one read of the store and frozen in one transaction; the
file outbox writes the batch's files, `fsync`s them concurrently and the folder once, then
records the batch `sent` in one transaction; SMTP sends the batch over one connection from
a sender thread, up to `SMTP_AHEAD` messages ahead of their records, while this thread
records whatever went meanwhile in one transaction (`send_ahead`); robots keep their rate
limits (small batches) and go one message ahead.

Frozen messages: the first time rows are claimed, the message is rendered for the delivery
night and stored (`delivery_message`) before the first send; every later send of those rows
(after a crash, a transient failure or `deliver --retry-dead` of rows retried to death)
sends the stored bytes with the same key (e-mail Message-ID). A frozen message keeps the
claim it was rendered for, and its rows point at it from the write that records them (sent,
failed, or given back untried): a row is written twice on its way out, not three times; rows
a crash left claimed in between find it by that claim (`_point_lost_claims`). Only a refusal (a channel
fault, a permanent error) releases the rows: the peer did not take the message, so they
join the recipient's next message, rendered afresh. A frozen message goes first; once it is
through, the rest due follows in the same run as one fresh message.

Crash policy: a delivery is claimed (state `sending`) before the send and recorded after.
A crash between the two leaves it `sending`; after `LEASE` it is claimed again and resent
with the same message key, so the file outbox finds the same file already there (a batch
killed between its durable files and its record writes nothing new) and e-mail carries the
same Message-ID. That window is the only place a duplicate can happen; nothing is dropped.
Rows claimed but never tried (the channel broke or its circuit opened mid-batch) are given
back with no attempt used.

Channel faults (a robot's wrong secret, SMTP 535): the channel is disabled; its rows wait
(`failed`, fault `channel`, due at once, no attempt used) and are not even claimed while it
stays disabled; `channels enable` lets the next delivery run send them. Other failures back
off (`BACKOFF_BASE` doubling, capped at `BACKOFF_CAP`) and die after
`Settings.delivery_max_attempts`; `retry_dead` requeues dead rows on request.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    bindparam,
    case,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.sql import text

from plan_tracker import faults
from plan_tracker.channels import (
    Attachment,
    Channel,
    DeliveryError,
    FileOutboxChannel,
    Message,
    Receipt,
    build_channel,
)
from plan_tracker.channels.breaker import circuit_open
from plan_tracker.domain.calendar import WorkCalendar
from plan_tracker.domain.errors import CalendarNotCovered
from plan_tracker.domain.plan import Plan
from plan_tracker.services.context import PlanContext
from plan_tracker.services.message_model import claimed_messages, waiting_decisions
from plan_tracker.services.messages import WeeklyPart, message_key_hash, render_model
from plan_tracker.services.plans import stored_plan
from plan_tracker.services.send_ahead import SendAhead
from plan_tracker.settings import Settings
from plan_tracker.store import evaluation_sql as q
from plan_tracker.store.audit import record_event
from plan_tracker.store.dates import stored_date as _day
from plan_tracker.store.locks import begin_write
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
# Recipients claimed per statement. The file outbox makes a batch durable together (one
# folder fsync, one `sent` transaction); SMTP sends a batch over one connection; a robot
# takes 20 messages a minute, so its batches stay small enough to finish well inside the
# lease. Every batch also stops at BATCH_SECONDS and gives the rest back.
BATCH_RECIPIENTS = {"file": 256, "smtp": 50}
ROBOT_BATCH = 10
BATCH_SECONDS = LEASE.total_seconds() / 2
# E-mail sent ahead of its record (`send_ahead`): the most a crash can send twice, each
# with the Message-ID of the first.
SMTP_AHEAD = 8


@dataclass
class DeliverySummary:
    messages_sent: int = 0
    deliveries_sent: int = 0
    failed: int = 0
    dead: int = 0
    waiting: int = 0  # outside the delivery window
    held: int = 0  # deliveries waiting for a disabled channel (no attempt used)
    deferred: int = 0  # recipients not tried: their channel's circuit breaker opened this run
    errors: list[str] = field(default_factory=list)  # for the log: channel and peer's own words
    stopped: list[StoppedChannel] = field(default_factory=list)  # circuits opened this run, for people
    processes: int = 1  # how many processes delivered the run (reports.delivery_processes.delivery_shares)

    def add(self, other: DeliverySummary) -> None:
        """Count in another process's share of the same run (`Share`)."""
        for name in ("messages_sent", "deliveries_sent", "failed", "dead", "waiting", "held", "deferred"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors += other.errors
        self.stopped += other.stopped


@dataclass(frozen=True)
class Share:
    """One delivery process's part of a run split between several (`split_run`): every
    share's recipients in the order its process walks them (`walks`; None: the whole run in
    one process) and which of them is this process's. A process walks its own recipients
    first, then helps the others from the far end of theirs (`helping`): the claim keeps two
    processes off the same recipient, and a process that finishes early takes over what is
    left of a slower one's share instead of waiting for it."""

    index: int = 0
    walks: tuple[tuple[str, ...], ...] | None = None

    @cached_property
    def keys(self) -> frozenset[str] | None:
        return None if self.walks is None else frozenset(self.walks[self.index])

    def picks(self, keys: list[str]) -> list[str]:
        """A route's recipients (given in key order) that this process walks first, in its order."""
        if self.walks is None:
            return keys
        on_route = set(keys)
        return [key for key in self.walks[self.index] if key in on_route]

    def helping(self, keys: list[str]) -> list[list[str]]:
        """A route's recipients of each other share, from the far end of its owner's walk,
        the next share first."""
        if self.walks is None:
            return []
        on_route, count = set(keys), len(self.walks)
        others = [self.walks[(self.index + step) % count] for step in range(1, count)]
        return [[key for key in reversed(walk) if key in on_route] for walk in others]

    @property
    def first(self) -> bool:
        return self.index == 0


def split_run(engine: Engine, plan_id: str, now: dt.datetime, settings: Settings, processes: int) -> list[Share]:
    """The recipients due now dealt out to `processes` shares, from one read: in turn on
    the routes that take messages in parallel (the file outbox, SMTP); a robot's recipients
    all in share 0 (its rate limit holds per process); every manager whose message carries
    the week's report in the last share, at the head of its walk, so that one process builds
    that report (`reports.weekly_mail.WeeklyParts`) while the others deliver the rest, and
    then help it. One read for all, since lists read by each process at its start would
    differ by what the others had claimed meanwhile."""
    with engine.connect() as conn:
        due = list(conn.execute(select(D.c.recipient_key).where(_claimable(plan_id, now)).distinct()
                                .order_by(D.c.recipient_key)).scalars())
        weekly = set(conn.execute(select(D.c.recipient_key).where(
            _claimable(plan_id, now), D.c.topic.like(f"{WEEKLY_TOPIC}:%")).distinct()).scalars())
        table = Recipient.__table__  # type: ignore[attr-defined]
        recipients = {r.key: r for r in conn.execute(select(table).where(table.c.plan_id == plan_id))}
    leading: list[str] = []  # the last share's managers carrying the week's report
    dealt: list[list[str]] = [[] for _ in range(processes)]
    turn: dict[str, int] = {}
    for key in due:
        name = route_name(recipients[key], settings)
        if name not in BATCH_RECIPIENTS:
            dealt[0].append(key)
        elif key in weekly:
            leading.append(key)
        else:
            position = turn.get(name, 0)
            dealt[position % processes].append(key)
            turn[name] = position + 1
    dealt[-1][:0] = leading
    walks = tuple(tuple(keys) for keys in dealt)
    return [Share(index, walks) for index in range(processes)]


WHOLE_RUN = Share()


@dataclass(frozen=True)
class StoppedChannel:
    """A channel this run stopped trying (its circuit breaker opened): the CLI words it."""

    channel: str
    failures: int
    last_error: str
    waiting: int  # recipients left for the next delivery run


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
    (`inbox.forms.ReplyForms`); sets the model's `form_note` when it gives any. `prefetch`
    is told a batch's fresh messages first, so that their forms are read together."""

    def prefetch(self, plan: Plan, messages: Sequence[tuple[Any, Any]], as_of: dt.date) -> None: ...

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


def batch_size(route_name: str) -> int:
    """Recipients claimed per statement on a route (see BATCH_RECIPIENTS)."""
    return BATCH_RECIPIENTS.get(route_name.partition(":")[0], ROBOT_BATCH)


def claim_batch(engine: Engine, plan_id: str, tokens: dict[str, str], now: dt.datetime) -> dict[str, int]:
    """Claim the next message of each recipient in `tokens` (recipient key -> claim token)
    with one UPDATE: per recipient, the rows of its oldest message still unsent (its frozen
    content goes again), else every due row not yet in a message. Returns the rows claimed
    per recipient; a recipient missing had nothing due, or another worker won the
    conditional UPDATE (it is the lock: a row is claimed only while claimable)."""
    keys = list(tokens)
    with engine.begin() as conn:
        begin_write(conn)  # SQLite: read and update under one write lock (processes claim at once)
        _point_lost_claims(conn, plan_id, keys, now)
        # the oldest unsent message per recipient, read first in the same transaction (a
        # correlated subquery in the UPDATE cost seconds per batch on SQLite)
        unsent: dict[str, int] = dict(conn.execute(
            select(D.c.recipient_key, func.min(D.c.message_id))
            .where(D.c.plan_id == plan_id, D.c.recipient_key.in_(keys), D.c.state.in_(LIVE),
                   D.c.message_id.is_not(None))
            .group_by(D.c.recipient_key)).all())
        # message ids start at 1: 0 stands for "no message" on both sides
        wanted = case(unsent, value=D.c.recipient_key, else_=0) if unsent else literal(0)
        statement = (update(D)
                     .where(D.c.plan_id == plan_id, D.c.recipient_key.in_(keys),
                            func.coalesce(D.c.message_id, 0) == wanted, _claimable(plan_id, now))
                     .values(state="sending", claim=case(tokens, value=D.c.recipient_key), claimed_at=now,
                             attempts=D.c.attempts + 1)
                     .returning(D.c.recipient_key))
        return dict(Counter(conn.execute(statement).scalars()))


def _point_lost_claims(conn: Connection, plan_id: str, keys: list[str], now: dt.datetime) -> None:
    """Rows a crash left claimed after their message was frozen point at it again before
    they are claimed afresh, so that they go as that message, byte for byte. A row points
    at its frozen message from its record on (or its failure, or its release untried);
    until then the message is found by the claim token it was frozen for."""
    lost = conn.execute(select(D.c.claim, M.c.id).join(M, M.c.claim == D.c.claim).where(
        D.c.plan_id == plan_id, D.c.recipient_key.in_(keys), D.c.state == "sending",
        D.c.claimed_at < now - LEASE, D.c.message_id.is_(None)).distinct()).all()
    if lost:
        conn.execute(update(D).where(D.c.claim == bindparam("b_token"), D.c.message_id.is_(None))
                     .values(message_id=bindparam("b_message")),
                     [{"b_token": token, "b_message": message} for token, message in lost])


def release(engine: Engine, claims: list[tuple[str, int | None]]) -> None:
    """Give back claimed rows not tried (the channel's circuit opened, or it turned out
    broken, or the batch ran long): no attempt used, due at once. A row never tried before
    is `pending` again, one that failed before stays `failed` (its error kept). `claims`:
    (claim token, frozen message): the rows keep pointing at their message, which goes
    unchanged when they are claimed again."""
    if not claims:
        return
    never_failed = and_(D.c.attempts <= 1, D.c.last_error.is_(None))
    with engine.begin() as conn:
        conn.execute(update(D).where(D.c.claim == bindparam("b_token"), D.c.state == "sending").values(
            state=case((never_failed, "pending"), else_="failed"), attempts=D.c.attempts - 1,
            claim=None, claimed_at=None, message_id=func.coalesce(bindparam("b_message"), D.c.message_id)),
            [{"b_token": token, "b_message": message} for token, message in claims])


@dataclass
class _Run:
    """One delivery run's fixed parts, shared by its batches."""

    engine: Engine
    plan: Plan
    settings: Settings
    now: dt.datetime
    as_of: dt.date
    coordinator: str
    recipients: dict[str, Any]
    summary: DeliverySummary
    templates: Path | None = None
    after_send: Callable[[int], None] | None = None
    topics: TopicSource | None = None
    forms: FormSource | None = None
    disabled: set[str] = field(default_factory=set)
    deferred: dict[str, int] = field(default_factory=dict)  # recipients deferred per route (open circuit)
    alone: bool = True  # the whole run in this process (not one share of a split run)


@dataclass(frozen=True)
class _Ready:
    """A claimed recipient's message, ready to send."""

    key: str
    token: str
    rows: int  # deliveries claimed
    message: Message
    resent: bool  # frozen by an earlier run
    weekly: bool = False  # carries a week's report: its `sent` is also an audit event
    message_id: int | None = None  # the frozen message (`delivery_message`) its rows point at once recorded


@dataclass
class _Outcome:
    claimed: int = 0  # recipients claimed (none: others took them all)
    fault: bool = False  # the channel turned out broken (now disabled)
    again: list[str] = field(default_factory=list)  # a frozen message went: the rest due follows
    released: list[_Ready] = field(default_factory=list)  # claimed, not tried


def deliver(engine: Engine, plan_id: str, *, now: dt.datetime, as_of: dt.date, settings: Settings,
            factory: ChannelFactory | None = None, templates: Path | None = None,
            after_send: Callable[[int], None] | None = None, context: PlanContext | None = None,
            topics: TopicSource | None = None, forms: FormSource | None = None,
            share: Share = WHOLE_RUN, roll_up: bool = True) -> DeliverySummary:
    """Send every claimable delivery of a plan, one message per recipient, in batches per
    route. `after_send` is a test hook called after each send and before it is recorded
    (to simulate crashes); `topics` builds the week's report for weekly rows; `forms` gives
    a unit contact's message the form to fill in and send back by reply (frozen with the
    message, like its text). `share`: this process's part of a run split between several
    (`reports.weekly_mail.deliver_with_weekly`); `roll_up`: bring the reminders' states up
    to their deliveries' at the end (the run's last process does it once for all)."""
    factory = factory or (lambda kind, options: build_channel(kind, **options))
    summary = DeliverySummary()
    with engine.connect() as conn:
        # the version in force on the delivery day (the night's context when it has one)
        plan = context.plan if context is not None else stored_plan(conn, plan_id, as_of)
        due: dict[str, int] = dict(conn.execute(select(D.c.recipient_key, func.count()).where(_claimable(plan_id, now))
                                .group_by(D.c.recipient_key).order_by(D.c.recipient_key)).all())
        recipients = {r.key: r for r in conn.execute(select(Recipient.__table__).where(Recipient.__table__.c.plan_id == plan_id))}  # type: ignore[attr-defined]
        disabled = set(conn.execute(select(ChannelState.__table__.c.name).where(ChannelState.__table__.c.disabled)).scalars())  # type: ignore[attr-defined]
    run = _Run(engine, plan, settings, now, as_of, _coordinator_name(plan), recipients, summary, templates,
               after_send, topics, forms, disabled, alone=share.walks is None)
    window_open = in_window(plan, now)
    routes: dict[str, Route] = {}
    queues: dict[str, list[str]] = {}  # route name -> its recipients, in key order
    for key in due:
        route = resolve_route(recipients[key], settings, factory, routes)
        if route.windowed and not window_open:
            summary.waiting += 1 if share.first else 0  # counted once for the run
            continue
        queues.setdefault(route.name, []).append(key)
    for name, keys in queues.items():
        _deliver_route(run, routes[name], share.picks(keys), due)
    for name, keys in queues.items():
        if name in BATCH_RECIPIENTS:  # a robot's rate limit holds in one process: not helped
            for theirs in share.helping(keys):
                _help_route(run, routes[name], theirs)
    _report_open_circuits(routes, run.deferred, summary)
    if roll_up:
        roll_up_reminders(engine, plan_id)
    return summary


def roll_up_reminders(engine: Engine, plan_id: str) -> None:
    """A reminder's state follows its deliveries' (sent once one went, dead when all died)."""
    with engine.begin() as conn:
        conn.execute(text(q.ROLL_UP_REMINDERS), {"plan": plan_id})


def _deliver_route(run: _Run, route: Route, keys: list[str], due: dict[str, int]) -> None:
    """A route's recipients, batch by batch. A recipient whose frozen message went out
    goes again at once with the rest due (so a backlog held by an outage goes out in this
    run, not the next). A disabled channel's recipients are not even claimed (no attempt
    is used while it is off); an open circuit leaves them for the next run. What is left is
    counted from the store: in a split run another process may have delivered some of it."""
    waiting = list(keys)
    size = batch_size(route.name)
    while waiting:
        if route.name in run.disabled:
            run.summary.held += sum(_still_due(run, waiting, due).values())
            return
        if circuit_open(route.channel) is not None:
            _defer(run, route, len(_still_due(run, waiting, due)))
            return
        batch, waiting = waiting[:size], waiting[size:]
        outcome = _deliver_batch(run, route, batch)
        if outcome.fault:
            run.disabled.add(route.name)
            run.summary.held += sum(r.rows for r in outcome.released)
            outcome.released = []
        # given back unsent (the batch ran long, or the circuit opened: checked above) and
        # claimed afresh, their frozen messages unchanged
        waiting = outcome.again + [r.key for r in outcome.released] + waiting


def _help_route(run: _Run, route: Route, keys: list[str]) -> None:
    """Another process's recipients on a route, from the far end of its walk, batch by
    batch, until a batch finds nothing left to claim (that process has come this far) or
    the channel fails here. What a helper leaves its owner counts: the owner walks all of
    its recipients and counts what it finds held or deferred, so nothing is counted twice."""
    waiting = list(keys)
    size = batch_size(route.name)
    while waiting and route.name not in run.disabled and circuit_open(route.channel) is None:
        faults.point("deliver.helping")  # its own share done, another's under way
        batch, waiting = waiting[:size], waiting[size:]
        outcome = _deliver_batch(run, route, batch)
        if not outcome.claimed:
            return
        if outcome.fault:  # given back: the owner finds them and counts them held
            run.disabled.add(route.name)
            return
        waiting = outcome.again + [r.key for r in outcome.released] + waiting


def _still_due(run: _Run, keys: list[str], due: dict[str, int]) -> dict[str, int]:
    """The rows still claimable of each of these recipients (none: delivered, maybe by
    another process of the run). A run in one process needs no look: nobody else claims."""
    if run.alone:
        return {key: due[key] for key in keys}
    found: dict[str, int] = {}
    with run.engine.connect() as conn:
        for start in range(0, len(keys), 500):
            found.update(conn.execute(select(D.c.recipient_key, func.count()).where(
                _claimable(run.plan.id, run.now), D.c.recipient_key.in_(keys[start:start + 500]))
                .group_by(D.c.recipient_key)).tuples().all())
    return found


def _defer(run: _Run, route: Route, recipients: int) -> None:
    run.summary.deferred += recipients
    run.deferred[route.name] = run.deferred.get(route.name, 0) + recipients


def _deliver_batch(run: _Run, route: Route, keys: list[str]) -> _Outcome:
    """Claim a batch of recipients in one statement, freeze their messages together, send
    them: as a durable group to a channel that can (the file outbox), else one by one
    (over one SMTP connection when the channel has sessions)."""
    tokens = {key: uuid.uuid4().hex for key in keys}
    claimed = claim_batch(run.engine, run.plan.id, tokens, run.now)
    if not claimed:
        return _Outcome()
    faults.point("deliver.claimed")
    ready = frozen_messages(run, {key: tokens[key] for key in keys if key in claimed}, claimed)
    if not ready:
        outcome = _Outcome()
    elif isinstance(route.channel, FileOutboxChannel):
        outcome = _send_group(run, route, route.channel, ready)
    else:
        outcome = _send_each(run, route, ready)
    outcome.claimed = len(claimed)
    return outcome


def _send_group(run: _Run, route: Route, channel: FileOutboxChannel, ready: list[_Ready]) -> _Outcome:
    """Write every file, make them durable together, then record the batch `sent` in one
    transaction. A crash before the record resends into files that already exist (the
    same name from the same key): nothing new is written."""
    results = channel.send_group([r.message for r in ready], written=lambda: faults.point("deliver.written"))
    faults.point("deliver.synced")  # the crash window: durable, not yet recorded
    outcome = _Outcome()
    sent: list[tuple[_Ready, Receipt]] = []
    for item, result in zip(ready, results, strict=True):
        if isinstance(result, DeliveryError):
            _failed(run, route, item, result)
            continue
        if run.after_send is not None:
            run.after_send(_claimed_count(run.engine, item.token))
        sent.append((item, result))
        if item.resent:
            outcome.again.append(item.key)
    _record_sent(run, route, sent)
    return outcome


def _send_each(run: _Run, route: Route, ready: list[_Ready]) -> _Outcome:
    """Send one message at a time (over one SMTP connection when the channel has sessions),
    on a sender thread a few messages ahead of their records (`send_ahead`): e-mail keeps
    `SMTP_AHEAD` sent and unrecorded at most, the crash window's width; a robot one. Whatever
    went meanwhile is recorded in one transaction. Gives back the rest of the batch
    unclaimed when the channel turns out broken, its circuit opens, or the batch has run for
    half the lease (a claim must not expire while still queued)."""
    outcome = _Outcome()
    ahead = SMTP_AHEAD if getattr(route.channel, "session", None) is not None else 1
    with SendAhead(route.channel, ready, ahead=ahead, budget_s=BATCH_SECONDS) as sender:
        for went in sender.results():
            sent: list[tuple[_Ready, Receipt]] = []
            for item, result in went:
                if isinstance(result, DeliveryError):
                    _failed(run, route, item, result)
                    outcome.fault = outcome.fault or result.channel_fault
                    continue
                if run.after_send is not None:
                    run.after_send(_claimed_count(run.engine, item.token))
                faults.point("deliver.sent")  # the crash window: sent, not yet recorded
                sent.append((item, result))
                if item.resent:
                    outcome.again.append(item.key)
            _record_sent(run, route, sent)
            sender.recorded(len(went))
    outcome.released = sender.unsent
    release(run.engine, [(item.token, item.message_id) for item in outcome.released])
    return outcome


def _failed(run: _Run, route: Route, item: _Ready, exc: DeliveryError) -> None:
    _record_failure(run.engine, item.token, item.message_id, run.now, str(exc), permanent=exc.permanent,
                    channel_fault=exc.channel_fault, max_attempts=run.settings.delivery_max_attempts,
                    summary=run.summary)
    if exc.channel_fault:  # the channel itself is broken (bad token, auth): not one bad address
        _disable_channel(run.engine, route.name, str(exc), run.now)
    run.summary.errors.append(f"{route.name} → {item.key}: {exc}")


def _record_sent(run: _Run, route: Route, sent: list[tuple[_Ready, Receipt]]) -> None:
    """Record messages `sent`, all in one transaction (with the week's report's audit
    event for a weekly row)."""
    if not sent:
        return
    mark = (update(D).where(D.c.claim == bindparam("b_token"), D.c.state == "sending")
            .values(state="sent", sent_at=run.now, receipt=bindparam("b_receipt"), last_error=None, fault=None,
                    message_id=bindparam("b_message")))
    with run.engine.begin() as conn:
        conn.execute(mark, [{"b_token": item.token, "b_receipt": receipt.detail[:500], "b_message": item.message_id}
                            for item, receipt in sent])
        weekly = {item.token: receipt.detail for item, receipt in sent if item.weekly}
        if weekly:  # most messages carry none: no statement to find that out
            _record_weekly_sent(conn, run.plan.id, weekly, run.now, route.name)
    run.summary.messages_sent += len(sent)
    run.summary.deliveries_sent += sum(item.rows for item, _ in sent)


def _claimed_count(engine: Engine, token: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).where(D.c.claim == token, D.c.reminder_id.is_not(None))).scalar_one())


def frozen_messages(run: _Run, tokens: dict[str, str], claimed: dict[str, int]) -> list[_Ready]:
    """The message of each claimed recipient (key -> token), and whether it was frozen
    before: the stored one when its rows already have one, else rendered now, for the
    night, and stored — every fresh message of the batch in one transaction — before
    anything is sent; the unit's form attached to it included, so a resend carries the
    same workbook. A recipient whose rows have nothing left to say (a decisions digest
    whose decisions were all taken) is left out, its rows void."""
    plan, recipients = run.plan, run.recipients
    with run.engine.connect() as conn:
        claims = _claims(conn, plan.id, tokens)
        stored = _stored_messages(conn, {t: c.message_id for t, c in claims.items() if c.message_id is not None})
        fresh = [(recipients[key], token) for key, token in tokens.items() if token not in stored]
        models = claimed_messages(conn, plan, fresh, run.as_of, coordinator=run.coordinator,
                                  portal_url=plan.plan.portal_url or run.settings.portal_url) if fresh else {}
        decisions: list[Any] | None = None
        for token, model in models.items():
            if DECISIONS_TOPIC in claims[token].topics and not model.decisions:
                decisions = waiting_decisions(conn, plan, run.as_of) if decisions is None else decisions
                model.decisions = list(decisions)
    if run.forms is not None and models:
        run.forms.prefetch(plan, [(recipient, models[token]) for recipient, token in fresh if token in models],
                           run.as_of)
    ready: list[_Ready] = []
    new: list[tuple[str, str, Message]] = []  # (key, token, message) to store
    void: list[str] = []
    for key, token in tokens.items():
        recipient = recipients[key]
        if token in stored:
            ready.append(_Ready(key, token, claimed[key], replace(stored[token], recipient_name=recipient.name,
                                                                   address=recipient.address), resent=True,
                                weekly=WEEKLY_TOPIC in claims[token].topics, message_id=claims[token].message_id))
            continue
        message = _fresh_message(run, recipient, claims[token], models[token])
        if message is None:
            void.append(token)
        else:
            new.append((key, token, message))
    frozen = _store_messages(run, new, void)
    if new:
        faults.point("deliver.frozen")
    order = {key: position for position, key in enumerate(tokens)}
    ready += [_Ready(key, token, claimed[key], message, resent=False, weekly=WEEKLY_TOPIC in claims[token].topics,
                     message_id=frozen[token])
              for key, token, message in new]
    return sorted(ready, key=lambda r: order[r.key])


class _Claim:
    """What a claimed recipient's rows say about its message, read as they stream by: the
    message key (a hash of every delivery id: a 通报 digest at 1M has 440,000 of them, which
    are not kept), the frozen message they already point to, and their topic rows."""

    def __init__(self, plan_id: str, recipient_key: str) -> None:
        self._ids = message_key_hash(plan_id, recipient_key)
        self._first = True
        self.message_id: int | None = None
        self.topics: dict[str, Any] = {}

    def add(self, row: Any) -> None:
        self._ids.update(f"{'' if self._first else ','}{int(row.id)}".encode())
        self._first = False
        if self.message_id is None and row.message_id is not None:
            self.message_id = int(row.message_id)
        if row.topic:  # of two rows of a kind (two weeks' reports after an outage), the newest
            self.topics[str(row.topic).split(":")[0]] = row

    @property
    def message_key(self) -> str:
        return self._ids.hexdigest()[:32]


def _claims(conn: Connection, plan_id: str, tokens: dict[str, str]) -> dict[str, _Claim]:
    """Each claim token's `_Claim` (tokens: recipient key -> token), its rows in id order."""
    found = {token: _Claim(plan_id, key) for key, token in tokens.items()}
    wanted = list(found)
    for start in range(0, len(wanted), 500):
        for row in conn.execute(select(D.c.claim, D.c.id, D.c.message_id, D.c.topic, D.c.raised_on)
                                .where(D.c.claim.in_(wanted[start:start + 500])).order_by(D.c.claim, D.c.id)):
            found[row.claim].add(row)
    return found


def _stored_messages(conn: Connection, ids: dict[str, int]) -> dict[str, Message]:
    """The frozen messages (token -> message) as stored; recipient name and address are
    filled in by the caller from the recipient's current row."""
    if not ids:
        return {}
    wanted = sorted(set(ids.values()))
    files: dict[int, list[Attachment]] = {}
    for f in conn.execute(select(MA).where(MA.c.message_id.in_(wanted)).order_by(MA.c.message_id, MA.c.position)):
        files.setdefault(int(f.message_id), []).append(Attachment(f.filename, bytes(f.content), f.mime_type))
    messages = {int(m.id): Message(recipient_name="", address="", subject=m.subject, text=m.text, html=m.html,
                                   message_key=m.message_key, plan_id=m.plan_id, reply_to=m.reply_to,
                                   attachments=tuple(files.get(int(m.id), ())))
                for m in conn.execute(select(M).where(M.c.id.in_(wanted)))}
    return {token: messages[mid] for token, mid in ids.items()}


def _fresh_message(run: _Run, recipient: Any, claim: _Claim, model: Any) -> Message | None:
    """Render a claimed recipient's message for the night (None: nothing left to say)."""
    kinds = claim.topics
    if WEEKLY_TOPIC in kinds and run.topics is not None:
        model.weekly = run.topics.weekly_part(_day(kinds[WEEKLY_TOPIC].raised_on or run.as_of))
    if not model.items and model.weekly is None and not model.decisions:
        return None
    attached = run.forms.for_message(run.plan, recipient, model, run.as_of) if run.forms is not None else ()
    rendered = render_model(run.plan, model, run.templates)
    return Message(recipient_name=recipient.name, address=recipient.address, subject=rendered.subject,
                   text=rendered.text, html=rendered.html,
                   message_key=claim.message_key,
                   plan_id=run.plan.id, reply_to=run.settings.reply_address if attached else None,
                   attachments=attached)


def _store_messages(run: _Run, new: list[tuple[str, str, Message]], void: list[str]) -> dict[str, int]:
    """Freeze the batch's fresh messages (and their attachments), each under the claim it
    was rendered for, in one transaction; void the rows with nothing left to say. Returns
    each claim token's message. The rows are not written here: they point at their
    message when recorded (a crash before that: `_point_lost_claims`), one write of each
    row fewer on the way out."""
    if not new and not void:
        return {}
    with run.engine.begin() as conn:
        if void:
            conn.execute(update(D).where(D.c.claim.in_(void), D.c.state == "sending")
                         .values(state="void", last_error="nothing left to say when it was due"))
        if not new:
            return {}
        ids = conn.execute(insert(M).returning(M.c.id, sort_by_parameter_order=True), [
            {"plan_id": run.plan.id, "recipient_key": key, "message_key": m.message_key, "as_of": run.as_of,
             "subject": m.subject, "text": m.text, "html": m.html, "reply_to": m.reply_to, "created_at": run.now,
             "claim": token}
            for key, token, m in new]).scalars().all()
        files = [{"message_id": mid, "position": position, "filename": f.filename, "mime_type": f.mime_type,
                  "content": f.content}
                 for mid, (_, _, m) in zip(ids, new, strict=True) for position, f in enumerate(m.attachments)]
        if files:
            conn.execute(insert(MA), files)
    return {token: int(mid) for mid, (_, token, _) in zip(ids, new, strict=True)}


def _report_open_circuits(routes: dict[str, Route], held: dict[str, int], summary: DeliverySummary) -> None:
    for route in routes.values():
        reason = circuit_open(route.channel)
        if reason is not None:
            summary.errors.append(f"{route.name}: stopped trying after {reason}; "
                                  f"{held.get(route.name, 0)} recipient(s) wait for the next delivery run")
            breaker = route.channel.breaker  # type: ignore[attr-defined]  # circuit_open found one
            summary.stopped.append(StoppedChannel(route.name, breaker.failures, breaker.last_error or "",
                                                  held.get(route.name, 0)))


def _coordinator_name(plan: Plan) -> str:
    unit = next((u for u in plan.units if u.id == plan.plan.coordinator), None)
    return unit.name if unit else plan.plan.coordinator


def _record_weekly_sent(conn: Connection, plan_id: str, receipts: dict[str, str], now: dt.datetime,
                        channel: str) -> None:
    """The audit record of a week's report sent, in the transaction recording its delivery
    (`receipts`: claim token -> the channel's receipt)."""
    tokens = list(receipts)
    for start in range(0, len(tokens), 500):
        for row in conn.execute(select(D.c.claim, D.c.recipient_key, D.c.topic, D.c.raised_on).where(
                D.c.claim.in_(tokens[start:start + 500]), D.c.topic.like(f"{WEEKLY_TOPIC}:%"))):
            record_event(conn, plan_id=plan_id, kind=WEEKLY_EVENT, actor="nightly", source="nightly", at=now,
                         payload={"week": row.topic.split(":", 1)[1], "as_of": str(row.raised_on),
                                  "recipient": row.recipient_key, "state": "sent", "channel": channel,
                                  "receipt": receipts[row.claim][:500], "with": "outbox"})


def _record_failure(engine: Engine, token: str, message_id: int | None, now: dt.datetime, error: str, *,
                    permanent: bool, channel_fault: bool, max_attempts: int, summary: DeliverySummary) -> None:
    """A channel fault holds the rows (no attempt used, due again as soon as the channel is
    enabled); a permanent refusal kills them; anything else backs off until attempts run out.

    A refusal (channel fault or permanent) means the peer did not take the message: its rows
    leave the frozen message and join the next one, rendered afresh with whatever else is
    due. After a transient failure the peer may have taken it (a timeout after the data):
    the rows keep it (`message_id`: their frozen message), so a retry is the same bytes and
    Message-ID."""
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
            if channel_fault or permanent:  # the rows leave the message and the claim it was frozen for
                values.update(message_id=None, claim=None)
            else:
                values["message_id"] = message_id
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

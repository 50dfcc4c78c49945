"""Sending the receipts of `mail fetch`: the `mail_reply` rows are their outbox.

The same rules as a reminder's delivery (services.delivery): claimed (`sending`) before the
send, recorded after; a crash between leaves the row `sending` and after `LEASE` it is sent
again with the same message key (the same Message-ID, the same outbox file). The channel is
the one an e-mail recipient's reminder would take (SMTP when configured, else the file
outbox); a receipt answers a message the unit just sent, so it does not wait for the
delivery window. Kept apart from `delivery`: a receipt is tied to a message, not a reminder.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Engine, and_, or_, select, update

from plan_tracker.channels import DeliveryError, Message, build_channel
from plan_tracker.services.delivery import (
    BACKOFF_BASE,
    BACKOFF_CAP,
    LEASE,
    ChannelFactory,
    Route,
    resolve_route,
)
from plan_tracker.settings import Settings
from plan_tracker.store.mail_models import MailReply

M = MailReply.__table__  # type: ignore[attr-defined]
BATCH = 200  # receipts sent per call; the rest go on the next fetch


@dataclass
class ReceiptSummary:
    sent: int = 0
    failed: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)


def _claimable(now: dt.datetime) -> Any:
    due = or_(M.c.next_attempt_at.is_(None), M.c.next_attempt_at <= now)
    return or_(and_(M.c.state.in_(("pending", "failed")), due),
               and_(M.c.state == "sending", M.c.claimed_at < now - LEASE))


def send_receipts(engine: Engine, *, now: dt.datetime, settings: Settings,
                  factory: ChannelFactory | None = None) -> ReceiptSummary:
    factory = factory or (lambda kind, options: build_channel(kind, **options))
    summary = ReceiptSummary()
    routes: dict[str, Route] = {}
    with engine.connect() as conn:
        ids = [int(r[0]) for r in conn.execute(select(M.c.id).where(_claimable(now)).order_by(M.c.id).limit(BATCH))]
    for row_id in ids:
        _send_one(engine, row_id, now=now, settings=settings, factory=factory, routes=routes, summary=summary)
    return summary


def _send_one(engine: Engine, row_id: int, *, now: dt.datetime, settings: Settings, factory: ChannelFactory,
              routes: dict[str, Route], summary: ReceiptSummary) -> None:
    token = uuid.uuid4().hex
    with engine.begin() as conn:
        if not conn.execute(update(M).where(M.c.id == row_id, _claimable(now)).values(
                state="sending", claim=token, claimed_at=now, attempts=M.c.attempts + 1)).rowcount:
            return  # another fetch took it
        row = conn.execute(select(M).where(M.c.id == row_id)).one()
    recipient = SimpleNamespace(channel="email", address=row.sender, name="", key=f"email:{row.sender}")
    route = resolve_route(recipient, settings, factory, routes)
    message = Message(recipient_name="", address=row.sender, subject=row.receipt_subject, text=row.receipt_text,
                      message_key=f"mail-receipt:{row.digest}", plan_id=row.plan_id,
                      reply_to=settings.reply_address, in_reply_to=row.message_id)
    try:
        receipt = route.channel.send(message)
    except DeliveryError as exc:
        dead = exc.permanent or row.attempts >= settings.delivery_max_attempts
        backoff = min(BACKOFF_BASE * 2 ** max(row.attempts - 1, 0), BACKOFF_CAP)
        with engine.begin() as conn:
            conn.execute(update(M).where(M.c.id == row_id, M.c.claim == token).values(
                state="dead" if dead else "failed", last_error=str(exc)[:1000],
                next_attempt_at=None if dead else now + backoff))
        summary.dead += dead
        summary.failed += not dead
        summary.errors.append(f"{route.name} → {row.sender}: {exc}")
        return
    with engine.begin() as conn:
        conn.execute(update(M).where(M.c.id == row_id, M.c.claim == token).values(
            state="sent", sent_at=now, receipt=receipt.detail[:500], last_error=None))
    summary.sent += 1

"""The reminder carries the form: a unit contact's e-mail attaches, per unit, the pre-filled
XLSX template of exactly the items the message lists (the workbook `templates` writes, its
`_meta` identity signed with the install's secret), and says in one sentence to fill it in
and reply. The reply is read by `mail fetch` (inbox.mail).

Delivery (a service) cannot import the inbox: it is handed a `ReplyForms` by the delivery
stage (`reports.weekly_mail.deliver_with_weekly`, which every delivery run goes through)."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine

from plan_tracker.channels.base import Attachment
from plan_tracker.domain.plan import Plan
from plan_tracker.services.messages import MessageModel
from plan_tracker.settings import Settings

logger = logging.getLogger(__name__)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORM_NOTE = {
    "zh": "请填写随信附上的报送模板（已列出上述事项），直接回复本邮件即可（请保留附件）。",
    "en": "fill in the attached spreadsheet (it lists these items) and reply to this e-mail with it attached.",
}


class ReplyForms:
    """`services.delivery.FormSource`: the forms of one delivery run. What every form of the
    night shares (the plan's context and version, the evaluation's parameters, the secret) is
    read once per run, not once per message; the status rows of a batch's forms in one read
    (`prefetch`), not a few per form."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self.nights: dict[tuple[str, dt.date], Night] = {}
        self.batch: Batch | None = None
        self.secret: str | None = None

    def prefetch(self, plan: Plan, messages: Sequence[tuple[Any, MessageModel]], as_of: dt.date) -> None:
        """Read the status rows of every form these messages may carry, in one statement per
        `status.IDS_PER_STATEMENT` items; `for_message` then reads none for them."""
        from plan_tracker.services.status import status_rows_by_id

        wanted = [oid for recipient, model in messages if recipient.channel == "email"
                  for ids in _items_by_unit(model).values() for oid in ids]
        if not wanted:
            return
        with self.engine.connect() as conn:
            night = _night(conn, plan, as_of, self.nights)
            self.batch = Batch(plan.id, as_of, status_rows_by_id(conn, night.ctx, as_of, wanted, night.params))

    def for_message(self, plan: Plan, recipient: Any, model: MessageModel, as_of: dt.date) -> tuple[Attachment, ...]:
        if not _takes_form(recipient, model):
            return ()  # before the secret: a robot's message neither makes one nor warns of it
        if self.secret is None:
            self.secret = _secret(self.settings)
        known = self.batch.rows if self.batch is not None and self.batch.key == (plan.id, as_of) else {}
        return forms_for(self.engine, plan, recipient, model, as_of=as_of, settings=self.settings, nights=self.nights,
                         known=known, secret=self.secret)


@dataclass(frozen=True)
class Batch:
    """The status rows a delivery batch's forms show, by obligation id."""

    plan_id: str
    as_of: dt.date
    rows: dict[int, Any]  # obligation id -> services.status.StatusRow

    @property
    def key(self) -> tuple[str, dt.date]:
        return (self.plan_id, self.as_of)


@dataclass(frozen=True)
class Night:
    """What the forms of one plan's night share."""

    ctx: Any  # services.context.PlanContext
    version: int
    params: dict[str, Any]
    order: dict[str, int]  # task id -> place in the plan
    units: dict[str, Any]  # unit id -> domain.plan.Unit


def forms_for(engine: Engine, plan: Plan, recipient: Any, model: MessageModel, *, as_of: dt.date,
              settings: Settings, nights: dict[tuple[str, dt.date], Night] | None = None,
              known: dict[int, Any] | None = None, secret: str | None = None) -> tuple[Attachment, ...]:
    """One signed form per unit of the message's contact section (none for robots, or when
    the install's secret is unusable); sets `model.form_note` when it attaches any. `nights`
    keeps what the forms of a run share; `known`, status rows already read by obligation id;
    `secret`, the install's secret already resolved."""
    if not _takes_form(recipient, model):
        return ()
    secret = secret if secret is not None else _secret(settings)
    if secret is None:
        return ()
    attachments = _workbooks(engine, plan, _items_by_unit(model), as_of, secret, {} if nights is None else nights,
                             {} if known is None else known)
    if attachments:
        model.form_note = FORM_NOTE.get(model.locale, FORM_NOTE["zh"])
    return attachments


def _takes_form(recipient: Any, model: MessageModel) -> bool:
    """An e-mail with a contact section: its units' forms can be answered by reply."""
    return bool(recipient.channel == "email" and any(s.audience == "contact" for s in model.sections))


def _secret(settings: Settings) -> str | None:
    from plan_tracker.token_secret import WeakSecret, resolve_secret

    try:
        return resolve_secret(settings)
    except (WeakSecret, OSError) as exc:  # `doctor` and `serve` say the same loudly; a reminder still goes out
        logger.warning("reminder sent without its form: %s", exc)
        return None


def _items_by_unit(model: MessageModel) -> dict[str, list[int]]:
    """The obligation ids of the message's contact section, by unit, in the message's order."""
    contact = next((s for s in model.sections if s.audience == "contact"), None)
    by_unit: dict[str, list[int]] = defaultdict(list)
    for item in contact.items if contact is not None else ():
        if item.obligation_id is not None:
            by_unit[item.unit_id].append(item.obligation_id)
    return by_unit


def _night(conn: Connection, plan: Plan, as_of: dt.date, nights: dict[tuple[str, dt.date], Night]) -> Night:
    from plan_tracker.inbox.template import plan_version
    from plan_tracker.services.context import plan_context

    key = (plan.id, as_of)
    if key not in nights:
        ctx = plan_context(conn, plan.id, as_of)
        nights[key] = Night(ctx, plan_version(conn, plan.id), ctx.eval_params(conn, as_of),
                            {t.id: i for i, (_, t) in enumerate(plan.tasks())}, {u.id: u for u in plan.units})
    return nights[key]


def _workbooks(engine: Engine, plan: Plan, by_unit: dict[str, list[int]], as_of: dt.date, secret: str,
               nights: dict[tuple[str, dt.date], Night], known: dict[int, Any]) -> tuple[Attachment, ...]:
    from plan_tracker.inbox.template import build_form
    from plan_tracker.services.status import status_rows_by_id

    missing = [oid for ids in by_unit.values() for oid in ids if oid not in known]
    if missing or (plan.id, as_of) not in nights:  # a message outside a prefetched batch
        with engine.connect() as conn:
            night = _night(conn, plan, as_of, nights)
            known = {**known, **status_rows_by_id(conn, night.ctx, as_of, missing, night.params)}
    night = nights[(plan.id, as_of)]
    units = night.units
    found = []
    for unit_id, ids in by_unit.items():
        rows = [known[oid] for oid in sorted(set(ids)) if oid in known and known[oid].unit == unit_id]
        if unit_id not in units or not rows:
            continue
        rows.sort(key=lambda r: (night.order.get(r.task, len(night.order)), r.task, r.period))
        form = build_form(plan, night.version, units[unit_id], rows, as_of=as_of, today=as_of, secret=secret)
        found.append(Attachment(f"{plan.id}-{unit_id}-{as_of.isoformat()}.xlsx", form, XLSX))
    return tuple(found)

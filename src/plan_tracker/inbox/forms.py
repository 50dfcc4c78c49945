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
    night shares (the plan's context and version, the evaluation's parameters) is read once
    per run, not once per message."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self.nights: dict[tuple[str, dt.date], Night] = {}

    def for_message(self, plan: Plan, recipient: Any, model: MessageModel, as_of: dt.date) -> tuple[Attachment, ...]:
        return forms_for(self.engine, plan, recipient, model, as_of=as_of, settings=self.settings, nights=self.nights)


@dataclass(frozen=True)
class Night:
    """What the forms of one plan's night share."""

    ctx: Any  # services.context.PlanContext
    version: int
    params: dict[str, Any]
    order: dict[str, int]  # task id -> place in the plan


def forms_for(engine: Engine, plan: Plan, recipient: Any, model: MessageModel, *, as_of: dt.date,
              settings: Settings, nights: dict[tuple[str, dt.date], Night] | None = None) -> tuple[Attachment, ...]:
    """One signed form per unit of the message's contact section (none for robots, or when
    the install's secret is unusable); sets `model.form_note` when it attaches any. `nights`
    keeps what the forms of a run share."""
    from plan_tracker.token_secret import WeakSecret, resolve_secret

    contact = next((s for s in model.sections if s.audience == "contact"), None)
    if recipient.channel != "email" or contact is None:
        return ()
    try:
        secret = resolve_secret(settings)
    except (WeakSecret, OSError) as exc:  # `doctor` and `serve` say the same loudly; a reminder still goes out
        logger.warning("reminder sent without its form: %s", exc)
        return ()
    by_unit: dict[str, list[int]] = defaultdict(list)
    for item in contact.items:
        if item.obligation_id is not None:
            by_unit[item.unit_id].append(item.obligation_id)
    attachments = _workbooks(engine, plan, by_unit, as_of, secret, {} if nights is None else nights)
    if attachments:
        model.form_note = FORM_NOTE.get(model.locale, FORM_NOTE["zh"])
    return attachments


def _night(conn: Connection, plan: Plan, as_of: dt.date, nights: dict[tuple[str, dt.date], Night]) -> Night:
    from plan_tracker.inbox.template import plan_version
    from plan_tracker.services.context import plan_context

    key = (plan.id, as_of)
    if key not in nights:
        ctx = plan_context(conn, plan.id, as_of)
        nights[key] = Night(ctx, plan_version(conn, plan.id), ctx.eval_params(conn, as_of),
                            {t.id: i for i, (_, t) in enumerate(plan.tasks())})
    return nights[key]


def _workbooks(engine: Engine, plan: Plan, by_unit: dict[str, list[int]], as_of: dt.date, secret: str,
               nights: dict[tuple[str, dt.date], Night]) -> tuple[Attachment, ...]:
    from plan_tracker.inbox.template import build_form
    from plan_tracker.services.status import status_rows_of

    units = {u.id: u for u in plan.units}
    found = []
    with engine.connect() as conn:
        night = _night(conn, plan, as_of, nights)
        for unit_id, ids in by_unit.items():
            rows = [r for r in status_rows_of(conn, night.ctx, as_of, ids, night.params) if r.unit == unit_id]
            if unit_id not in units or not rows:
                continue
            rows.sort(key=lambda r: (night.order.get(r.task, len(night.order)), r.task, r.period))
            form = build_form(plan, night.version, units[unit_id], rows, as_of=as_of, today=as_of, secret=secret)
            found.append(Attachment(f"{plan.id}-{unit_id}-{as_of.isoformat()}.xlsx", form, XLSX))
    return tuple(found)

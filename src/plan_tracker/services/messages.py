"""Rendering reminder messages from the Jinja2 templates shipped in `plan_tracker/templates`."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import BaseLoader, Environment, FileSystemLoader, StrictUndefined

from plan_tracker.domain.plan import Plan
from plan_tracker.domain.vocabulary import level_word, status_word
from plan_tracker.resources import template_loader

PERIOD_WORDS_ZH = {"once": "一次性任务"}


@dataclass(frozen=True)
class Item:
    """One reminder line in a message."""

    task_id: str
    task_title: str
    unit_name: str
    period: str
    due: dt.date
    level: str
    position: int
    overdue_wd: int
    days_left: int | None


@cache
def _environment(folder: str | None) -> Environment:
    """The shipped templates (package data), or a folder of the caller's own."""
    loader: BaseLoader = template_loader() if folder is None else FileSystemLoader(folder)
    # Plain-text templates: autoescape off on purpose; HTML renderings escape separately.
    return Environment(loader=loader, undefined=StrictUndefined,  # noqa: S701
                       keep_trailing_newline=True, trim_blocks=False)


def level_wording(plan: Plan, level: str) -> str:
    step = next((s for s in plan.escalation if s.level == level), None)
    """The step's own `label` when the plan gives one, else the catalogue's word."""
    if step is not None and step.label:
        return step.label
    return level_word(level, plan.plan.locale)


def period_label(period: str) -> str:
    return PERIOD_WORDS_ZH.get(period, period)


def render(plan: Plan, *, recipient_name: str, items: list[Item], as_of: dt.date,
           coordinator_name: str, portal_url: str | None, templates: Path | None = None) -> tuple[str, str]:
    """(subject, text) of one grouped message; never called with no items."""
    if not items:
        raise ValueError("a message needs at least one item")
    env = _environment(None if templates is None else str(templates))
    locale = plan.plan.locale
    top = max(items, key=lambda i: i.position)
    context: dict[str, Any] = {
        "recipient_name": recipient_name, "plan_title": plan.plan.title,
        "top_wording": level_wording(plan, top.level), "as_of": as_of.isoformat(),
        "coordinator_name": coordinator_name, "portal_url": portal_url,
        "done_word": status_word("done", locale),
        "overdue_count": sum(1 for i in items if i.overdue_wd > 0),
        "items": [{**vars(i), "wording": level_wording(plan, i.level), "period_label": period_label(i.period)}
                  for i in items],
    }
    subject = env.get_template(f"reminder_subject.{locale}.txt.j2").render(context).strip()
    body = env.get_template(f"reminder.{locale}.txt.j2").render(context)
    return subject, body


def message_key(plan_id: str, recipient_key: str, delivery_ids: list[int]) -> str:
    """Stable per set of deliveries: a resend after a crash reuses the key (and Message-ID)."""
    blob = f"{plan_id}|{recipient_key}|{','.join(map(str, sorted(delivery_ids)))}"
    return hashlib.sha256(blob.encode()).hexdigest()[:32]

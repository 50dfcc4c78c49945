"""Reminder messages written for their reader, rendered from one model as plain text and
HTML (Jinja2 templates shipped in `plan_tracker/templates`, one per locale).

A recipient gets one message per delivery run. Its items are sorted into sections by the
role the recipient holds for each item (a person may be one unit's contact and the plan's
coordinator at once), each section written for that reader:

- `contact` (联络员): what to do and by when, how to report (the portal page of each item;
  the spreadsheet template from the coordinating office);
- `head` (负责人): the unit's overdue items and who is handling them;
- `coordinator` (督查办): the escalated items, and the decisions waiting — blocked items,
  extension requests, done reports to review (the portal's review page);
- `leading_group` (领导小组): a 通报 digest — units, item counts, the longest overdue, and
  the change since the previous digest.

Every listed item carries the unit's own words: its latest status, progress, report date
and note (trimmed here; escaped by the HTML template). No message carries a command line.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from jinja2 import BaseLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape

from plan_tracker.domain.plan import Plan
from plan_tracker.domain.vocabulary import level_word, light_word, status_word
from plan_tracker.resources import template_loader

PERIOD_WORDS = {"zh": {"once": "一次性任务"}, "en": {"once": "one-off"}}
# Sections in the order a message shows them: what the reader must do comes first.
AUDIENCES = ("contact", "head", "coordinator", "leading_group")
NOTE_LIMIT = 120  # characters of a unit's note quoted in a message


@dataclass(frozen=True)
class UnitWords:
    """What the unit last reported on an item (as of the message's date)."""

    status: str
    progress: int | None
    reported_on: dt.date
    note: str | None


@dataclass(frozen=True)
class Item:
    """One listed item of a message."""

    task_id: str
    task_title: str
    unit_name: str
    period: str
    due: dt.date
    level: str
    position: int
    overdue_wd: int
    days_left: int | None
    obligation_id: int | None = None
    unit_id: str = ""
    handler: str | None = None  # the unit's contact: who is handling the item
    latest: UnitWords | None = None
    wording: str | None = None  # instead of the level's word (the weekly overdue list: the light)


@dataclass(frozen=True)
class Decision:
    """Something waiting for the coordinator: a blocked item, an extension request, a done
    report to review."""

    kind: str  # blocked | extension | review
    task_title: str
    unit_name: str
    period: str
    detail: str | None  # the unit's reason or note (trimmed)
    new_due: dt.date | None = None
    since: dt.date | None = None


@dataclass(frozen=True)
class DigestUnit:
    unit_name: str
    items: int
    longest_overdue_wd: int


@dataclass(frozen=True)
class Digest:
    """The leading group's 通报 digest over all its items, listed or only counted."""

    units: list[DigestUnit]
    total: int
    longest: Item | None
    new: int  # items listed for the first time
    previous_total: int | None  # items of the previous digest to this recipient (None: first)


@dataclass(frozen=True)
class WeeklyPart:
    """The weekly report carried in a manager's message: headline figures and the overdue
    list (with the units' words), built by `reports.weekly_mail` from the week's report."""

    title: str
    figures: list[tuple[str, str]]
    overdue_heading: str
    overdue: list[Item]
    more: str | None  # "N more not listed"


@dataclass(frozen=True)
class Section:
    audience: str
    items: list[Any]  # Items (in the model) or their template views (when rendering)
    omitted: int = 0  # items counted but not listed (the leading group's digest lists the first ones)
    omitted_overdue: int = 0  # of the omitted items, the overdue ones (the subject counts them)


@dataclass
class MessageModel:
    locale: str
    recipient_name: str
    plan_title: str
    as_of: dt.date
    coordinator_name: str
    portal_url: str | None
    sections: list[Section]
    decisions: list[Decision] = field(default_factory=list)
    digest: Digest | None = None
    weekly: WeeklyPart | None = None
    form_note: str | None = None  # the one sentence on the attached form (services.reply_forms)

    @property
    def items(self) -> list[Item]:
        """The items the model holds (a long digest holds only those it lists)."""
        return [i for s in self.sections for i in s.items]

    @property
    def item_count(self) -> int:
        """Every item of the message, listed or only counted."""
        return len(self.items) + sum(s.omitted for s in self.sections)

    @property
    def overdue_count(self) -> int:
        return sum(1 for i in self.items if i.overdue_wd > 0) + sum(s.omitted_overdue for s in self.sections)


# A leader reads the digest's counts per unit and the longest-overdue items, not every item:
# a province's 通报 night lists tens of thousands, which no one reads and which cost gigabytes
# to render. The coordinator's escalated items likewise: a province's first night escalated
# 5,000 of them into one 4 MB message (at a million obligations, tens of MB: more than mail
# servers take). The full list is in the report. A unit's contact and head read every item.
LEADING_GROUP_LISTED = 200
COORDINATOR_LISTED = 200
LISTED_AT_MOST = {"leading_group": LEADING_GROUP_LISTED, "coordinator": COORDINATOR_LISTED}


def listed_section(section: Section, view: Any) -> Section:
    """A section as a template lists it: every item, except a manager's section (the
    leading group's digest, the coordinator's escalated items), which lists the first
    `LISTED_AT_MOST` (the highest level and oldest due first) and counts the rest (a model
    read from the store holds only those already, and counts the rest in `omitted`)."""
    shown = section.items[:LISTED_AT_MOST.get(section.audience, len(section.items))]
    cut = section.items[len(shown):]
    return Section(section.audience, [view(i) for i in shown], omitted=section.omitted + len(cut),
                   omitted_overdue=section.omitted_overdue + sum(1 for i in cut if i.overdue_wd > 0))


def clean_note(text: str | None, limit: int = NOTE_LIMIT) -> str | None:
    """A unit's free text fit to quote: control characters and runs of white space become
    one space, and a long note is cut with an ellipsis. Escaping is the renderer's job."""
    if not text:
        return None
    flat = re.sub(r"[\x00-\x1f\x7f\s]+", " ", text).strip()
    if not flat:
        return None
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def level_wording(plan: Plan, level: str) -> str:
    """The step's own `label` when the plan gives one, else the catalogue's word."""
    step = next((s for s in plan.escalation if s.level == level), None)
    if step is not None and step.label:
        return step.label
    return level_word(level, plan.plan.locale)


def period_label(period: str, locale: str = "zh") -> str:
    return PERIOD_WORDS.get(locale, PERIOD_WORDS["zh"]).get(period, period)


def ranked_units(units: Iterable[DigestUnit]) -> list[DigestUnit]:
    """The digest's units in the order it names them: most items first, then the longest
    overdue, then by name."""
    return sorted(units, key=lambda u: (-u.items, -u.longest_overdue_wd, u.unit_name))


@cache
def _environment(folder: str | None) -> Environment:
    """The shipped templates (package data), or a folder of the caller's own.
    `.txt.j2` templates are plain text (no escaping); `.html.j2` ones autoescape every value."""
    loader: BaseLoader = template_loader() if folder is None else FileSystemLoader(folder)
    # auto_reload off: each template is compiled once per process and never stat()ed again
    # (a night renders thousands of messages from the same three templates).
    env = Environment(loader=loader, undefined=StrictUndefined, auto_reload=False,
                      autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
                      keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    return env


def warm_templates(locales: Sequence[str] = ("zh", "en")) -> None:
    """Compile the shipped message templates now (a delivery process started ahead of its
    work does it while the night evaluates)."""
    env = _environment(None)
    for locale in locales:
        for name in _template_names(locale):
            env.get_template(name)


def _template_names(locale: str) -> tuple[str, str, str]:
    """A message's subject, plain-text and HTML templates in `locale`."""
    return f"reminder_subject.{locale}.txt.j2", f"reminder.{locale}.txt.j2", f"reminder.{locale}.html.j2"


def portal_link(portal_url: str | None, obligation_id: int | None) -> str | None:
    if not portal_url:
        return None
    base = portal_url.rstrip("/")
    return f"{base}/portal/obligations/{obligation_id}" if obligation_id is not None else f"{base}/portal"


def _context(plan: Plan, model: MessageModel) -> dict[str, Any]:
    locale = model.locale

    wordings = {step.level: level_wording(plan, step.level) for step in plan.escalation}  # a few, shared by items

    def item_view(item: Item) -> SimpleNamespace:
        # A namespace, not a dict: a template's `item.wording` is an attribute lookup, which
        # Jinja tries first (on a dict it fails, raising, before the key is tried).
        latest = item.latest
        wording = item.wording or wordings.get(item.level) or level_wording(plan, item.level)
        return SimpleNamespace(**{
            **vars(item), "wording": wording, "period_label": period_label(item.period, locale),
            "link": portal_link(model.portal_url, item.obligation_id),
            "latest": None if latest is None else SimpleNamespace(
                status=status_word(latest.status, locale), blocked=latest.status == "blocked",
                progress=latest.progress, reported_on=latest.reported_on.isoformat(), note=clean_note(latest.note))})

    top = max(model.items, key=lambda i: i.position, default=None)
    weekly = model.weekly
    sections = [listed_section(s, item_view) for s in model.sections]
    return {
        "recipient_name": model.recipient_name, "plan_title": model.plan_title,
        "top_wording": level_wording(plan, top.level) if top else None, "as_of": model.as_of.isoformat(),
        "weekly": None if weekly is None else {**vars(weekly), "overdue": [item_view(i) for i in weekly.overdue]},
        "coordinator_name": model.coordinator_name, "portal_url": model.portal_url,
        "review_link": f"{model.portal_url.rstrip('/')}/portal/review" if model.portal_url else None,
        "portal_home": portal_link(model.portal_url, None),
        "overdue_count": model.overdue_count,
        "item_count": model.item_count,
        # Sections as objects, not dicts: `s.items` in a template must not find `dict.items`.
        "sections": sections,
        "decisions": [{**vars(d), "period_label": period_label(d.period, locale)} for d in model.decisions],
        "digest": model.digest, "red_word": light_word("red", locale),
        "done_word": status_word("done", locale), "blocked_word": status_word("blocked", locale),
        "items": [item for section in sections for item in section.items], "form_note": model.form_note,
    }


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def render_model(plan: Plan, model: MessageModel, templates: Path | None = None) -> Rendered:
    """Subject, plain text and HTML of one message, all from the same model."""
    if not model.items and model.weekly is None and not model.decisions:
        raise ValueError("a message needs at least one item (or the weekly report, or decisions waiting)")
    env = _environment(None if templates is None else str(templates))
    locale = model.locale if model.locale in ("zh", "en") else "zh"
    context = _context(plan, model)
    subject_template, text_template, html_template = _template_names(locale)
    subject = env.get_template(subject_template).render(context).strip()
    text = env.get_template(text_template).render(context)
    html = env.get_template(html_template).render({**context, "subject": subject})
    return Rendered(subject, text, html)


def message_key(plan_id: str, recipient_key: str, delivery_ids: list[int]) -> str:
    """Stable per set of deliveries: a resend after a crash reuses the key (and Message-ID)."""
    digest = message_key_hash(plan_id, recipient_key)
    digest.update(",".join(map(str, sorted(delivery_ids))).encode())
    return digest.hexdigest()[:32]


def message_key_hash(plan_id: str, recipient_key: str) -> Any:
    """The message key's hash before the ids, which follow in ascending order, joined by
    commas (a caller streaming them feeds them in as they come: `delivery._Claim`)."""
    return hashlib.sha256(f"{plan_id}|{recipient_key}|".encode())

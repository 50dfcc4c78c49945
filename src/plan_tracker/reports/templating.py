"""The Jinja2 environments of the report templates (package data: plan_tracker/templates/reports).

HTML templates autoescape everything (unit names and notes are user text); the Markdown
template escapes through its own `md` filter instead.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from jinja2 import Environment, StrictUndefined

from plan_tracker.reports import labels as words
from plan_tracker.reports.model import ReminderEntry
from plan_tracker.resources import template_loader

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")


def md(value: Any) -> str:
    """Plain text safe inside a Markdown table cell: specials escaped, line breaks flattened."""
    text = "" if value is None else str(value)
    return _MD_SPECIAL.sub(r"\\\1", " ".join(text.split()))


@cache
def environment(kind: str) -> Environment:
    # Autoescape is on for HTML; the Markdown template escapes user text with `md`.
    env = Environment(
        loader=template_loader(), undefined=StrictUndefined,
        autoescape=kind == "html", trim_blocks=False, keep_trailing_newline=True,  # noqa: S701
    )
    env.filters["md"] = md
    return env


@dataclass(frozen=True)
class Run:
    """Consecutive reminders of one level (a repeating step), shown as one entry."""

    wording: str
    first: dt.date
    last: dt.date
    count: int
    state: str


def history_runs(entries: list[ReminderEntry]) -> list[Run]:
    runs: list[Run] = []
    for e in entries:
        if runs and runs[-1].wording == e.wording and e.state != "skipped" and runs[-1].state != "skipped":
            prev = runs[-1]
            runs[-1] = Run(prev.wording, prev.first, e.fired_on, prev.count + 1, e.state)
        else:
            runs.append(Run(e.wording, e.fired_on, e.fired_on, 1, e.state))
    return runs


def helpers(locale: str) -> dict[str, Any]:
    """Names every report template can use."""
    return {
        "L": words.labels(locale), "pct": words.pct, "num": words.num, "signed": words.signed,
        "long_date": lambda day: words.long_date(day, locale),
        "period_text": lambda period: words.period_text(period, locale),
        "history_runs": history_runs,
        "colours": words.LIGHT_COLOURS, "lights": ("red", "yellow", "green", "pending", "done", "done_late"),
    }

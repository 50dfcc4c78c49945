"""Reports for managers: one model built from SQL aggregates, several renderings.

`build_report(engine, plan_id, as_of) -> Report` and `render_html(report) -> str` are what
the web portal reuses; `ics_for_unit(engine, plan_id, unit_id, as_of) -> str` serves a
unit's deadlines as an iCalendar feed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from plan_tracker.reports.build import build_report
    from plan_tracker.reports.html_page import render_html
    from plan_tracker.reports.ics import ics_for_unit
    from plan_tracker.reports.model import Report

__all__ = ["Report", "build_report", "ics_for_unit", "render_html"]

# Each name is imported from its module on first use (PEP 562): importing any module of this
# package runs this file, and the night imports several (the report built beside it, the
# week's report in the managers' mail) long before it renders a page; importing the page and
# its charts (pygal) here cost every night's start 0.1 s.
_HOME = {"Report": "model", "build_report": "build", "ics_for_unit": "ics", "render_html": "html_page"}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)

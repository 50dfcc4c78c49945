"""Reports for managers: one model built from SQL aggregates, several renderings.

`build_report(engine, plan_id, as_of) -> Report` and `render_html(report) -> str` are what
the web portal reuses; `ics_for_unit(engine, plan_id, unit_id, as_of) -> str` serves a
unit's deadlines as an iCalendar feed.
"""

from __future__ import annotations

from plan_tracker.reports.build import build_report
from plan_tracker.reports.html_page import render_html
from plan_tracker.reports.ics import ics_for_unit
from plan_tracker.reports.model import Report

__all__ = ["Report", "build_report", "ics_for_unit", "render_html"]

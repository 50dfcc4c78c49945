"""Charts of the report as inline SVG drawn by pygal, with text kept as text.

Text stays `<text>` so the reader's browser renders Chinese with its own CJK font (no font
is embedded, nothing is fetched). pygal's comments (which carry the current date) and its
scripts (tooltips that would need pygal.js from a CDN) are removed, and each chart gets a
fixed id, so the same report renders byte-for-byte the same SVG on a re-run and the page
works offline.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pygal
from pygal.etree import etree
from pygal.style import Style

from plan_tracker.reports.labels import CJK_FONTS, LIGHT_COLOURS, labels
from plan_tracker.reports.model import Report

LIGHT_ORDER = ("red", "yellow", "green", "pending", "done_late", "done")
_MAX_UNITS = 80  # the unit chart shows the units with the lowest reporting rates first


def _style(colours: tuple[str, ...]) -> Style:
    return Style(
        background="#ffffff", plot_background="#ffffff", foreground="#333333",
        foreground_strong="#111111", foreground_subtle="#d0d4da", font_family=CJK_FONTS,
        label_font_size=12, major_label_font_size=12, legend_font_size=13,
        value_font_size=11, tooltip_font_size=12, title_font_size=15, no_data_font_size=18,
        colors=colours, opacity=".9", opacity_hover=".95",
    )


def _common(name: str, locale: str, **options: Any) -> dict[str, Any]:
    return {
        "js": [], "disable_xml_declaration": True, "no_data_text": "暂无数据" if locale != "en" else "No data",
        "legend_at_bottom": True, "truncate_label": -1, "truncate_legend": -1, "print_values": False,
        "classes": ["pygal-chart", f"chart-{name}"], **options,
    }


def _label_margin(texts: list[str], size: int = 12) -> int:
    """Extra left margin for CJK axis labels: pygal sizes labels at 0.6 em a character, a
    Chinese character takes about 1 em, so long section titles would be clipped."""
    wide = max((sum(1 for ch in text if ord(ch) > 0x2E7F) for text in texts), default=0)
    return 10 + int(wide * 0.42 * size)


def _svg(chart: Any, name: str) -> str:
    """The chart as an SVG element string: fixed id, no comments, no scripts."""
    chart.uuid = name
    tree = chart.render_tree()
    parents = {child: parent for parent in tree.iter() for child in parent}
    for element in list(tree.iter()):
        tag = element.tag
        if tag is etree.Comment or (isinstance(tag, str) and tag.rsplit("}", 1)[-1] == "script"):
            parents[element].remove(element)
    return str(etree.tostring(tree, encoding="unicode"))


def lights_by_section(report: Report) -> str:
    words = labels(report.locale)
    chart = pygal.HorizontalStackedBar(**_common(
        "lights", report.locale, width=900, height=120 + 46 * max(len(report.sections), 1),
        style=_style(tuple(LIGHT_COLOURS[light] for light in LIGHT_ORDER)), show_legend=True,
        legend_box_size=12, margin=10, margin_left=_label_margin([s.title for s in report.sections])))
    sections = list(reversed(report.sections))  # horizontal bars draw bottom-up: plan order top-down
    chart.x_labels = [s.title for s in sections]
    for light in LIGHT_ORDER:
        chart.add(words["lights"][light], [s.lights[light] or None for s in sections])
    return _svg(chart, "lights")


def reporting_by_unit(report: Report) -> str:
    words = labels(report.locale)
    units = [u for u in report.units if u.reporting.expected]
    units = sorted(units, key=lambda u: (u.reporting.reporting_rate or 0, u.reporting.timeliness or 0))[:_MAX_UNITS]
    units.reverse()  # horizontal bars draw bottom-up: the lowest rates end up on top
    chart = pygal.HorizontalBar(**_common(
        "reporting", report.locale, width=900, height=140 + 26 * max(len(units), 1),
        style=_style(("#2f7ed8", "#f0a020")), range=(0, 100), include_x_axis=True,
        value_formatter=lambda v: f"{v:.0f}%", margin=10, margin_left=_label_margin([u.name for u in units])))
    chart.x_labels = [u.name for u in units]
    chart.add(words["reporting_rate"], [_percent(u.reporting.reporting_rate) for u in units])
    chart.add(words["timeliness"], [_percent(u.reporting.timeliness) for u in units])
    return _svg(chart, "reporting")


def red_yellow_trend(report: Report) -> str:
    """Red and yellow per nightly snapshot on a true date axis (missed nights leave gaps in
    time, not in the spacing), labelled at each month's first day."""
    words = labels(report.locale)
    points = report.trend
    month = (lambda d: f"{d.month}月") if report.locale != "en" else (lambda d: d.strftime("%b"))
    chart = pygal.DateLine(**_common(
        "trend", report.locale, width=900, height=360, show_dots=len(points) <= 40, fill=False,
        style=_style((LIGHT_COLOURS["red"], LIGHT_COLOURS["yellow"])), x_label_rotation=0,
        margin=10, stroke_style={"width": 2.5}, include_x_axis=True, x_value_formatter=month))
    chart.x_labels = _month_starts([p.day for p in points])
    chart.add(words["lights"]["red"], [(p.day, p.red) for p in points])
    chart.add(words["lights"]["yellow"], [(p.day, p.yellow) for p in points])
    return _svg(chart, "trend")


def indicators_vs_target(report: Report) -> str:
    words = labels(report.locale)
    shown = [i for i in report.indicators if i.target and i.mean is not None]
    chart = pygal.HorizontalBar(**_common(
        "indicators", report.locale, width=900, height=140 + 30 * max(len(shown), 1),
        style=_style(("#3aa757", "#d9363e")), include_x_axis=True, show_legend=True,
        value_formatter=lambda v: f"{v:.0f}%", margin=10, margin_left=_label_margin([i.name for i in shown])))
    chart.x_labels = [i.name for i in reversed(shown)]
    achieved, short = [], []
    for ind in reversed(shown):
        share = _achievement(ind.direction, ind.target, ind.mean)
        met = share is not None and share >= 100
        achieved.append(share if met else None)
        short.append(None if met else share)
    chart.add(words["met"] if report.locale == "en" else "达到目标", achieved)
    chart.add("Below target" if report.locale == "en" else "未达目标", short)
    return _svg(chart, "indicators")


CHART_NAMES = ("lights", "trend", "reporting", "indicators")


def all_charts(report: Report) -> dict[str, str]:
    return {
        "lights": lights_by_section(report),
        "reporting": reporting_by_unit(report),
        "trend": red_yellow_trend(report),
        "indicators": indicators_vs_target(report),
    }


def _percent(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)


def _achievement(direction: str, target: float | None, mean: float | None) -> float | None:
    """Mean as a percentage of the target; for `at_most`, target over mean (100 % = met)."""
    if not target or mean is None:
        return None
    if direction == "at_most":
        return round(100.0 if mean <= 0 else target / mean * 100, 1)
    return round(mean / target * 100, 1)


def _month_starts(days: list[dt.date]) -> list[dt.date]:
    """The first day of each month the points span (the axis labels)."""
    if not days:
        return []
    first, last = days[0].replace(day=1), days[-1]
    starts = []
    while first <= last:
        starts.append(first)
        first = (first + dt.timedelta(days=32)).replace(day=1)
    return starts

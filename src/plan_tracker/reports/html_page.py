"""The report as one self-contained HTML page: inline CSS, inline SVG charts, no scripts.

The page opens offline (nothing is fetched: the favicon is a `data:` URL) and Chinese
renders with the reader's own CJK font. The web portal reuses `render_html`.
"""

from __future__ import annotations

from markupsafe import Markup

from plan_tracker.reports.charts import CHART_NAMES, all_charts
from plan_tracker.reports.model import Report
from plan_tracker.reports.templating import environment, helpers

TEMPLATE = "reports/report.html.j2"


def prepare() -> None:
    """Compile the page's template now (the night does it while it evaluates: `night.warm_report`)."""
    environment("html").get_template(TEMPLATE)


def render_html(report: Report, *, charts: bool = True) -> str:
    """The page; `charts=False` leaves the figures empty (a quicker page for large plans)."""
    drawn = all_charts(report) if charts else dict.fromkeys(CHART_NAMES, "")
    # pygal built the SVG with an XML serialiser: its text nodes and attributes are escaped.
    svg = {name: Markup(chart) for name, chart in drawn.items()}  # noqa: S704
    template = environment("html").get_template(TEMPLATE)
    return template.render(
        report=report, charts=svg,
        notice_listed=sum(len(u.items) for u in report.notice.units),
        **helpers(report.locale),
    )

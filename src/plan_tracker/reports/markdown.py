"""The report in Markdown: what the weekly message to managers carries, and `--format md`.

Plain text that reads well as is (mail clients show it raw) and renders as tables where
Markdown is understood. The overdue list is cut to `overdue_limit` items, oldest first.
"""

from __future__ import annotations

from plan_tracker.reports.model import Report
from plan_tracker.reports.templating import environment, helpers

OVERDUE_LIMIT = 30


TEMPLATE = "reports/report.md.j2"


def prepare() -> None:
    """Compile the template now (the night does it while it evaluates: `night.warm_report`)."""
    environment("markdown").get_template(TEMPLATE)


def render_markdown(report: Report, *, overdue_limit: int = OVERDUE_LIMIT) -> str:
    zh = report.locale != "en"
    template = environment("markdown").get_template(TEMPLATE)
    return template.render(
        report=report, overdue=report.overdue[:overdue_limit],
        sep="：" if zh else ": ", comma="，" if zh else ", ", **helpers(report.locale),
    )

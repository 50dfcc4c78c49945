"""Report files: rendering a report in a format (written with `plan_tracker.atomic_files`)."""

from __future__ import annotations

import importlib

from plan_tracker.reports.model import Report

FORMATS = ("html", "md", "xlsx", "json")
NOTICE_FORMATS = ("html", "xlsx")


def render(report: Report, fmt: str) -> bytes:
    """The report in `fmt` (html, md, xlsx, json) as bytes (text is UTF-8)."""
    if fmt == "html":
        from plan_tracker.reports.html_page import render_html

        return render_html(report).encode("utf-8")
    if fmt == "md":
        from plan_tracker.reports.markdown import render_markdown

        return render_markdown(report).encode("utf-8")
    if fmt == "xlsx":
        from plan_tracker.reports.workbook import render_xlsx

        return render_xlsx(report)
    if fmt == "json":
        from plan_tracker.reports.json_data import render_json

        return render_json(report).encode("utf-8")
    raise ValueError(f"unknown report format {fmt!r}; expected one of {', '.join(FORMATS)}")


_RENDERERS = {"html": "html_page", "md": "markdown", "xlsx": "workbook", "json": "json_data"}


def prepare(fmt: str) -> None:
    """Load what rendering `fmt` takes (its module, the libraries it uses, its template), so
    that the night's report stage renders without paying for it then (`night.warm_report`)."""
    module = importlib.import_module(f"plan_tracker.reports.{_RENDERERS[fmt]}")
    ready = getattr(module, "prepare", None)
    if ready is not None:
        ready()


def render_notice(report: Report, fmt: str) -> bytes:
    from plan_tracker.reports.notice import render_notice_html, render_notice_xlsx

    if fmt == "html":
        return render_notice_html(report).encode("utf-8")
    if fmt == "xlsx":
        return render_notice_xlsx(report)
    raise ValueError(f"unknown notice format {fmt!r}; expected one of {', '.join(NOTICE_FORMATS)}")

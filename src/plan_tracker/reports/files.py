"""Report files: rendering a report in a format (written with `plan_tracker.atomic_files`)."""

from __future__ import annotations

import importlib
from typing import Any

from plan_tracker.reports.model import Report

FORMATS = ("html", "md", "xlsx", "json")
NOTICE_FORMATS = ("html", "xlsx")


# Each format's module and its renderer (a report in, text or bytes out): one table for
# rendering and for loading ahead (`prepare`).
_RENDERERS = {"html": ("html_page", "render_html"), "md": ("markdown", "render_markdown"),
              "xlsx": ("workbook", "render_xlsx"), "json": ("json_data", "render_json")}


def _module(fmt: str) -> Any:
    """The format's module, imported on first use (a night loads only its configured ones)."""
    if fmt not in _RENDERERS:
        raise ValueError(f"unknown report format {fmt!r}; expected one of {', '.join(FORMATS)}")
    return importlib.import_module(f"plan_tracker.reports.{_RENDERERS[fmt][0]}")


def render(report: Report, fmt: str) -> bytes:
    """The report in `fmt` (html, md, xlsx, json) as bytes (text is UTF-8)."""
    rendered = getattr(_module(fmt), _RENDERERS[fmt][1])(report)
    return rendered.encode("utf-8") if isinstance(rendered, str) else bytes(rendered)


def prepare(fmt: str) -> None:
    """Load what rendering `fmt` takes (its module, the libraries it uses, its template), so
    that the night's report stage renders without paying for it then (`night.warm_report`)."""
    ready = getattr(_module(fmt), "prepare", None)
    if ready is not None:
        ready()


def render_notice(report: Report, fmt: str) -> bytes:
    from plan_tracker.reports.notice import render_notice_html, render_notice_xlsx

    if fmt == "html":
        return render_notice_html(report).encode("utf-8")
    if fmt == "xlsx":
        return render_notice_xlsx(report)
    raise ValueError(f"unknown notice format {fmt!r}; expected one of {', '.join(NOTICE_FORMATS)}")

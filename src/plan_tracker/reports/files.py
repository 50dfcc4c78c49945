"""Report files: rendering a report in a format, and writing files atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

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


def render_notice(report: Report, fmt: str) -> bytes:
    from plan_tracker.reports.notice import render_notice_html, render_notice_xlsx

    if fmt == "html":
        return render_notice_html(report).encode("utf-8")
    if fmt == "xlsx":
        return render_notice_xlsx(report)
    raise ValueError(f"unknown notice format {fmt!r}; expected one of {', '.join(NOTICE_FORMATS)}")


def write_atomically(path: Path, data: bytes) -> Path:
    """Write `data` to `path` through a temporary file in the same folder and a rename, so a
    reader (or a web server serving the folder) never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path

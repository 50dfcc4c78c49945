"""Report commands: the managers' report, the accountability notice, a unit's deadlines feed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from plan_tracker.commands.common import (
    BadInput,
    _as_of,
    _date,
    _engine,
    _format,
    app,
    err,
    handles_errors,
    plan_locale,
)
from plan_tracker.domain.messages import word

AS_OF_HELP = "YYYY-MM-DD; default today in the plan's time zone"
OUT_HELP = "file to write; '-' writes text formats to standard output"


def _emit(data: bytes, out: Path, *, binary: bool, locale: str) -> None:
    from plan_tracker.atomic_files import SHARED, write_atomically

    if str(out) == "-":
        if binary:
            raise BadInput("cli.stdout_text_only")
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    write_atomically(out, data, mode=SHARED)
    err.print(word("out.file_written", locale, path=out, size=f"{len(data):,}"), markup=False, highlight=False)


@app.command("report")
@handles_errors
def report(
    plan: Annotated[str, typer.Option("--plan", help="plan id")],
    out: Annotated[Path, typer.Option("--out", help=OUT_HELP)],
    fmt: Annotated[str, typer.Option("--format", help="html | md | xlsx | json")] = "html",
    as_of: Annotated[str | None, typer.Option("--as-of", help=AS_OF_HELP)] = None,
    since: Annotated[str | None, typer.Option("--since", help="compare with the snapshot of this date (default: the previous one)")] = None,
    overdue_limit: Annotated[int, typer.Option("--overdue-limit", min=0, help="items in the overdue list")] = 200,
) -> None:
    """The managers' report: lights, rates, scores, indicators, overdue list, notice."""
    from plan_tracker.reports.build import build_report
    from plan_tracker.reports.files import FORMATS, render

    _format(fmt, FORMATS)
    engine = _engine()
    day = _as_of(engine, plan, as_of)
    built = build_report(engine, plan, day, since=_date(since, "--since"), overdue_limit=overdue_limit)
    _emit(render(built, fmt), out, binary=fmt == "xlsx", locale=plan_locale(engine, plan))


@app.command("notice")
@handles_errors
def notice(
    plan: Annotated[str, typer.Option("--plan", help="plan id")],
    out: Annotated[Path, typer.Option("--out", help=OUT_HELP)],
    fmt: Annotated[str, typer.Option("--format", help="html | xlsx")] = "html",
    as_of: Annotated[str | None, typer.Option("--as-of", help=AS_OF_HELP)] = None,
) -> None:
    """The accountability notice (通报): units with items at the top escalation level."""
    from plan_tracker.reports.build import build_report
    from plan_tracker.reports.files import NOTICE_FORMATS, render_notice

    _format(fmt, NOTICE_FORMATS)
    engine = _engine()
    day = _as_of(engine, plan, as_of)
    built = build_report(engine, plan, day, overdue_limit=0)
    _emit(render_notice(built, fmt), out, binary=fmt == "xlsx", locale=plan_locale(engine, plan))


@app.command("deadlines")
@handles_errors
def deadlines(
    plan: Annotated[str, typer.Option("--plan", help="plan id")],
    unit: Annotated[str, typer.Option("--unit", help="unit id")],
    out: Annotated[Path, typer.Option("--out", help="the .ics file to write; '-' for standard output")],
    as_of: Annotated[str | None, typer.Option("--as-of", help=AS_OF_HELP)] = None,
) -> None:
    """A unit's deadlines as an iCalendar (.ics) file for its calendar application."""
    from plan_tracker.reports.ics import ics_for_unit

    engine = _engine()
    day = _as_of(engine, plan, as_of)
    _emit(ics_for_unit(engine, plan, unit, day).encode("utf-8"), out, binary=False, locale=plan_locale(engine, plan))

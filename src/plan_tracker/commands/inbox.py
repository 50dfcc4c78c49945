"""Inbox commands: report templates for units, and ingestion of the files they return."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from plan_tracker.commands.common import (
    BadInput,
    _date,
    _engine,
    app,
    err,
    handles_errors,
    out,
    plan_locale,
)
from plan_tracker.domain.messages import msg, word

if TYPE_CHECKING:
    from sqlalchemy import Engine


def _plan_today(engine: Engine, plan: str) -> dt.date:
    """Today in the plan's time zone: the one place these commands read the clock."""
    from plan_tracker.clock import today_in
    from plan_tracker.services.calendar_cover import extend_calendar
    from plan_tracker.services.plans import stored_plan

    extend_calendar(engine, plan)
    with engine.connect() as conn:
        return today_in(stored_plan(conn, plan).plan.timezone)


@app.command("templates")
@handles_errors
def templates(
    plan: Annotated[str, typer.Option("--plan", help="plan id")],
    out_dir: Annotated[Path, typer.Option("--out", help="folder to write one XLSX per unit into")],
    unit: Annotated[str | None, typer.Option("--unit", help="only this unit")] = None,
    period: Annotated[str | None, typer.Option("--period", help="only this period (e.g. 2018-Q2), started or not")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="lights as of YYYY-MM-DD; default today")] = None,
) -> None:
    """Write XLSX report templates, one per unit, pre-filled with its open obligations."""
    from plan_tracker.inbox.template import write_templates
    from plan_tracker.settings import get_settings
    from plan_tracker.token_secret import resolve_secret

    if out_dir.exists() and not out_dir.is_dir():
        raise BadInput("cli.out_not_folder", path=out_dir)
    engine = _engine()
    today = _plan_today(engine, plan)
    day = _date(as_of, "--as-of") or today
    # Signed with the install's secret: the unit may return the form by replying to a mail.
    files = write_templates(engine, plan, as_of=day, today=today, out_dir=out_dir,
                            unit=unit, period=period, secret=resolve_secret(get_settings()))
    locale = plan_locale(engine, plan)
    if not files:
        what = [m for m in (msg("out.scope_unit", unit=unit) if unit else None,
                            msg("out.scope_period", period=period) if period else None) if m]
        scope = msg("out.template_scope", what=what) if what else ""
        out.print(word("out.no_templates", locale, day=day, scope=scope), markup=False, highlight=False)
        return
    for f in files:
        out.print(word("out.template_written", locale, path=f.path, rows=f.rows, unit=f.unit),
                  markup=False, highlight=False)


@app.command("ingest")
@handles_errors
def ingest(
    plan: Annotated[str, typer.Option("--plan", help="plan id")],
    files: Annotated[list[Path], typer.Argument(help="filled XLSX templates, CSV or YAML report files")],
) -> None:
    """Ingest filled report files: a receipt per file; exit 2 if any file or row was rejected.

    Each file is copied into the plan's inbox (processed/ or rejected/) with its receipt and,
    if a row failed, a row-by-row error file; the file given stays where it is.
    """
    from plan_tracker.inbox.ingest import ingest_file
    from plan_tracker.settings import get_settings

    engine = _engine()
    today = _plan_today(engine, plan)
    inbox = get_settings().folder("inbox")
    clean = True
    for file in files:
        receipt = ingest_file(engine, plan, file, today=today, inbox=inbox, via="cli")
        printer = out if receipt.ok else err
        printer.print(receipt.summary(), markup=False, highlight=False)
        for problem in receipt.problems[:10]:
            printer.print(f"  {problem}", markup=False, highlight=False)
        if len(receipt.errors) > 10:
            printer.print("  " + receipt.say("receipt.more", count=len(receipt.errors) - 10), markup=False, highlight=False)
        if receipt.errors_file:
            printer.print("  " + receipt.say("receipt.errors_file", path=receipt.errors_file), markup=False,
                          highlight=False)
        if receipt.receipt_file:
            printer.print("  " + receipt.say("receipt.receipt_file", path=receipt.receipt_file), markup=False,
                          highlight=False)
        clean = clean and receipt.ok
    if not clean:
        raise typer.Exit(2)

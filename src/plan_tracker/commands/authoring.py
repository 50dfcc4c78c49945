"""Authoring commands: draft a plan from a work report, the plan's JSON Schema, a preview."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, TextIO

import typer

from plan_tracker.commands.common import (
    BadInput,
    _format,
    app,
    default_locale,
    handles_errors,
    out,
    plan_app,
    reader_locale,
)
from plan_tracker.domain.messages import os_reason, word


@plan_app.command("draft")
@handles_errors
def plan_draft(
    document: Annotated[Path, typer.Argument(help="work report: .txt, .md or .docx")],
    output: Annotated[Path, typer.Option("--out", help="where to write the draft plan YAML")],
    plan_id: Annotated[str | None, typer.Option("--plan-id", help="id for the plan, e.g. jingzhou-2018")] = None,
    year: Annotated[int | None, typer.Option("--year", help="the plan's year if the report does not say")] = None,
    force: Annotated[bool, typer.Option("--force", help="overwrite an existing file")] = False,
) -> None:
    """Draft a plan from the arrangements part of a Chinese work report; blanks are marked TODO."""
    from plan_tracker.authoring import DraftError, draft_plan, read_document

    if output.exists() and not force:
        raise BadInput("cli.file_exists", path=output)
    try:
        text = draft_plan(read_document(document), plan_id=plan_id, year=year)
    except DraftError as exc:
        raise BadInput("cli.draft_failed", document=document, reason=str(exc)) from None
    output.write_text(text, encoding="utf-8")
    blanks = text.count(': "TODO')  # values only: the header comment also quotes "TODO"
    # a draft has no locale yet (drafts come from Chinese work reports): the setting decides
    out.print(word("out.drafted", default_locale(), path=output, blanks=blanks), markup=False, highlight=False)


@app.command("example")
@handles_errors
def example(
    name: Annotated[str, typer.Argument(help="the example to write: jingzhou-2018 (the founding plan)")],
    output: Annotated[Path, typer.Option("--out", help="folder to write plans/, units/ and schema/ into")],
    force: Annotated[bool, typer.Option("--force", help="overwrite existing files")] = False,
) -> None:
    """Write a plan shipped with the package (its plan, units file and schemas) to a folder."""
    from plan_tracker.resources import write_example

    written = write_example(name, output, force=force)
    locale = reader_locale({"file": written[0]})  # the example plan's own locale
    for path in written:
        out.print(word("out.wrote", locale, path=path), markup=False, highlight=False)
    out.print(word("out.next_apply", locale, path=written[0]), markup=False, highlight=False)


@plan_app.command("schema")
@handles_errors
def plan_schema(
    output: Annotated[Path | None, typer.Option("--out", help="write to this file instead of standard output")] = None,
    units: Annotated[bool, typer.Option("--units", help="the schema of a units file (groups, units) instead")] = False,
) -> None:
    """Print the JSON Schema of the plan format (for editors with a YAML language server).

    The package ships the same schemas in plan_tracker/schema/; start a plan file with
    `# yaml-language-server: $schema=PATH/TO/plan.schema.json` to get completion and checks.
    """
    from plan_tracker.authoring.schema import plan_schema as build_plan_schema
    from plan_tracker.authoring.schema import render, units_schema

    text = render(units_schema() if units else build_plan_schema())
    if output is None:
        sys.stdout.write(text)
        return
    _write(output, text)
    out.print(word("out.wrote", default_locale(), path=output), markup=False, highlight=False)


PREVIEW_FORMATS = ("table", "ics", "html")
TABLE_WIDTH = 200  # columns of a table written to a file or a pipe


@plan_app.command("preview")
@handles_errors
def plan_preview(
    file: Annotated[Path, typer.Argument(help="plan YAML")],
    unit: Annotated[str | None, typer.Option("--unit", help="only this unit's obligations")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table | ics | html")] = "table",
    output: Annotated[Path | None, typer.Option("--out", help="write to this file instead of standard output")] = None,
) -> None:
    """Every obligation the plan will create, its due date and each escalation date — before applying.

    Due dates moved off non-working days say why (holiday, weekend, adjusted working day).
    """
    from plan_tracker.authoring import preview_render
    from plan_tracker.domain.calendar import WorkCalendar
    from plan_tracker.domain.preview import preview
    from plan_tracker.planfile import load_plan

    _format(fmt, PREVIEW_FORMATS)
    plan = load_plan(file)
    result = preview(plan, WorkCalendar(plan.plan.calendar), unit=unit)
    if fmt == "table":
        from rich.console import Console

        if output is None:
            # On a terminal the table fits the window; piped, it keeps its natural width.
            console = out if out.is_terminal else Console(width=TABLE_WIDTH, soft_wrap=False)
            console.print(preview_render.table(result))
            return
        with _open(output) as handle:
            Console(file=handle, width=TABLE_WIDTH, color_system=None, soft_wrap=False).print(preview_render.table(result))
    elif fmt == "ics":
        from plan_tracker.clock import now_utc

        text = preview_render.ics(result, stamp=now_utc())
        if output is None:
            sys.stdout.flush()  # CRLF line ends as RFC 5545 wants: bypass newline translation
            sys.stdout.buffer.write(text.encode("utf-8"))
            sys.stdout.flush()
            return
        _write(output, text)
    else:
        text = preview_render.html_page(result)
        if output is None:
            sys.stdout.write(text)
            return
        _write(output, text)
    out.print(preview_render.wrote(result, output), markup=False, highlight=False)


def _open(path: Path) -> TextIO:
    try:
        return path.open("w", encoding="utf-8", newline="")
    except OSError as exc:
        raise BadInput("cli.cannot_write", path=path, reason=os_reason(exc)) from None


def _write(path: Path, text: str) -> None:
    with _open(path) as handle:
        handle.write(text)

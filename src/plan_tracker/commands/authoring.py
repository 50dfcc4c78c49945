"""Authoring commands: draft a plan from a work report (schema and preview join here)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from plan_tracker.commands.common import BadInput, handles_errors, out, plan_app


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
        raise BadInput(f"{output} exists; pass --force to overwrite it")
    try:
        text = draft_plan(read_document(document), plan_id=plan_id, year=year)
    except DraftError as exc:
        raise BadInput(f"{document}: {exc}") from None
    output.write_text(text, encoding="utf-8")
    blanks = text.count('"TODO')
    out.print(f"wrote {output}: fill the {blanks} TODO blank(s), then run `plan-tracker plan validate {output}`")

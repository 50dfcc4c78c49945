"""Mail commands: read the units' replies from the mailbox (docs/INBOX.md, "Answer by reply")."""

from __future__ import annotations

from typing import Annotated

import typer

from plan_tracker.commands.common import (
    BadInput,
    _engine,
    _now,
    app,
    err,
    handles_errors,
    out,
    store_locale,
)
from plan_tracker.domain.messages import word

mail_app = typer.Typer(no_args_is_help=True, help="The reply mailbox: units answer reminders by e-mail.")
app.add_typer(mail_app, name="mail")


@mail_app.command("fetch")
@handles_errors
def fetch(
    plan: Annotated[str | None, typer.Option("--plan", help="only replies of this plan (others stay in the mailbox)")] = None,
    now: Annotated[str | None, typer.Option("--now", hidden=True, help="tests only: the clock reading (ISO date-time)")] = None,
) -> None:
    """Read new messages from PLAN_TRACKER_IMAP_URL, ingest their forms, answer each sender
    with a receipt, and move the messages to the done folder. Exit 1 if a message failed
    (it stays in the mailbox and is read again next time)."""
    from plan_tracker.inbox.mail import run_fetch
    from plan_tracker.services.plans import stored_plan
    from plan_tracker.settings import get_settings

    settings = get_settings()
    if settings.imap_url is None or not settings.imap_url.get_secret_value():
        raise BadInput("mailbox.not_configured")
    engine = _engine()
    if plan is not None:
        with engine.connect() as conn:
            stored_plan(conn, plan)  # UnknownPlan: exit 2 with the known plans
    summary = run_fetch(engine, settings, now=_now(now), only_plan=plan)
    assert summary is not None
    # the plan's language with --plan, else the plans' common one (replies of every plan are read)
    out.print(word("out.mail_fetched", store_locale(engine, plan), **summary.as_dict()), markup=False,
              highlight=False)
    for line in summary.errors + (summary.receipts.errors if summary.receipts else []):
        err.print(f"  {line}", markup=False, highlight=False)
    if summary.failed:
        raise typer.Exit(1)

"""Operations commands: `doctor` (health and the dead-man check), `deliver` (send what waits
for the delivery window) and `channels list|enable`."""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from plan_tracker.commands.common import (
    BadInput,
    _as_of,
    _date,
    _engine,
    _format,
    _now,
    app,
    default_locale,
    handles_errors,
    out,
    plan_locale,
    store_locale,
)
from plan_tracker.domain.messages import msg, word

channels_app = typer.Typer(no_args_is_help=True, help="Notification channels: list, re-enable a disabled one.")
app.add_typer(channels_app, name="channels")
plans_app = typer.Typer(no_args_is_help=True, help="The plans in the store.")
app.add_typer(plans_app, name="plans")

LEVEL_STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red"}


@app.command("doctor")
@handles_errors
def doctor(
    plan: Annotated[str | None, typer.Option("--plan", help="plan id; default every plan in the store")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table | json")] = "table",
    now: Annotated[str | None, typer.Option("--now", hidden=True, help="tests only: the clock reading (ISO date-time)")] = None,
) -> None:
    """Check the store and the schedule: exit 1 when something fails (e.g. no successful
    nightly run for more than a day), with a sentence saying what to do."""
    from plan_tracker.services.doctor import diagnose, failed
    from plan_tracker.settings import get_settings
    from plan_tracker.store.db import make_engine, require_store

    _format(fmt, ("table", "json"))
    url = get_settings().resolved_database_url()
    require_store(url)  # a missing store is not "ok": say where it was looked for
    # A plain engine, not the CLI's migrating one: the doctor reports a schema behind head.
    engine = make_engine(url)
    try:
        # with PREFECT_API_URL set, Prefect's flow runs are checked too (a zombie holding the slot)
        checks = diagnose(engine, now=_now(now), plan_id=plan, prefect_api=os.environ.get("PREFECT_API_URL"))
        locale = store_locale(engine, plan)
    finally:
        engine.dispose()
    if fmt == "json":
        # check, plan and state are the same in every language (and key, fix_key, params);
        # message and fix are the plans' language, like the table
        sys.stdout.write(json.dumps([c.as_json(locale) for c in checks], ensure_ascii=False, indent=1) + "\n")
    else:
        # the check names stay as they are (what scripts and runbooks grep); the rest in the plans' language
        table = Table(title=word("out.doctor_title", locale))
        for col in ("check", "plan", "result", "message", "fix"):
            table.add_column(word(f"out.col_{col}", locale))
        for c in checks:
            level = word(f"out.level_{c.level.value}", locale)
            table.add_row(c.name, c.plan or "", f"[{LEVEL_STYLE[c.level.value]}]{level}[/]",
                          escape(c.message.render(locale)), escape(c.fix.render(locale)) if c.fix else "")
        out.print(table)
    if failed(checks):
        raise typer.Exit(1)


@app.command("deliver")
@handles_errors
def deliver(
    plan: Annotated[str | None, typer.Option("--plan", help="plan id; default every plan in the store")] = None,
    retry_dead: Annotated[bool, typer.Option("--retry-dead", help="requeue dead deliveries first (audited), then deliver")] = False,
    since: Annotated[str | None, typer.Option("--since", help="with --retry-dead: only those raised on or after DATE")] = None,
    channel: Annotated[str | None, typer.Option("--channel", help="with --retry-dead: only those for this channel (see `channels list`: smtp, dingtalk:NAME, file…)")] = None,
    now: Annotated[str | None, typer.Option("--now", hidden=True, help="tests only: the clock reading (ISO date-time)")] = None,
) -> None:
    """Send the reminders waiting for the delivery window (schedule it in office hours,
    e.g. every 30 minutes 08:30–18:00: the nightly run at 02:00 is outside the window).
    With --retry-dead, dead deliveries are requeued first and go out in this run."""
    from plan_tracker.commands.core import held_note
    from plan_tracker.reports.weekly_mail import deliver_with_weekly as deliver_reminders
    from plan_tracker.services import nightly as stages
    from plan_tracker.services.context import UnknownPlan
    from plan_tracker.services.delivery import retry_dead as requeue
    from plan_tracker.settings import get_settings

    if (since or channel) and not retry_dead:
        raise BadInput("cli.retry_dead_options")
    first = _date(since, "--since") if since else None
    engine = _engine()
    clock = _now(now)
    plans = [plan] if plan else stages.plan_ids(engine)
    if not plans:
        raise BadInput("cli.no_plans")
    if plan and plan not in (known := stages.plan_ids(engine)):
        raise UnknownPlan(plan, known)
    if retry_dead:
        done = {r.plan_id: r.deliveries for r in requeue(engine, get_settings(), now=clock, actor="cli", plan_id=plan,
                                                          since=first, channel=channel)}
        for pid in plans:
            _say("out.requeued", plan_locale(engine, pid), plan=pid, count=done.get(pid, 0))
    for pid in plans:
        day = _as_of(engine, pid, None, now=clock)
        result = deliver_reminders(engine, pid, now=clock, as_of=day, settings=get_settings())
        _say("out.delivered", plan_locale(engine, pid), plan=pid, delivered=result.deliveries_sent,
             messages=result.messages_sent, failed=result.failed, dead=result.dead, waiting=result.waiting,
             held=held_note(result.held), deferred=msg("out.deferred", count=result.deferred) if result.deferred else "")
        for stopped in result.stopped:  # an open circuit: the operator should know why
            out.print("  " + word("out.stopped_trying", plan_locale(engine, pid), channel=stopped.channel,
                                  failures=stopped.failures, error=stopped.last_error, waiting=stopped.waiting),
                      markup=False, highlight=False)


@app.command("init")
@handles_errors
def init() -> None:
    """Create the store named by PLAN_TRACKER_DATABASE_URL (or the data folder's SQLite file)
    and bring its schema up to date. `plan apply` does this too; no other command creates one."""
    from plan_tracker.settings import get_settings

    url = get_settings().resolved_database_url()
    _engine(create=True)
    _say("out.store_ready", default_locale(), url=url)


@plans_app.command("list")
@handles_errors
def plans_list(fmt: Annotated[str, typer.Option("--format", help="table | json")] = "table") -> None:
    """Each plan in the store: version, dates, obligations, last successful night, and the
    last day of its follow-up."""
    from plan_tracker.services.plan_list import list_plans

    _format(fmt, ("table", "json"))
    engine = _engine()
    plans = list_plans(engine)
    if fmt == "json":
        sys.stdout.write(json.dumps([p.as_json() for p in plans], ensure_ascii=False, indent=1) + "\n")
        return
    locale = store_locale(engine)
    if not plans:
        _say("cli.no_plans", locale)
        return
    table = Table(title=word("out.plans_title", locale))
    for col in ("plan", "title", "version", "start", "end", "obligations", "last_night", "follow_up_until"):
        table.add_column(word(f"out.col_{col}", locale))
    for p in plans:
        table.add_row(p.id, p.title, str(p.version), p.start.isoformat(), p.end.isoformat(), str(p.obligations),
                      p.last_night.isoformat() if p.last_night else word("out.never", locale),
                      p.follow_up_until.isoformat())
    out.print(table)


@channels_app.command("list")
@handles_errors
def channels_list() -> None:
    """Channels that were ever disabled, and whether they still are."""
    from plan_tracker.services.delivery import channel_states

    engine = _engine()
    locale = store_locale(engine)
    table = Table(title=word("out.channels_title", locale))
    for col in ("name", "disabled", "since", "reason"):
        table.add_column(word(f"out.col_{col}", locale))
    for row in channel_states(engine):
        table.add_row(row.name, word("out.yes" if row.disabled else "out.no", locale), str(row.changed_at),
                      row.reason or "")
    out.print(table)


@channels_app.command("enable")
@handles_errors
def channels_enable(name: str) -> None:
    """Re-enable a channel disabled by a permanent failure, once its cause is fixed."""
    from plan_tracker.clock import now_utc
    from plan_tracker.services.delivery import enable_channel

    engine = _engine()
    if not enable_channel(engine, name, now_utc()):
        raise BadInput("cli.channel_not_disabled", name=name)
    _say("out.channel_enabled", store_locale(engine), name=name)


def _say(key: str, locale: str, **fields: Any) -> None:
    out.print(word(key, locale, **fields), markup=False, highlight=False)

"""Core commands: plan validate/apply, status, submit, nightly, reminders."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from plan_tracker.commands.common import (
    LIGHT_STYLE,
    BadInput,
    _as_of,
    _date,
    _engine,
    _format,
    _now,
    app,
    err,
    handles_errors,
    out,
    plan_app,
)


# -- plan ---------------------------------------------------------------------------------
@plan_app.command("validate")
@handles_errors
def plan_validate(file: Path, strict: Annotated[bool, typer.Option(
        "--strict", help="fail (exit 2) on warnings too, e.g. a ladder role nobody can receive")] = False) -> None:
    """Check a plan file; print every problem as FILE:LINE:COL: message."""
    from plan_tracker.domain.calendar import WorkCalendar
    from plan_tracker.domain.messages import word
    from plan_tracker.domain.obligations import expand
    from plan_tracker.planfile import load_plan
    from plan_tracker.services.recipients import unreachable_roles

    plan = load_plan(file)
    count = sum(1 for _ in expand(plan, WorkCalendar(plan.plan.calendar)))
    warnings = [f"{file}: warning: {gap.sentence(plan)}" for gap in unreachable_roles(plan)]
    for line in warnings:
        err.print(line, highlight=False, markup=False)
    if warnings and strict:
        raise BadInput("cli.strict_warnings", count=len(warnings))
    out.print(word("cli.validated", plan.plan.locale, file=file, plan=plan.id, units=len(plan.units),
                   tasks=len(plan.tasks()), obligations=count), markup=False, highlight=False)


@plan_app.command("apply")
@handles_errors
def plan_apply(
    file: Path,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="show the changes, write nothing")] = False,
    effective: Annotated[str | None, typer.Option(
        "--effective", help="YYYY-MM-DD the change is in force from; default today in the plan's time zone "
                            "(never before the previous version's; the first version is in force from the plan's start)")] = None,
) -> None:
    """Apply a plan to the store as a new version, showing what changes (tasks, units, obligations)."""
    from plan_tracker.services.plans import apply_plan

    engine = _engine(create=True) if not dry_run else _dry_run_engine()
    result = apply_plan(engine, file, dry_run=dry_run, effective=_date(effective, "--effective"))
    _print_apply(result)


def _dry_run_engine() -> Any:
    """The store, or an empty in-memory one when there is none yet: a dry run shows what
    applying would create and leaves no file behind."""
    from plan_tracker.store.db import StoreMissing, engine_for

    try:
        return _engine()
    except StoreMissing:
        return engine_for("sqlite://")


def _print_apply(result: Any) -> None:
    if not result.changed:
        out.print(f"plan {result.plan_id}: no changes (version {result.version})")
        return
    verb = "would apply" if result.dry_run else "applied"
    out.print(f"plan {result.plan_id}: {verb} version {result.version}" + (" (new plan)" if result.new_plan else "")
              + f", in force from {result.effective}")
    renamed = {**{old: ("task", new) for old, new in result.renamed_tasks.items()},
               **{old: ("unit", new) for old, new in result.renamed_units.items()}}
    for old, (kind, new) in renamed.items():
        kept = result.history_kept.get(f"{kind} {old} → {new}", {})
        out.print(f"  {kind} {old} → {new} (history kept: {kept.get('reports', 0)} reports, "
                  f"{kept.get('reminders', 0)} reminders)", style="cyan", markup=False)
    for name, changes in (("units", result.units), ("tasks", result.tasks)):
        for sign, items, style in (("+", changes.added, "green"), ("~", changes.changed, "yellow"), ("-", changes.removed, "red")):
            for item in items:
                if sign == "+" and item in {new for _, new in renamed.values()}:
                    continue
                if sign == "-" and item in renamed:
                    continue
                out.print(f"  {sign} {name[:-1]} {item}", style=style, markup=False)
    for task, count in sorted(result.dates_moved.items()):
        out.print(f"  task {task}: due dates of {count} obligations move (plan adjustment, 计划调整) from "
                  f"{result.effective}; earlier dates keep the old ones", markup=False)
    for what, info in sorted(result.cancelled.items()):
        out.print(f"  {what} cancelled (撤销) from {info['on']}: {info['obligations']} obligations no longer tracked "
                  f"({info['reason']})", style="red", markup=False)
    for warning in result.warnings:
        out.print(f"  ! {warning}", style="bold red", markup=False)
    out.print(f"  obligations: +{result.obligations_added} ~{result.obligations_changed} "
              f"-{result.obligations_removed} (total {result.obligations_total})")


# -- status -------------------------------------------------------------------------------
@app.command("status")
@handles_errors
def status(
    plan: Annotated[str, typer.Option("--plan", help="plan id")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="YYYY-MM-DD; default today in the plan's time zone")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table | json")] = "table",
) -> None:
    """Every obligation's light on a date."""
    from plan_tracker.reports.labels import labels
    from plan_tracker.services.status import status_rows

    _format(fmt, ("table", "json"))
    engine = _engine()
    day = _as_of(engine, plan, as_of)
    rows = status_rows(engine, plan, day)
    if fmt == "json":
        sys.stdout.write(json.dumps([r.as_json() for r in rows], ensure_ascii=False, indent=1) + "\n")
        return
    # People read the table: headers, lights and statuses in the plan's language (the JSON
    # rows keep the codes other tools rely on). Ids and period keys stay as typed in `submit`.
    words = labels(_plan_locale(engine, plan))
    table = Table(title=f"{plan} — {day}")
    for key in ("task", "unit", "period", "due", "light_word", "status_word", "progress_word", "overdue_wd"):
        table.add_column(words[key])
    for r in rows:
        table.add_row(r.task, r.unit, r.period, r.due.isoformat(),
                      f"[{LIGHT_STYLE.get(r.light, '')}]{words['lights'].get(r.light, r.light)}[/]",
                      words["status"].get(r.status, r.status) if r.status else "-",
                      "-" if r.progress is None else str(r.progress), str(r.overdue_wd))
    out.print(table)


def _plan_locale(engine: Any, plan_id: str) -> str:
    from plan_tracker.services.plans import stored_plan

    with engine.connect() as conn:
        return stored_plan(conn, plan_id).plan.locale


@app.command("submit")
@handles_errors
def submit(
    plan: Annotated[str, typer.Option("--plan")],
    task: Annotated[str, typer.Option("--task")],
    unit: Annotated[str, typer.Option("--unit")],
    period: Annotated[str, typer.Option("--period", help="once, 2018, 2018-H1, 2018-Q3, 2018-07, 2018-W05")],
    status_: Annotated[str, typer.Option("--status", help="not_started | in_progress | done | blocked")],
    progress: Annotated[int | None, typer.Option("--progress", help="0-100")] = None,
    on: Annotated[str | None, typer.Option("--on", help="report date; default today")] = None,
    note: Annotated[str | None, typer.Option("--note")] = None,
    evidence: Annotated[str | None, typer.Option("--evidence", help="a link to supporting material")] = None,
) -> None:
    """Record a unit's status report on one obligation."""
    from plan_tracker.clock import today_in
    from plan_tracker.domain.messages import word
    from plan_tracker.domain.reports import parse_status
    from plan_tracker.reports.labels import labels
    from plan_tracker.services.plans import stored_plan
    from plan_tracker.services.submissions import Submission
    from plan_tracker.services.submissions import submit as submit_report

    engine = _engine()
    with engine.connect() as conn:
        today = today_in(stored_plan(conn, plan).plan.timezone)
    reported_on = _date(on, "--on") or today
    receipt = submit_report(
        engine,
        Submission(plan, task, unit, period, status_, reported_on, progress, note, evidence),
        today=today,  # a report may be backdated with --on, never dated in the future
        actor="coordinator", source="cli",  # a paper report: the coordinator vouches for its date
    )
    recorded = parse_status(status_).value  # what the store holds (a Chinese label becomes its code)
    locale = _plan_locale(engine, plan)
    out.print(word("cli.recorded", locale, report=receipt.report_id, task=task, unit=unit, period=period,
                   status=labels(locale)["status"].get(recorded, recorded), code=recorded, day=reported_on),
              markup=False, highlight=False)


@app.command("resume")
@handles_errors
def resume(
    plan: Annotated[str, typer.Option("--plan")],
    task: Annotated[str, typer.Option("--task")],
    unit: Annotated[str, typer.Option("--unit")],
    period: Annotated[str, typer.Option("--period", help="once, 2018, 2018-H1, 2018-Q3, 2018-07, 2018-W05")],
    reason: Annotated[str | None, typer.Option("--reason", help="why escalation resumes (kept in the audit log)")] = None,
) -> None:
    """Resume the escalation of an item its unit reported blocked (the coordinator's decision, 恢复催办)."""
    from plan_tracker.clock import today_in
    from plan_tracker.services.blocked import find_obligation, resume_escalation
    from plan_tracker.services.plans import stored_plan

    engine = _engine()
    with engine.connect() as conn:
        today = today_in(stored_plan(conn, plan).plan.timezone)
        obligation_id = find_obligation(conn, plan, task, unit, period)
    resume_escalation(engine, plan_id=plan, obligation_id=obligation_id, actor="coordinator", reason=reason,
                      today=today, source="cli")
    out.print(f"escalation resumed: {task} / {unit} / {period} from {today}")


@app.command("nightly")
@handles_errors
def nightly(
    plan: Annotated[str | None, typer.Option("--plan", help="plan id; default every plan in the store")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="YYYY-MM-DD; default today in each plan's time zone")] = None,
    catch_up: Annotated[bool, typer.Option("--catch-up", help="run every night missed since the last successful run, oldest first, through --as-of")] = False,
    since: Annotated[str | None, typer.Option("--since", help="with --catch-up: the first night to run (for an outage longer than the cap)")] = None,
    shards: Annotated[int, typer.Option("--shards", min=1, help="split each plan's evaluation into N unit shards run by the Prefect work pool's workers (needs PREFECT_API_URL)")] = 1,
    now: Annotated[str | None, typer.Option("--now", hidden=True, help="tests only: the clock reading (ISO date-time)")] = None,
) -> None:
    """Run the nightly follow-up once: collect, evaluate, raise and deliver reminders, snapshot.

    With PREFECT_API_URL set it runs as a Prefect-tracked flow run; otherwise the same
    stages run in-process (no temporary Prefect server is started). `--catch-up` runs the
    nights missed since the last successful run in order (README "Scheduling"). `--shards N`
    spreads the evaluation over the work pool's workers (README "Production topology").
    """
    from plan_tracker.night import run_nightly
    from plan_tracker.services import nightly as stages
    from plan_tracker.settings import get_settings

    engine = _engine()
    given = _date(as_of, "--as-of")
    first = _date(since, "--since")
    if first is not None and not catch_up:
        raise BadInput("cli.since_needs_catch_up")
    if shards > 1 and (catch_up or not os.environ.get("PREFECT_API_URL")):
        raise BadInput("cli.shards_need_prefect")
    clock = _now(now)
    plans = [plan] if plan else stages.plan_ids(engine)
    if not plans:
        raise BadInput("cli.no_plans")
    if os.environ.get("PREFECT_API_URL") and not catch_up:
        from plan_tracker.flows.nightly import nightly_follow_up
        from plan_tracker.flows.outcome import UNDELIVERED

        state: Any = nightly_follow_up(plan_id=plan, as_of=given, shards=shards, return_state=True)  # sync flow
        undelivered = state.name == UNDELIVERED  # the night ran and was recorded; messages did not go out
        for result in state.result(raise_on_failure=not undelivered):
            out.print_json(data=result)
        if undelivered:
            out.print(state.message, markup=False, highlight=False)
        return
    for pid in plans:
        day = _as_of(engine, pid, as_of, now=clock)
        if catch_up:
            _catch_up(engine, pid, day, since=first, now=clock)
            continue
        if _follow_up_over(engine, pid, day):
            continue
        summary = run_nightly(engine, pid, day, now=clock, settings=get_settings())
        _print_nightly(summary.as_dict())


def _catch_up(engine: Any, plan_id: str, day: Any, *, since: Any, now: Any) -> None:
    """Every missed night through `day`, oldest first, with a progress bar when there are
    several; the closing line counts only what this catch-up raised."""
    from rich.progress import Progress

    from plan_tracker.night import run_nightly
    from plan_tracker.services.missed_nights import plan_catch_up
    from plan_tracker.settings import get_settings

    plan = plan_catch_up(engine, plan_id, day, since=since)
    if plan.follow_up_ended:
        out.print(f"nightly {plan_id}: follow-up ended on {plan.follow_up_ended}; catching up through that night "
                  "only", markup=False, highlight=False)
    if not plan.nights:
        out.print(f"nightly {plan_id}: nothing to catch up (the night of {plan.follow_up_ended or day} already ran)",
                  markup=False, highlight=False)
        return
    totals = {"raised": 0, "already": 0}
    with Progress(console=out, transient=True, disable=len(plan.nights) < 2) as progress:
        bar = progress.add_task(f"catching up {plan_id}", total=len(plan.nights))

        for night in plan.nights:
            summary = run_nightly(engine, plan_id, night, now=now, settings=get_settings())
            totals["raised"] += summary.evaluation.raised
            totals["already"] += summary.evaluation.already_raised
            _print_nightly(summary.as_dict())
            progress.advance(bar)
    out.print(f"caught up {len(plan.nights)} night(s) of {plan_id} ({plan.nights[0]} to {plan.nights[-1]}): "
              f"reminders raised now {totals['raised']}, already raised by earlier runs {totals['already']}",
              markup=False, highlight=False)


def _follow_up_over(engine: Any, plan_id: str, day: Any) -> bool:
    """After the plan's last day of follow-up a night changes nothing: say so."""
    from plan_tracker.services.follow_up import follow_up_over

    last = follow_up_over(engine, plan_id, day)
    if last is None:
        return False
    out.print(f"nightly {plan_id} as of {day}: follow-up ended on {last} (plan.follow_up_until; default 60 days "
              "after the last due date); nothing to do", markup=False, highlight=False)
    return True


def _print_nightly(data: dict[str, Any]) -> None:
    lights = ", ".join(f"{k} {v}" for k, v in sorted(data["lights"].items()))
    rem, dl = data["reminders"], data["delivery"]
    out.print(f"nightly {data['plan']} as of {data['as_of']}: {lights}")
    already = f", already raised by an earlier run {rem['already_raised']}" if rem.get("already_raised") else ""
    out.print(f"  reminders raised {rem['raised']} (skipped {rem['skipped']}, undeliverable {rem['undeliverable']}"
              f"{already}); "
              f"delivered {dl['delivered']} in {dl['messages']} message(s), failed {dl['failed']}, "
              f"dead {dl['dead']}, waiting for the delivery window {dl['waiting_for_window']}"
              f"{held_note(dl.get('held_by_disabled_channel', 0))}")


def held_note(held: int) -> str:
    """Deliveries kept for a disabled channel: said only when there are some."""
    return (f", held for a disabled channel {held} (fix it, then `plan-tracker channels enable NAME`)"
            if held else "")


@app.command("reminders")
@handles_errors
def reminders(
    plan: Annotated[str, typer.Option("--plan")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="only reminders raised on or before this date")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table | json")] = "table",
) -> None:
    """Reminders raised for a plan, with their recipients and delivery state."""
    from plan_tracker.services.reminders import reminder_rows

    _format(fmt, ("table", "json"))
    rows = reminder_rows(_engine(), plan, _date(as_of, "--as-of"))
    if fmt == "json":
        sys.stdout.write(json.dumps([r.as_json() for r in rows], ensure_ascii=False, indent=1) + "\n")
        return
    table = Table(title=f"{plan} reminders")
    for col in ("fired_on", "level", "task", "unit", "period", "state", "recipients"):
        table.add_column(col)
    for r in rows:
        table.add_row(r.fired_on.isoformat(), r.level, r.task, r.unit, r.period, r.state, ", ".join(r.recipients))
    out.print(table)

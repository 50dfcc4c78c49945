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
    plan_locale,
    reader_locale,
)
from plan_tracker.domain.messages import msg, word
from plan_tracker.wording import Msg


# -- plan ---------------------------------------------------------------------------------
@plan_app.command("validate")
@handles_errors
def plan_validate(file: Path, strict: Annotated[bool, typer.Option(
        "--strict", help="fail (exit 2) on warnings too, e.g. a ladder role nobody can receive")] = False) -> None:
    """Check a plan file; print every problem as FILE:LINE:COL: message."""
    from plan_tracker.domain.calendar import WorkCalendar
    from plan_tracker.domain.obligations import expand
    from plan_tracker.planfile import load_plan
    from plan_tracker.services.recipients import unreachable_roles

    plan = load_plan(file)
    count = sum(1 for _ in expand(plan, WorkCalendar(plan.plan.calendar)))
    warnings = [word("out.warning", plan.plan.locale, file=file, message=gap.message(plan))
                for gap in unreachable_roles(plan)]
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
    _print_apply(result, reader_locale({"file": file}))


def _dry_run_engine() -> Any:
    """The store, or an empty in-memory one when there is none yet: a dry run shows what
    applying would create and leaves no file behind."""
    from plan_tracker.store.db import StoreMissing, engine_for

    try:
        return _engine()
    except StoreMissing:
        return engine_for("sqlite://")


def _print_apply(result: Any, locale: str) -> None:
    def say(key: str, style: str | None = None, **fields: Any) -> None:
        out.print(word(key, locale, **fields), style=style, markup=False, highlight=False)

    if not result.changed:
        say("out.apply_unchanged", plan=result.plan_id, version=result.version)
        return
    say("out.apply_done", plan=result.plan_id, version=result.version, effective=result.effective,
        verb=msg("out.apply_verb_would" if result.dry_run else "out.apply_verb_applied"),
        new=msg("out.apply_new_plan") if result.new_plan else "")
    renamed = {**{old: ("task", new) for old, new in result.renamed_tasks.items()},
               **{old: ("unit", new) for old, new in result.renamed_units.items()}}
    for old, (kind, new) in renamed.items():
        kept = result.history_kept.get(f"{kind} {old} → {new}", {})
        say("out.apply_renamed", "cyan", kind=msg(f"out.kind_{kind}"), old=old, new=new,
            reports=kept.get("reports", 0), reminders=kept.get("reminders", 0))
    for kind, changes in (("unit", result.units), ("task", result.tasks)):
        for sign, items, style in (("+", changes.added, "green"), ("~", changes.changed, "yellow"), ("-", changes.removed, "red")):
            for item in items:
                if sign == "+" and item in {new for _, new in renamed.values()}:
                    continue
                if sign == "-" and item in renamed:
                    continue
                say("out.apply_item", style, sign=sign, kind=msg(f"out.kind_{kind}"), item=item)
    for task, count in sorted(result.dates_moved.items()):
        say("out.apply_dates_moved", task=task, count=count, effective=result.effective)
    for what, info in sorted(result.cancelled.items()):
        kind, _, name = what.partition(" ")  # "task X" / "unit X"
        say("out.apply_cancelled", "red", what=f"{word(f'out.kind_{kind}', locale)} {name}" if name else what,
            on=info["on"], count=info["obligations"], reason=info["reason"])
    for stop in result.stops:
        say("out.apply_stop_warning", "bold red", **stop)
    say("out.apply_totals", added=result.obligations_added, changed=result.obligations_changed,
        removed=result.obligations_removed, total=result.obligations_total)


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
    words = labels(plan_locale(engine, plan))
    table = Table(title=f"{plan} — {day}")
    for key in ("task", "unit", "period", "due", "light_word", "status_word", "progress_word", "overdue_wd"):
        table.add_column(words[key])
    for r in rows:
        table.add_row(r.task, r.unit, r.period, r.due.isoformat(),
                      f"[{LIGHT_STYLE.get(r.light, '')}]{words['lights'].get(r.light, r.light)}[/]",
                      words["status"].get(r.status, r.status) if r.status else "-",
                      "-" if r.progress is None else str(r.progress), str(r.overdue_wd))
    out.print(table)


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
    locale = plan_locale(engine, plan)
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
    out.print(word("out.resumed", plan_locale(engine, plan), task=task, unit=unit, period=period, day=today),
              markup=False, highlight=False)


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
            _print_flow_night(result, plan_locale(engine, result["plan"]))
        return
    for pid in plans:
        day = _as_of(engine, pid, as_of, now=clock)
        if catch_up:
            _catch_up(engine, pid, day, since=first, now=clock)
            continue
        if _follow_up_over(engine, pid, day):
            continue
        summary = run_nightly(engine, pid, day, now=clock, settings=get_settings())
        _print_nightly(summary.as_dict(), plan_locale(engine, pid))


def _catch_up(engine: Any, plan_id: str, day: Any, *, since: Any, now: Any) -> None:
    """Every missed night through `day`, oldest first, with a progress bar when there are
    several; the closing line counts only what this catch-up raised."""
    from rich.progress import Progress

    from plan_tracker.night import run_nightly
    from plan_tracker.services.missed_nights import plan_catch_up
    from plan_tracker.settings import get_settings

    plan = plan_catch_up(engine, plan_id, day, since=since)
    locale = plan_locale(engine, plan_id)
    if plan.follow_up_ended:
        _say("out.catch_up_ended", locale, plan=plan_id, last=plan.follow_up_ended)
    if not plan.nights:
        _say("out.catch_up_nothing", locale, plan=plan_id, day=plan.follow_up_ended or day)
        return
    totals = {"raised": 0, "already": 0}
    with Progress(console=out, transient=True, disable=len(plan.nights) < 2) as progress:
        bar = progress.add_task(word("out.catch_up_bar", locale, plan=plan_id), total=len(plan.nights))

        for night in plan.nights:
            summary = run_nightly(engine, plan_id, night, now=now, settings=get_settings())
            totals["raised"] += summary.evaluation.raised
            totals["already"] += summary.evaluation.already_raised
            _print_nightly(summary.as_dict(), locale)
            progress.advance(bar)
    _say("out.catch_up_done", locale, plan=plan_id, count=len(plan.nights), first=plan.nights[0],
         last=plan.nights[-1], raised=totals["raised"], already=totals["already"])


def _say(key: str, locale: str, **fields: Any) -> None:
    """One catalogue line on standard output, as worded (no rich markup in ids or reasons)."""
    out.print(word(key, locale, **fields), markup=False, highlight=False)


def _follow_up_over(engine: Any, plan_id: str, day: Any) -> bool:
    """After the plan's last day of follow-up a night changes nothing: say so."""
    from plan_tracker.services.follow_up import follow_up_over

    last = follow_up_over(engine, plan_id, day)
    if last is None:
        return False
    _say("out.follow_up_over", plan_locale(engine, plan_id), plan=plan_id, day=day, last=last)
    return True


def _print_nightly(data: dict[str, Any], locale: str) -> None:
    """The night's summary (the JSON `as_dict` shape) in the plan's words: lights by their
    labels, in the catalogue's order of the codes."""
    from plan_tracker.domain.vocabulary import light_word

    lights = [msg("out.night_light", word=light_word(k, locale), count=v) for k, v in sorted(data["lights"].items())]
    rem, dl = data["reminders"], data["delivery"]
    _say("out.night_head", locale, plan=data["plan"], day=data["as_of"], lights=lights)
    already = msg("out.night_already", count=rem["already_raised"]) if rem.get("already_raised") else ""
    _say("out.night_reminders", locale, raised=rem["raised"], skipped=rem["skipped"],
         undeliverable=rem["undeliverable"], already=already, delivered=dl["delivered"], messages=dl["messages"],
         failed=dl["failed"], dead=dl["dead"], waiting=dl["waiting_for_window"],
         held=held_note(dl.get("held_by_disabled_channel", 0)))


def _print_flow_night(result: dict[str, Any], locale: str) -> None:
    """A night run by the Prefect flow, worded as the in-process one (the flow's artifacts
    and state keep their figures): its summary, or that follow-up ended, and what did not go
    out (the state's message, for people)."""
    from plan_tracker.flows.outcome import delivery_counts, undelivered

    if "follow_up_ended" in result:
        _say("out.follow_up_over", locale, plan=result["plan"], day=result["as_of"], last=result["follow_up_ended"])
        return
    _print_nightly(result, locale)
    if undelivered(result):
        _say("out.night_undelivered", locale, plan=result["plan"], count=undelivered(result), **delivery_counts(result))


def held_note(held: int) -> Msg | str:
    """Deliveries kept for a disabled channel: said only when there are some."""
    return msg("out.held", count=held) if held else ""


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
    engine = _engine()
    rows = reminder_rows(engine, plan, _date(as_of, "--as-of"))
    if fmt == "json":
        sys.stdout.write(json.dumps([r.as_json() for r in rows], ensure_ascii=False, indent=1) + "\n")
        return
    from plan_tracker.domain.vocabulary import level_word, reminder_state_word

    locale = plan_locale(engine, plan)
    table = Table(title=word("out.reminders_title", locale, plan=plan))
    for col in ("fired_on", "level", "task", "unit", "period", "state", "recipients"):
        table.add_column(word(f"out.col_{col}", locale))
    for r in rows:
        table.add_row(r.fired_on.isoformat(), level_word(r.level, locale), r.task, r.unit, r.period,
                      reminder_state_word(r.state, locale), ", ".join(r.recipients))
    out.print(table)

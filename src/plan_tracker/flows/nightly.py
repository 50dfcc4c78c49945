"""The nightly follow-up flow: the stages of `plan_tracker.night` (mail → collect → evaluate →
deliver → snapshot → report), each a Prefect task for one plan (never one task per
obligation), with the same summary as the CLI's night. Stages doing I/O retry; all stages
are idempotent, so a retry or a re-run changes nothing twice.
The as-of date is the run's *scheduled* date in each plan's time zone, not the wall clock.

Scale-out: with `shards > 1` the evaluation of each plan is split by unit shard into
`evaluate-shard` flow runs of the shard deployment (`Settings.shard_deployment`), which the
work pool's workers pick up in parallel; the night goes on once every shard has completed.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from plan_tracker import night as night_stages
from plan_tracker.clock import now_utc
from plan_tracker.flows import outcome
from plan_tracker.services import nightly as stages
from plan_tracker.services.plans import agreed_locale, plan_locale
from plan_tracker.settings import get_settings


def _engine() -> Any:
    """The worker's store. A missing SQLite store fails the run naming the URL: a worker
    started without `PLAN_TRACKER_DATABASE_URL` must not create a stray store under the
    repository and report a night nobody can see (README "Scheduling")."""
    from plan_tracker.store.db import open_store

    return open_store(get_settings().resolved_database_url())


def _night(plan_id: str, as_of: dt.date) -> night_stages.Night:
    return night_stages.Night(_engine(), plan_id, as_of, now_utc(), get_settings())


def _stage_task(stage: night_stages.Stage) -> Any:
    """A Prefect task for one stage of the night (the stage list is `plan_tracker.night`'s)."""
    def run(plan_id: str, as_of: dt.date) -> Any:
        return stage.run(_night(plan_id, as_of))

    delays: list[float] = [float(d) for d in stage.retry_delays]
    return task(name=stage.name, retries=stage.retries, retry_delay_seconds=delays, cache_policy=NO_CACHE)(run)


STAGE_TASKS = {stage.name: _stage_task(stage) for stage in night_stages.STAGES}


def evaluate_in_shards(plan_id: str, as_of: dt.date, shards: int) -> stages.EvaluationSummary:
    """Start one `evaluate-shard` run per shard on the work pool (concurrently, from the
    flow) and wait for all of them; a shard that does not complete fails the night, and a
    rerun repeats it harmlessly (every shard is idempotent)."""
    from prefect.runtime import flow_run

    deployment = get_settings().shard_deployment
    runs = [run_shard.submit(deployment, plan_id, as_of, k, shards, str(flow_run.id or "")) for k in range(shards)]
    failed = [k for k, done in enumerate(runs) if not done.result()]
    if failed:
        raise RuntimeError(f"plan {plan_id}, night {as_of}: shards {failed} of {shards} did not complete")
    engine = _engine()
    summary = stages.evaluation_summary(engine, plan_id, as_of)
    summary.shards = stages.shards_evaluated(engine, plan_id, as_of)
    return summary


@task(name="run-shard", cache_policy=NO_CACHE)
def run_shard(deployment: str, plan_id: str, as_of: dt.date, shard: int, shards: int, parent: str) -> bool:
    from prefect.client.schemas.objects import FlowRun
    from prefect.deployments import run_deployment

    run = run_deployment(
        deployment, parameters={"plan_id": plan_id, "as_of": as_of.isoformat(), "shard": shard, "shards": shards},
        # the same shard of the same parent run is one flow run, even if this task retries
        idempotency_key=f"{parent}:{plan_id}:{as_of}:{shard}/{shards}", timeout=None, poll_interval=1,
        _sync=True,  # type: ignore[call-arg]  # async_dispatch's switch: wait here, in the task's thread
    )
    assert isinstance(run, FlowRun)
    return bool(run.state and run.state.is_completed())


# Timeouts: a night of 1M obligations takes minutes (BENCHMARKS.md: 42 s first night, 157 s to
# the file outbox); hours mean a hung peer or a lost lock, and the run must end so the next
# one is not held back. Office-hours delivery ends before its next half-hourly slot.
NIGHT_TIMEOUT_S = 2 * 3600
SHARD_TIMEOUT_S = 3600
DELIVERY_TIMEOUT_S = 25 * 60
MAIL_TIMEOUT_S = 10 * 60  # inside the 15-minute schedule, so fetches never pile up


@flow(name="evaluate-shard", log_prints=True, retries=1, retry_delay_seconds=30, timeout_seconds=SHARD_TIMEOUT_S)
def evaluate_shard(plan_id: str, as_of: dt.date, shard: int, shards: int) -> dict[str, Any]:
    """One unit shard of one plan's night, on whichever worker picked it up."""
    worker = os.environ.get("PLAN_TRACKER_WORKER") or f"{socket.gethostname()}:{os.getppid()}"
    return stages.evaluate_shard(_engine(), plan_id, as_of, now=now_utc(), shard=stages.Shard(shard, shards),
                                 worker=worker, batch=get_settings().evaluation_batch)


def scheduled_as_of(timezone: str) -> dt.date:
    """The flow run's scheduled date in the plan's time zone (a 02:00 Shanghai run is that
    day's run even though it is the previous evening in UTC); wall clock only outside a run."""
    import pendulum
    from prefect.runtime import flow_run

    scheduled = flow_run.scheduled_start_time
    moment = pendulum.instance(scheduled) if scheduled is not None else pendulum.now("UTC")
    local = moment.in_timezone(timezone)
    return dt.date(local.year, local.month, local.day)


@flow(name="nightly-follow-up", log_prints=True, timeout_seconds=NIGHT_TIMEOUT_S)
def nightly_follow_up(plan_id: str | None = None, as_of: dt.date | None = None,
                      shards: int = 1) -> Any:
    """Run the night for one plan, or for every plan in the store, each in its own zone;
    `shards > 1` spreads each plan's evaluation over the work pool's workers. Returns the
    nights' summaries, or a `Failed`/`Undelivered` state carrying them when deliveries
    failed (`flows.outcome`); each plan's night publishes its artifacts either way."""
    from plan_tracker.services.calendar_cover import extend_calendar
    from plan_tracker.services.follow_up import follow_up_over

    if shards < 1:
        raise ValueError("shards must be at least 1")
    engine = _engine()
    logger = get_run_logger()

    def as_task(stage: night_stages.Stage, night: night_stages.Night) -> Any:
        if stage.name == "evaluate" and shards > 1:
            return evaluate_in_shards(night.plan_id, night.as_of, shards)
        return STAGE_TASKS[stage.name](night.plan_id, night.as_of)

    results: list[dict[str, Any]] = []
    locales: list[str] = []
    for pid in [plan_id] if plan_id else stages.plan_ids(engine):
        locales.append(plan_locale(engine, pid))
        day = as_of or scheduled_as_of(stages.plan_timezone(engine, pid))
        extend_calendar(engine, pid)  # a store built before its calendar source's latest year
        ended = follow_up_over(engine, pid, day)
        if ended is not None:  # after the plan's last day of follow-up a night changes nothing
            logger.info("nightly %s as of %s: follow-up ended on %s; nothing to do", pid, day, ended)
            results.append({"plan": pid, "as_of": day.isoformat(), "follow_up_ended": ended.isoformat()})
            continue
        # a duplicated schedule waits for the plan's lock, then changes nothing
        summary = night_stages.run_night(_night(pid, day), runner=as_task).as_dict()
        _log_result(logger, f"nightly {pid} as of {day}", summary)
        outcome.publish_night(engine, summary, locales[-1])
        results.append(summary)
    return outcome.final_state(results, "nightly-follow-up", agreed_locale(locales, get_settings().locale))


def _log_result(logger: Any, what: str, result: dict[str, Any]) -> None:
    """INFO when everything went out or waits for the window; WARNING with the counts when
    deliveries failed or died, so a log filter on warnings finds a bad night."""
    if outcome.undelivered(result):
        logger.warning("%s: deliveries failed %s, dead %s (%s)", what, outcome.delivery_counts(result)["failed"],
                       outcome.delivery_counts(result)["dead"], result)
    else:
        logger.info("%s: %s", what, result)


@flow(name="deliver-waiting", log_prints=True, timeout_seconds=DELIVERY_TIMEOUT_S)
def deliver_waiting(plan_id: str | None = None) -> Any:
    """Office-hours delivery: send what the 02:00 night raised and SMTP/robots held back for
    the delivery window. Scheduled every 30 minutes 08:30–17:30 Asia/Shanghai, every day
    (prefect.yaml); a plan is skipped, untouched, outside its own delivery window or on a
    day its calendar says is not a working day (holidays skip, 调休 Saturdays run). When
    every plan is skipped the run ends `Completed` named `Skipped`; when deliveries failed,
    `Failed` named `Undelivered` (`flows.outcome`)."""
    from plan_tracker.reports.weekly_mail import deliver_with_weekly as deliver_reminders

    engine = _engine()
    logger = get_run_logger()
    now = now_utc()
    results: list[dict[str, Any]] = []
    locales: list[str] = []
    for pid in [plan_id] if plan_id else stages.plan_ids(engine):
        locales.append(plan_locale(engine, pid))
        day, closed = _delivery_day(engine, pid, now)
        if closed:
            logger.info("deliver %s: skipped, %s", pid, closed)
            results.append({"plan": pid, "as_of": day.isoformat(), "skipped": closed})
            continue
        result = deliver_reminders(engine, pid, now=now, as_of=day, settings=get_settings())
        found = {"plan": pid, "as_of": day.isoformat(), "messages": result.messages_sent,
                 "delivered": result.deliveries_sent, "failed": result.failed, "dead": result.dead,
                 "waiting": result.waiting, "deferred": result.deferred}
        _log_result(logger, f"deliver {pid}", found)
        results.append(found)
    return outcome.final_state(results, "deliver-waiting", agreed_locale(locales, get_settings().locale))


def _delivery_day(engine: Any, plan_id: str, now: dt.datetime) -> tuple[dt.date, str | None]:
    """The plan's local date, and why delivery is closed now (None when it is open): a day
    the plan's working-day calendar does not count, or a time outside its window."""
    import zoneinfo

    from plan_tracker.domain.calendar import WorkCalendar
    from plan_tracker.domain.errors import CalendarNotCovered
    from plan_tracker.services.context import plan_context

    with engine.connect() as conn:
        plan = plan_context(conn, plan_id).plan
    local = now.astimezone(zoneinfo.ZoneInfo(plan.plan.timezone))
    opens, closes = plan.plan.delivery_window
    try:
        working = WorkCalendar(plan.plan.calendar).is_working_day(local.date())
    except CalendarNotCovered:  # as delivery itself does (`services.delivery.in_window`)
        working = local.weekday() < 5
    if not working:
        return local.date(), f"{local.date()} is not a working day in the plan's calendar"
    if not opens <= local.time().replace(tzinfo=None) < closes:
        return local.date(), f"{local:%H:%M} is outside the delivery window {opens:%H:%M}–{closes:%H:%M}"
    return local.date(), None


@flow(name="mail-fetch", log_prints=True, timeout_seconds=MAIL_TIMEOUT_S)
def fetch_replies(plan_id: str | None = None) -> dict[str, Any] | None:
    """The units' replies by e-mail (`plan-tracker mail fetch`): every 15 minutes in office
    hours (prefect.yaml), so a receipt answers a unit while it is still at its desk."""
    from plan_tracker.inbox.mail import run_fetch

    summary = run_fetch(_engine(), get_settings(), now=now_utc(), only_plan=plan_id)
    return summary.as_dict() if summary is not None else None

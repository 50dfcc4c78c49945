"""The night: one list of stages, run in-process by the CLI or as Prefect tasks by the flow.

mail → collect → evaluate (lights + reminders) → deliver → snapshot → report. Each stage is a
coarse, set-based step for one plan and safe to re-run. This module sits above services,
the inbox and reports (it is the one place that chains them), so both the CLI's night
(`run_nightly`) and the Prefect flow (`flows.nightly`) run exactly these stages, in this
order, with one summary shape.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from plan_tracker import faults
from plan_tracker.background import yield_to_the_night
from plan_tracker.services import nightly as services
from plan_tracker.services.context import PlanContext, plan_context
from plan_tracker.services.nightly import NightlySummary
from plan_tracker.store.locks import nightly_lock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Night:
    """What every stage of one plan's night reads: resolved once, at the edge."""

    engine: Engine
    plan_id: str
    as_of: dt.date
    now: dt.datetime
    settings: Any
    factory: Any = None  # channel factory (tests: recording channels)
    ready: Any = None  # delivery processes started ahead (reports.delivery_processes.ready_processes)
    ahead: Any = None  # the day's report built beside the night (reports.ahead.ReportAhead)

    @cached_property
    def context(self) -> PlanContext:
        """The plan version in force on the night, resolved once for every stage."""
        with self.engine.connect() as conn:
            return plan_context(conn, self.plan_id, self.as_of)

    def but(self, **changes: Any) -> Night:
        """This night with `changes`, keeping the context if it is already resolved."""
        copy = replace(self, **changes)
        if "context" in self.__dict__:
            copy.__dict__["context"] = self.__dict__["context"]
        return copy


def mail(night: Night) -> Any:
    """The units' replies in the mailbox (PLAN_TRACKER_IMAP_URL; nothing when unset): their
    forms are ingested before the night's lights are computed (inbox.mail). A mailbox out of
    reach is said in the night's summary; the other stages run."""
    if not night.settings.has_mailbox():
        return None  # as `run_fetch` answers, without importing the IMAP client and the form readers
    from plan_tracker.channels.mailbox import MailboxConfigError
    from plan_tracker.inbox.mail import FetchSummary, run_fetch

    try:
        return run_fetch(night.engine, night.settings, now=night.now, only_plan=night.plan_id, factory=night.factory)
    except MailboxConfigError as exc:  # a mailbox that is down must not stop the reminders
        return FetchSummary(unavailable=str(exc))


def collect(night: Night) -> int:
    return collect_inbox(night.engine, night.plan_id, night.as_of, inbox=night.settings.folder("inbox"))


def collect_inbox(engine: Engine, plan_id: str, as_of: dt.date, *, inbox: Path | None = None) -> int:
    """Ingest the files waiting in `<inbox>/<plan_id>/` as reports received on the night
    (undated rows count as reported then), then count the status reports the store had
    received by the night. `inbox` defaults to `Settings.folder("inbox")`. Re-running
    changes nothing: ingested files have left the folder, and a file dropped again is
    recognised by its hash (docs/INBOX.md)."""
    from plan_tracker.inbox.ingest import ingest_inbox
    from plan_tracker.store.models import Obligation, StatusReport

    if inbox is None:
        from plan_tracker.settings import get_settings

        inbox = get_settings().folder("inbox")
    ingest_inbox(engine, plan_id, today=as_of, inbox=inbox)
    r, o = StatusReport.__table__, Obligation.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return int(conn.execute(
            select(func.count()).select_from(r.join(o, o.c.id == r.c.obligation_id))
            .where(o.c.plan_id == plan_id, r.c.received_on <= as_of)
        ).scalar_one())


def evaluate(night: Night) -> services.EvaluationSummary:
    batch = int(getattr(night.settings, "evaluation_batch", None) or services.BATCH)
    workers = int(getattr(night.settings, "evaluation_workers", None) or 1)
    return services.evaluate(night.engine, night.plan_id, night.as_of, now=night.now, batch=batch,
                             context=night.context, workers=workers)


def deliver(night: Night) -> Any:
    # reminders, with the week's report riding along to the managers (reports.weekly_mail)
    from plan_tracker.reports.weekly_mail import deliver_with_weekly as deliver_reminders

    return deliver_reminders(night.engine, night.plan_id, now=night.now, as_of=night.as_of,
                             settings=night.settings, factory=night.factory, context=night.context, ready=night.ready,
                             known=night.ahead.weekly_parts() if night.ahead is not None else None)


def warm_delivery(night: Night) -> None:
    """Load what this process's share of delivery imports and compiles (the plan's message
    templates): while the night evaluates, not when the first message is due."""
    from plan_tracker.reports.delivery_processes import warm_up

    warm_up((night.context.plan.plan.locale,))


def snapshot(night: Night) -> int:
    return services.snapshot(night.engine, night.plan_id, night.as_of)


def warm_report(night: Night) -> None:
    """Load what rendering the day's files takes (each configured format's module, its
    libraries and template): while the night evaluates, not after the snapshot."""
    from plan_tracker.reports.files import prepare

    for fmt in night.settings.nightly_formats:
        prepare(fmt)


def report(night: Night) -> Any:
    """The day's report files and, on the first working day of a week, the weekly report
    (`plan_tracker.reports.schedule`); after the snapshot, whose figures it charts."""
    from plan_tracker.reports.schedule import run_report_stage

    return run_report_stage(night.engine, night.plan_id, night.as_of, now=night.now,
                            settings=night.settings, factory=night.factory, context=night.context,
                            built=night.ahead.report() if night.ahead is not None else None)


@dataclass(frozen=True)
class Stage:
    name: str
    run: Callable[[Night], Any]
    summary_field: str  # the NightlySummary field its result fills
    retries: int  # as a Prefect task (stages doing I/O retry; every stage is idempotent)
    retry_delays: list[int] = field(default_factory=list)
    kill_point: str | None = None  # the crash tests' kill point after the stage
    warm_up: Callable[[Night], None] | None = None  # what it loads, done ahead (`run_night`)


STAGES: tuple[Stage, ...] = (
    Stage("mail", mail, "mail", 2, [30, 120]),
    Stage("collect", collect, "reports_known", 2, [10, 60], "nightly.collected"),
    Stage("evaluate", evaluate, "evaluation", 1, [30], "nightly.evaluated"),
    Stage("deliver", deliver, "delivery", 3, [30, 120, 600], "nightly.delivered", warm_delivery),
    Stage("snapshot", snapshot, "figures", 1, [30]),
    Stage("report", report, "report", 2, [30, 300], "nightly.reported", warm_report),
)

StageRunner = Callable[[Stage, Night], Any]


def in_process(stage: Stage, night: Night) -> Any:
    return stage.run(night)


# The later stages' modules and templates load in a thread from here on: evaluation, next,
# runs in the database (SQLite and psycopg let go of the interpreter meanwhile) and imports
# nothing; a stage waits for its warm-up before it starts. Not from the night's start: the
# mail and collect stages import their own modules then, and two threads importing modules
# that import each other can deadlock.
WARM_UP_AFTER = "collect"


def _warm_up_later_stages(night: Night) -> dict[str, threading.Thread]:
    started = {}
    for stage in STAGES:
        if stage.warm_up is not None:
            started[stage.name] = threading.Thread(target=_warm_up, args=(stage.name, stage.warm_up, night),
                                                   name=f"warm-up-{stage.name}", daemon=True)
            started[stage.name].start()
    return started


def _warm_up(name: str, warm_up: Callable[[Night], None], night: Night) -> None:
    """A stage's warm-up saves time and nothing else: if it fails, the stage loads what it
    needs itself, as it would have."""
    yield_to_the_night()  # plan_tracker.background: evaluation runs meanwhile
    try:
        warm_up(night)
    except Exception:
        log.warning("warming up the %s stage failed; it loads what it needs itself", name, exc_info=True)


def run_night(night: Night, runner: StageRunner = in_process) -> NightlySummary:
    """The stages in order for one plan's night, under the plan's lock, recorded as a run.

    Runs of one plan never overlap: a second run for the same plan waits for the first
    (`store.locks.nightly_lock`), then finds the night done and changes nothing. `runner`
    runs a stage: in-process (the CLI) or as a Prefect task (the flow). A night likely to
    split its delivery starts the other delivery processes first, so they get ready while
    this one evaluates, the day's report is built beside the stages (`reports.ahead`), and
    what the later stages load is loaded while the night evaluates (`WARM_UP_AFTER`).
    """
    from plan_tracker.reports.ahead import report_ahead
    from plan_tracker.reports.delivery_processes import ready_processes

    with nightly_lock(night.engine, night.plan_id), \
            ready_processes(night.engine, night.plan_id, night.settings, night.factory) as ready, \
            report_ahead(night.engine, night.context, night.as_of, wanted=bool(night.settings.nightly_formats)) as ahead:
        night = night.but(ready=ready, ahead=ahead)
        run_id = services.start_run(night.engine, night.plan_id, night.as_of, night.now)
        faults.point("nightly.started")
        summary = NightlySummary(night.plan_id, night.as_of)
        warming: dict[str, threading.Thread] = {}
        for stage in STAGES:
            started = time.perf_counter()  # a stage's time includes waiting for its warm-up
            if stage.name in warming:
                warming.pop(stage.name).join()
            setattr(summary, stage.summary_field, runner(stage, night))
            summary.stage_seconds[stage.name] = round(time.perf_counter() - started, 3)
            if stage.name == WARM_UP_AFTER:
                warming = _warm_up_later_stages(night)
            if ahead is not None:
                ahead.passed(stage.name)
            if stage.kill_point:
                faults.point(stage.kill_point)
        services.finish_run(night.engine, run_id, night.now, summary.as_dict())
    return summary


def run_nightly(engine: Engine, plan_id: str, as_of: dt.date, *, now: dt.datetime, settings: Any,
                factory: Any = None) -> NightlySummary:
    """All stages in-process, in order (what the CLI runs without a Prefect server)."""
    return run_night(Night(engine, plan_id, as_of, now, settings, factory))


def catch_up(engine: Engine, plan_id: str, target: dt.date, *, now: dt.datetime, settings: Any,
             since: dt.date | None = None, factory: Any = None) -> list[NightlySummary]:
    """Run every missed night in order (`services.missed_nights.nights_to_run`)."""
    from plan_tracker.services.missed_nights import nights_to_run

    return [run_nightly(engine, plan_id, night, now=now, settings=settings, factory=factory)
            for night in nights_to_run(engine, plan_id, target, since=since)]

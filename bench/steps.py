"""One measured step per process, so peak memory (ru_maxrss) belongs to that step alone.

`python -m bench.steps STEP URL PLAN_FILE` prints one JSON line:
{"step", "seconds", "peak_mib", ...extra figures}.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select, text

from bench.bytecode import compile_package

AS_OF = dt.date(2018, 7, 2)
NOW = dt.datetime(2018, 7, 2, 1, 0, tzinfo=dt.UTC)  # 09:00 Shanghai: inside the window


def _engine(url: str) -> Engine:
    from plan_tracker.store.db import make_engine, migrate

    engine = make_engine(url)
    migrate(engine)
    return engine


def step_apply(engine: Engine, plan_file: Path) -> dict[str, Any]:
    from plan_tracker.services.plans import apply_plan

    result = apply_plan(engine, plan_file, actor="bench", source="bench")
    return {"obligations": result.obligations_total, "changed": result.changed}


def step_reports(engine: Engine, plan_file: Path) -> dict[str, Any]:
    """Seed reports (setup, not a target): bulk insert in batches."""
    from bench.synthetic import report_rows
    from plan_tracker.store.models import Obligation, StatusReport

    o, r = Obligation.__table__, StatusReport.__table__
    count = 0
    with engine.begin() as conn:
        rows = conn.execute(select(o.c.id, o.c.period_start, o.c.due)).all()
        batch = report_rows([(a, b, c) for a, b, c in rows])
        for start in range(0, len(batch), 20_000):
            conn.execute(insert(r), batch[start:start + 20_000])
        count = len(batch)
    if engine.dialect.name == "postgresql":  # as autovacuum would after a day of reports
        with engine.begin() as conn:
            conn.execute(text("ANALYZE status_report"))
    return {"reports": count}


def step_evaluate(engine: Engine, plan_file: Path) -> dict[str, Any]:
    """A realistic night: the previous working night has run (timed as the first night), then
    AS_OF's run; on as many connections as `nightly` uses (`evaluation_workers`)."""
    from plan_tracker.services.nightly import evaluate
    from plan_tracker.settings import Settings

    workers = Settings().evaluation_workers
    first = time.perf_counter()
    evaluate(engine, plan_file.stem, AS_OF - dt.timedelta(days=3), now=NOW, workers=workers)  # Friday 2018-06-29
    first_night = time.perf_counter() - first
    started = time.perf_counter()
    summary = evaluate(engine, plan_file.stem, AS_OF, now=NOW, workers=workers)
    return {"seconds": round(time.perf_counter() - started, 3), "first_night_seconds": round(first_night, 3),
            "lights": summary.lights, "raised": summary.raised, "skipped": summary.skipped,
            "workers": workers}


def step_limit(engine: Engine, plan_file: Path) -> dict[str, Any]:
    """The physical limit: one hand-written UPDATE of every light over the calendar table,
    with a plain aggregate for completion (no history rules, no reminders)."""
    from plan_tracker.services.status import eval_params

    with engine.begin() as conn:
        params = eval_params(conn, plan_file.stem, AS_OF)
        conn.execute(text("""
            UPDATE obligation SET light = x.light, overdue_wd = x.overdue_wd, evaluated_on = :as_of
            FROM (
              SELECT o.id,
                CASE WHEN d.done_on IS NOT NULL AND d.done_on <= o.due THEN 'done'
                     WHEN d.done_on IS NOT NULL THEN 'done_late'
                     WHEN :as_of < o.period_start THEN 'pending'
                     WHEN :as_of > o.due THEN 'red'
                     WHEN :ord_d >= c.wd_ordinal - o.warn_days THEN 'yellow' ELSE 'green' END AS light,
                CASE WHEN d.done_on IS NULL AND :as_of > o.due THEN :ord_d - c.wd_ordinal ELSE 0 END AS overdue_wd
              FROM obligation o
              JOIN calendar_day c ON c.calendar_key = :cal AND c.day = o.due
              LEFT JOIN (SELECT obligation_id, MIN(reported_on) AS done_on FROM status_report
                         WHERE status = 'done' AND reported_on <= :as_of GROUP BY obligation_id) d
                     ON d.obligation_id = o.id
              WHERE o.plan_id = :plan
            ) x
            WHERE obligation.id = x.id
        """), params)
    return {}


def step_deliver(engine: Engine, plan_file: Path) -> dict[str, Any]:
    """The night's delivery stage as `nightly` runs it: the units' reply forms attached, the
    run split between one process per core when it is large (issue 17), those processes
    started ahead and ready (the night starts them as it begins and they import while it
    evaluates: `reports.delivery_processes.ready_processes`), so their start-up is not
    timed; `started_on_demand_s` says what it took them to be ready. The week's report part
    (AS_OF is a Monday) is built before the clock starts, as the night's report thread builds
    it while the night evaluates (`reports.ahead`); `weekly_built_ahead_s` says what it took
    (on SQLite that thread has the core evaluation leaves idle; on PostgreSQL it shares the
    server's cores with evaluation's two connections)."""
    from bench.delivery import _wait_warm
    from plan_tracker.reports.delivery_processes import ready_processes
    from plan_tracker.reports.weekly_mail import WeeklyParts, deliver_with_weekly
    from plan_tracker.settings import Settings

    settings = Settings(data_dir=plan_file.parent / "var")
    building = time.perf_counter()
    known = {AS_OF: WeeklyParts(engine, plan_file.stem).weekly_part(AS_OF)}
    built = time.perf_counter() - building
    with ready_processes(engine, plan_file.stem, settings, None) as ready:
        warming = time.perf_counter()
        _wait_warm(ready)
        warm = time.perf_counter() - warming
        started = time.perf_counter()
        summary = deliver_with_weekly(engine, plan_file.stem, now=NOW, as_of=AS_OF, settings=settings, ready=ready,
                                      known=known)
        seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 3), "started_on_demand_s": round(warm, 3),
            "weekly_built_ahead_s": round(built, 3), "messages": summary.messages_sent,
            "deliveries": summary.deliveries_sent, "processes": summary.processes}


def step_report(engine: Engine, plan_file: Path) -> dict[str, Any]:
    try:
        from plan_tracker.reports import build_report, render_html  # type: ignore[attr-defined]
    except ImportError:
        return {"skipped": "reports package not available"}
    report = build_report(engine, plan_file.stem, AS_OF)
    html = render_html(report)
    return {"html_bytes": len(html)}


# The founding plan's night (run once per backend, not per size). Each variant runs in its
# own process on its own fresh store, prepared the same way: the plan applied, the demo's
# deterministic reports recorded, and the previous working night run (untimed). The measured
# night is FOUNDING_NIGHT with the clock at NOW (09:00 Shanghai, a Monday: reminders are
# delivered to the file outbox and the weekly report goes to the managers).
FOUNDING_NIGHT = AS_OF
_PREVIOUS_NIGHT = AS_OF - dt.timedelta(days=3)  # Friday 2018-06-29


def _prepare_founding(engine: Engine, plan_file: Path, data_dir: Path) -> str:
    from plan_tracker.demo import demo_reports
    from plan_tracker.domain.calendar import WorkCalendar
    from plan_tracker.night import run_nightly
    from plan_tracker.planfile import load_plan
    from plan_tracker.services.plans import apply_plan
    from plan_tracker.services.submissions import record_report
    from plan_tracker.settings import Settings

    apply_plan(engine, plan_file, actor="bench", source="bench")
    plan = load_plan(plan_file)
    with engine.begin() as conn:
        for submission in demo_reports(plan, WorkCalendar(plan.plan.calendar)):
            record_report(conn, submission, today=dt.date(2019, 3, 31), actor=submission.unit, source="bench")
    settings = Settings(data_dir=data_dir, database_url=engine.url.render_as_string(hide_password=False))
    run_nightly(engine, plan.id, _PREVIOUS_NIGHT, now=NOW - dt.timedelta(days=3), settings=settings)
    return plan.id


def _founding_env(url: str, data_dir: Path) -> dict[str, str]:
    """The environment of a night run without a Prefect server: no PREFECT_API_URL, no
    stray PLAN_TRACKER_* settings of the caller."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLAN_TRACKER_", "PREFECT_API_URL"))}
    env.update(PLAN_TRACKER_DATABASE_URL=url, PLAN_TRACKER_DATA_DIR=str(data_dir))
    return env


def step_nightly_cli(engine: Engine, plan_file: Path) -> dict[str, Any]:
    """`plan-tracker nightly` as a user runs it: a new process (interpreter start and imports
    included), stages in-process because PREFECT_API_URL is unset."""
    data_dir = Path(tempfile.mkdtemp(prefix="bench-nightly-"))
    try:
        plan_id = _prepare_founding(engine, plan_file, data_dir)
        url = engine.url.render_as_string(hide_password=False)
        engine.dispose()
        command = [_cli(), "nightly", "--plan", plan_id, "--as-of", FOUNDING_NIGHT.isoformat(),
                   "--now", NOW.isoformat()]
        started = time.perf_counter()
        out = subprocess.run(command, env=_founding_env(url, data_dir), capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - started
        if out.returncode != 0:
            raise RuntimeError(f"plan-tracker nightly exited {out.returncode}: {out.stderr.strip()[-500:]}")
        return {"seconds": round(seconds, 3), "plan": plan_id, "as_of": FOUNDING_NIGHT.isoformat(),
                "output": out.stdout.strip().splitlines()[:1]}
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def _cli() -> str:
    script = Path(sys.executable).parent / "plan-tracker"
    return str(script) if script.exists() else shutil.which("plan-tracker") or "plan-tracker"


def step_nightly_inprocess(engine: Engine, plan_file: Path) -> dict[str, Any]:
    """The same night's stages called in this (warm) process: `plan_tracker.night.run_nightly`."""
    from plan_tracker.night import run_nightly
    from plan_tracker.settings import Settings

    data_dir = Path(tempfile.mkdtemp(prefix="bench-nightly-"))
    try:
        plan_id = _prepare_founding(engine, plan_file, data_dir)
        settings = Settings(data_dir=data_dir, database_url=engine.url.render_as_string(hide_password=False))
        started = time.perf_counter()
        summary = run_nightly(engine, plan_id, FOUNDING_NIGHT, now=NOW, settings=settings)
        seconds = time.perf_counter() - started
        data = summary.as_dict()
        return {"seconds": round(seconds, 3), "plan": plan_id, "as_of": FOUNDING_NIGHT.isoformat(),
                "obligations": sum(data["lights"].values()), "raised": data["reminders"]["raised"],
                "messages": data["delivery"]["messages"]}
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def step_nightly_prefect(engine: Engine, plan_file: Path) -> dict[str, Any]:
    """The same night as a Prefect-tracked flow run (`flows.nightly.nightly_follow_up`) against
    a temporary local Prefect server (the test harness, with its own PREFECT_HOME and
    database). The server's start-up is reported apart; "seconds" is the flow call alone.
    The flow reads the wall clock for `now`; here it reads NOW, as the other variants do."""
    data_dir = Path(tempfile.mkdtemp(prefix="bench-nightly-"))
    prefect_home = Path(tempfile.mkdtemp(prefix="bench-prefect-home-"))
    try:
        plan_id = _prepare_founding(engine, plan_file, data_dir)
        url = engine.url.render_as_string(hide_password=False)
        engine.dispose()
        env = _founding_env(url, data_dir)
        for name in [k for k in os.environ if k not in env]:  # the caller's PLAN_TRACKER_*, PREFECT_API_URL
            del os.environ[name]
        os.environ.update(env, PREFECT_HOME=str(prefect_home))
        from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
        from prefect.testing.utilities import prefect_test_harness

        import plan_tracker.flows.nightly as flow_module
        from plan_tracker.settings import get_settings
        from plan_tracker.store.db import engine_for

        get_settings.cache_clear()
        engine_for.cache_clear()
        flow_module.now_utc = lambda: NOW  # type: ignore[assignment]  # the bench's fixed clock
        server_started = time.perf_counter()
        with prefect_test_harness(server_startup_timeout=120), \
                temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            server_seconds = time.perf_counter() - server_started
            started = time.perf_counter()
            result = flow_module.nightly_follow_up(plan_id=plan_id, as_of=FOUNDING_NIGHT)
            seconds = time.perf_counter() - started
        return {"seconds": round(seconds, 3), "server_start_seconds": round(server_seconds, 3),
                "plan": plan_id, "as_of": FOUNDING_NIGHT.isoformat(),
                "raised": result[0]["reminders"]["raised"], "messages": result[0]["delivery"]["messages"]}
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
        shutil.rmtree(prefect_home, ignore_errors=True)


def step_history(engine: Engine, plan_file: Path) -> dict[str, Any]:
    """A plan adjustment from the day after the night (every obligation of one recurring task
    gets a later deadline, a version in force from AS_OF + 1), then that earlier night re-run:
    its evaluation now reads the obligations' terms as of then (the term history), not the rows
    as they stand. "seconds" is the re-run night; the version's apply is timed beside it."""
    import re

    from plan_tracker.services.nightly import evaluate
    from plan_tracker.services.plans import apply_plan

    edited = plan_file.with_name(f"{plan_file.stem}-adjusted.yaml")
    edited.write_text(re.sub(r"due_after: 3", "due_after: 4", plan_file.read_text(encoding="utf-8"), count=1),
                      encoding="utf-8")
    started = time.perf_counter()
    changed = apply_plan(engine, edited, effective=AS_OF + dt.timedelta(days=1), actor="bench", source="bench")
    applied = time.perf_counter() - started
    started = time.perf_counter()
    summary = evaluate(engine, plan_file.stem, AS_OF, now=NOW)
    return {"seconds": round(time.perf_counter() - started, 3), "apply_version_seconds": round(applied, 3),
            "obligations_changed": changed.obligations_changed, "lights": summary.lights}


STEPS = {name.removeprefix("step_"): fn for name, fn in globals().items() if name.startswith("step_")}


def main() -> None:
    step, url, plan_file = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    compile_package()  # as an installed wheel has it (bench.bytecode)
    engine = _engine(url)
    started = time.perf_counter()
    extra = STEPS[step](engine, plan_file)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # the largest process the step started (a split delivery's other processes), apart
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"step": step, "seconds": round(seconds, 3), "peak_mib": round(peak, 1),
                      "child_peak_mib": round(child, 1), **extra}, default=str))
    # a step may report its own "seconds" (excluding its set-up), which wins over the total


if __name__ == "__main__":
    main()

"""One measured step per process, so peak memory (ru_maxrss) belongs to that step alone.

`python -m bench.steps STEP URL PLAN_FILE` prints one JSON line:
{"step", "seconds", "peak_mib", ...extra figures}.
"""

from __future__ import annotations

import datetime as dt
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select, text

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
    """A realistic night: the previous working night has run (untimed), then AS_OF's run."""
    from plan_tracker.services.nightly import evaluate

    first = time.perf_counter()
    evaluate(engine, plan_file.stem, AS_OF - dt.timedelta(days=3), now=NOW)  # Friday 2018-06-29
    first_night = time.perf_counter() - first
    started = time.perf_counter()
    summary = evaluate(engine, plan_file.stem, AS_OF, now=NOW)
    return {"seconds": round(time.perf_counter() - started, 3), "first_night_seconds": round(first_night, 3),
            "lights": summary.lights, "raised": summary.raised, "skipped": summary.skipped}


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
    from plan_tracker.services.delivery import deliver
    from plan_tracker.settings import Settings

    settings = Settings(data_dir=plan_file.parent / "var")
    summary = deliver(engine, plan_file.stem, now=NOW, as_of=AS_OF, settings=settings)
    return {"messages": summary.messages_sent, "deliveries": summary.deliveries_sent}


def step_report(engine: Engine, plan_file: Path) -> dict[str, Any]:
    try:
        from plan_tracker.reports import build_report, render_html  # type: ignore[attr-defined]
    except ImportError:
        return {"skipped": "reports package not available"}
    report = build_report(engine, plan_file.stem, AS_OF)
    html = render_html(report)
    return {"html_bytes": len(html)}


STEPS = {name.removeprefix("step_"): fn for name, fn in globals().items() if name.startswith("step_")}


def main() -> None:
    step, url, plan_file = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    engine = _engine(url)
    started = time.perf_counter()
    extra = STEPS[step](engine, plan_file)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"step": step, "seconds": round(seconds, 3), "peak_mib": round(peak, 1), **extra}, default=str))
    # a step may report its own "seconds" (excluding its set-up), which wins over the total


if __name__ == "__main__":
    main()

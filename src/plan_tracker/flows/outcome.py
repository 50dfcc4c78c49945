"""What a flow run shows in Prefect: the night's artifacts and its final state.

Each plan's night publishes two artifacts keyed by plan (`nightly-<plan>`, `overdue-<plan>`,
so the Artifacts page keeps one history per plan): a Markdown summary (lights, reminders
raised, delivered, failed, dead, waiting) and a table of the overdue list. A run whose
deliveries failed ends `Failed` named `Undelivered`, with the counts in its message, after
it has recorded everything it did (the store's `nightly_run`, the artifacts): green in
Prefect means the messages went out (README "Scheduling").
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Engine, select

UNDELIVERED = "Undelivered"  # the Failed state's name when deliveries failed or died
SKIPPED = "Skipped"  # the Completed state's name when office-hours delivery had nothing to do
OVERDUE_ROWS = 200  # the table artifact lists the longest overdue first, at most this many


def artifact_key(prefix: str, plan_id: str) -> str:
    """Prefect keys allow lowercase letters, digits and dashes only."""
    return f"{prefix}-" + re.sub(r"[^a-z0-9]+", "-", plan_id.lower()).strip("-")


def delivery_counts(result: dict[str, Any]) -> dict[str, int]:
    """delivered / failed / dead / waiting from a night's summary or a delivery result."""
    d = result.get("delivery") or result
    return {"delivered": int(d.get("delivered") or 0), "failed": int(d.get("failed") or 0),
            "dead": int(d.get("dead") or 0),
            "waiting": int(d.get("waiting_for_window", d.get("waiting")) or 0)}


def undelivered(result: dict[str, Any]) -> int:
    counts = delivery_counts(result)
    return counts["failed"] + counts["dead"]


def night_markdown(summary: dict[str, Any]) -> str:
    counts = delivery_counts(summary)
    lights = ", ".join(f"{k} {v}" for k, v in sorted(summary.get("lights", {}).items())) or "none"
    rem = summary.get("reminders", {})
    verdict = (f"**{undelivered(summary)} deliveries did not go out** (failed ones are retried; dead ones need "
               "`plan-tracker doctor` for the fix)" if undelivered(summary) else "every due delivery went out or waits "
               "for the delivery window")
    return "\n".join([
        f"# Night of {summary['as_of']} — plan `{summary['plan']}`", "",
        "| figure | value |", "| --- | --- |",
        f"| lights | {lights} |",
        f"| reminders raised | {rem.get('raised', 0)} (skipped {rem.get('skipped', 0)}, undeliverable "
        f"{rem.get('undeliverable', 0)}, already raised {rem.get('already_raised', 0)}) |",
        f"| delivered | {counts['delivered']} |", f"| failed (retried) | {counts['failed']} |",
        f"| dead | {counts['dead']} |", f"| waiting for the delivery window | {counts['waiting']} |",
        f"| status reports known | {summary.get('reports_known', 0)} |", "", verdict, ""])


def overdue_rows(engine: Engine, plan_id: str, limit: int = OVERDUE_ROWS) -> list[dict[str, Any]]:
    """The plan's red items as the night left them, longest overdue first."""
    from plan_tracker.store.models import Obligation

    o = Obligation.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        rows = conn.execute(
            select(o.c.task_id, o.c.unit_id, o.c.period, o.c.due, o.c.overdue_wd)
            .where(o.c.plan_id == plan_id, o.c.active, o.c.light == "red")
            .order_by(o.c.overdue_wd.desc(), o.c.due, o.c.task_id, o.c.unit_id, o.c.period).limit(limit)).all()
    return [{"task": t, "unit": u, "period": p, "due": str(due), "overdue_wd": int(wd)} for t, u, p, due, wd in rows]


def publish_night(engine: Engine, summary: dict[str, Any]) -> None:
    """The two artifacts of one plan's night (inside a flow run; outside one Prefect keeps
    nothing, which is what the CLI without a server wants)."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    plan_id = summary["plan"]
    create_markdown_artifact(night_markdown(summary), key=artifact_key("nightly", plan_id),
                             description=f"plan {plan_id}, night of {summary['as_of']}")
    rows = overdue_rows(engine, plan_id)
    create_table_artifact(rows or [{"task": "", "unit": "", "period": "", "due": "", "overdue_wd": 0}],
                          key=artifact_key("overdue", plan_id),
                          description=f"plan {plan_id}, overdue as of {summary['as_of']}: {len(rows)} listed "
                                      f"(longest first, at most {OVERDUE_ROWS})")


def final_state(results: list[dict[str, Any]], what: str) -> Any:
    """The flow's return: its results, or a `Failed`/`Undelivered` state carrying them when
    any delivery failed or died (the run still did and recorded everything else)."""
    from prefect.states import Completed, Failed

    bad = [r for r in results if undelivered(r)]
    if not bad:
        if results and all(r.get("skipped") for r in results):
            return Completed(name=SKIPPED, message="; ".join(str(r["skipped"]) for r in results), data=results)
        return results
    parts = [f"plan {r['plan']}: failed {delivery_counts(r)['failed']}, dead {delivery_counts(r)['dead']}, "
             f"delivered {delivery_counts(r)['delivered']}, waiting {delivery_counts(r)['waiting']}" for r in bad]
    return Failed(name=UNDELIVERED, message=f"{what}: deliveries did not go out — " + "; ".join(parts), data=results)

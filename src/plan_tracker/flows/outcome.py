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

from plan_tracker.domain.messages import msg, word
from plan_tracker.domain.vocabulary import light_word
from plan_tracker.wording import DEFAULT_LOCALE

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


def night_markdown(summary: dict[str, Any], locale: str = DEFAULT_LOCALE) -> str:
    """The night's figures as a Markdown table in the plan's language (the operator reads it
    on Prefect's Artifacts page)."""
    counts = delivery_counts(summary)
    shown = [msg("out.night_light", word=light_word(k, locale), count=v) for k, v in sorted(summary.get("lights", {}).items())]
    rem = summary.get("reminders", {})
    bad = undelivered(summary)
    verdict = word("prefect.verdict_bad", locale, count=bad) if bad else word("prefect.verdict_good", locale)
    return "\n".join([
        word("prefect.night_title", locale, day=summary["as_of"], plan=summary["plan"]), "",
        word("prefect.table_head", locale), "| --- | --- |",
        word("prefect.row_lights", locale, lights=shown or word("prefect.no_lights", locale)),
        word("prefect.row_reminders", locale, raised=rem.get("raised", 0), skipped=rem.get("skipped", 0),
             undeliverable=rem.get("undeliverable", 0), already=rem.get("already_raised", 0)),
        word("prefect.row_delivered", locale, count=counts["delivered"]),
        word("prefect.row_failed", locale, count=counts["failed"]),
        word("prefect.row_dead", locale, count=counts["dead"]),
        word("prefect.row_waiting", locale, count=counts["waiting"]),
        word("prefect.row_reports", locale, count=summary.get("reports_known", 0)), "", verdict, ""])


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


def publish_night(engine: Engine, summary: dict[str, Any], locale: str = DEFAULT_LOCALE) -> None:
    """The two artifacts of one plan's night (inside a flow run; outside one Prefect keeps
    nothing, which is what the CLI without a server wants)."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    plan_id = summary["plan"]
    create_markdown_artifact(night_markdown(summary, locale), key=artifact_key("nightly", plan_id),
                             description=word("prefect.night_about", locale, plan=plan_id, day=summary["as_of"]))
    rows = overdue_rows(engine, plan_id)
    create_table_artifact(rows or [{"task": "", "unit": "", "period": "", "due": "", "overdue_wd": 0}],
                          key=artifact_key("overdue", plan_id),
                          description=word("prefect.overdue_about", locale, plan=plan_id, day=summary["as_of"],
                                           count=len(rows), limit=OVERDUE_ROWS))


def final_state(results: list[dict[str, Any]], what: str, locale: str = DEFAULT_LOCALE) -> Any:
    """The flow's return: its results, or a `Failed`/`Undelivered` state carrying them when
    any delivery failed or died (the run still did and recorded everything else); its
    message in `locale` (the plans' language)."""
    from prefect.states import Completed, Failed

    bad = [r for r in results if undelivered(r)]
    if not bad:
        if results and all(r.get("skipped") for r in results):
            return Completed(name=SKIPPED, message="; ".join(str(r["skipped"]) for r in results), data=results)
        return results
    parts = [word("prefect.undelivered_plan", locale, plan=r["plan"], **delivery_counts(r)) for r in bad]
    joined = ("；" if locale == "zh" else "; ").join(parts)
    return Failed(name=UNDELIVERED, message=word("prefect.undelivered", locale, what=what, parts=joined), data=results)

"""`make demo`: the founding plan, end to end, on the embedded SQLite store.

Applies the founding plan shipped in the package (plan_tracker/examples/plans/
jingzhou-2018.yaml), records a deterministic set of demo status reports (most on time,
some late, some never), runs the nightly follow-up for every working day of 2018 as if at
09:00 local time, and prints where the outputs are.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import shutil
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress

console = Console()


def demo_reports(plan: Any, calendar: Any, seed: int = 2018) -> list[Any]:
    """Deterministic reports: ~55% done on time, 20% late, 10% in progress, 15% silent."""
    from plan_tracker.domain.obligations import expand
    from plan_tracker.services.submissions import Submission

    rng = random.Random(seed)  # noqa: S311 - deterministic demo data, not security
    indicators = {t.id: t.indicators for _, t in plan.tasks()}
    reports = []
    for ob in expand(plan, calendar):
        roll = rng.random()
        values = {i.id: round((i.target or 10) * rng.uniform(0.6, 1.3), 1) for i in indicators[ob.task]}
        if roll < 0.55:
            day = max(ob.period_start, ob.due - dt.timedelta(days=rng.randint(0, 12)))
            reports.append(Submission(plan.id, ob.task, ob.unit, ob.period, "in_progress",
                                      max(ob.period_start, day - dt.timedelta(days=20)), 50, "按计划推进"))
            reports.append(Submission(plan.id, ob.task, ob.unit, ob.period, "done", day, 100,
                                      "已完成，材料已归档", "https://oa.example.org/evidence/" + ob.task, values))
        elif roll < 0.75:
            day = ob.due + dt.timedelta(days=rng.randint(3, 25))
            reports.append(Submission(plan.id, ob.task, ob.unit, ob.period, "done", day, 100, "逾期完成", None, values))
        elif roll < 0.85:
            day = max(ob.period_start, ob.due - dt.timedelta(days=5))
            reports.append(Submission(plan.id, ob.task, ob.unit, ob.period, "in_progress", day, 40, "正在推进"))
    return reports


ADJUSTED_ON = dt.date(2018, 7, 2)  # the leading group's mid-year adjustment (计划调整) is in force from here

# What a coordinator edits in the plan file for the mid-year adjustment: a renamed task (its
# history kept), a task withdrawn with the reason (撤销), and a moved deadline.
MID_YEAR_ADJUSTMENT = (
    ("      - id: decision.info-disclosure\n",
     "      - id: decision.open-government\n        renamed_from: decision.info-disclosure\n"),
    ("        support: [legal-office]\n        due: 2018-08-31\n",
     "        support: [legal-office]\n        due: 2018-08-31\n"
     "        cancelled: {on: 2018-07-02, reason: 裁量基准已由市政府统一修订发布，本级不再单独修订}\n"),
    ("        support: [legal-office]\n        due: 2018-07-31\n",
     "        support: [legal-office]\n        due: 2018-09-28           # 计划调整：延至三季度末\n"),
)


def adjusted_plan(source: Path, out: Path) -> Path:
    """The founding plan with the mid-year adjustment, written next to the demo's store."""
    text = source.read_text(encoding="utf-8")
    for old, new in MID_YEAR_ADJUSTMENT:
        if text.count(old) != 1:
            raise SystemExit(f"the demo's mid-year adjustment no longer matches {source}: {old!r}")
        text = text.replace(old, new)
    text = text.replace("units_file: ../units/", f"units_file: {(source.parent.parent / 'units').resolve()}/")
    out.write_text(text, encoding="utf-8")
    return out


class MessageTally:
    """Wraps each channel the nights build and counts its messages per recipient and night,
    so the demo can print the cadence it achieved (max messages per recipient per day/week)."""

    def __init__(self) -> None:
        from collections import Counter

        self.night: dt.date | None = None
        self.per_day: Counter[tuple[str, dt.date]] = Counter()

    def factory(self, kind: str, options: dict[str, Any]) -> Any:
        from plan_tracker.channels import build_channel

        inner, tally = build_channel(kind, **options), self

        class Counted:
            name = inner.name

            def send(self, message: Any) -> Any:
                receipt = inner.send(message)
                assert tally.night is not None
                tally.per_day[(message.address, tally.night)] += 1
                return receipt

        return Counted()

    def lines(self, leading_group: set[str]) -> list[str]:
        from collections import Counter

        per_week: Counter[tuple[str, tuple[int, int]]] = Counter()
        for (address, day), n in self.per_day.items():
            per_week[(address, day.isocalendar()[:2])] += n
        out = []
        for title, wanted in (("every recipient", None), ("leading group", leading_group)):
            days = [n for (a, _), n in self.per_day.items() if wanted is None or a in wanted]
            weeks = [n for (a, _), n in per_week.items() if wanted is None or a in wanted]
            if days:
                out.append(f"messages per recipient, {title}: max {max(days)}/day, max {max(weeks)}/week "
                           f"({sum(days)} messages to {len({a for (a, _) in self.per_day if wanted is None or a in wanted})} "
                           "recipients, weekly reports included)")
        return out


def run(folder: Path, first: dt.date, last: dt.date) -> None:
    import os

    from plan_tracker.domain.calendar import WorkCalendar
    from plan_tracker.inbox.demo import reply_round_trip
    from plan_tracker.night import run_nightly
    from plan_tracker.planfile import load_plan
    from plan_tracker.resources import example_plan_path
    from plan_tracker.services.plans import apply_plan
    from plan_tracker.services.status import status_rows
    from plan_tracker.services.submissions import record_report
    from plan_tracker.settings import Settings
    from plan_tracker.store.db import engine_for

    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    url = os.environ.get("PLAN_TRACKER_DATABASE_URL") or f"sqlite:///{(folder / 'plan-tracker.sqlite3').resolve()}"
    settings = Settings(data_dir=folder, database_url=url, reply_address="duban-reply@demo.example")
    engine = engine_for(url)
    started = time.monotonic()
    plan_file = example_plan_path("jingzhou-2018")
    result = apply_plan(engine, plan_file, actor="demo", source="demo")
    console.print(f"applied [bold]{result.plan_id}[/] version {result.version}: {result.obligations_total} obligations")
    plan = load_plan(plan_file)
    calendar = WorkCalendar(plan.plan.calendar)
    reports = demo_reports(plan, calendar)
    with engine.begin() as conn:
        for s in reports:
            record_report(conn, s, today=dt.date(2019, 3, 31), actor=s.unit, source="demo")
    console.print(f"recorded {len(reports)} demo status reports")
    nights = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    nights = [d for d in nights if calendar.is_working_day(d)]
    shanghai = dt.timezone(dt.timedelta(hours=8))
    totals = {"raised": 0, "messages": 0}
    adjusted = None
    tally = MessageTally()
    with Progress(console=console, transient=True) as progress:
        bar = progress.add_task("nightly runs", total=len(nights))
        for day in nights:
            if adjusted is None and day >= ADJUSTED_ON:
                progress.stop()
                adjusted = apply_plan(engine, adjusted_plan(plan_file, folder / "jingzhou-2018-adjusted.yaml"),
                                      effective=ADJUSTED_ON, actor="demo", source="demo")
                _print_adjustment(adjusted)
                progress.start()
            morning = dt.datetime.combine(day, dt.time(9, 0), tzinfo=shanghai)
            tally.night = day
            summary = run_nightly(engine, plan.id, day, now=morning, settings=settings, factory=tally.factory)
            totals["raised"] += summary.evaluation.raised
            totals["messages"] += summary.delivery.messages_sent
            progress.advance(bar)
    mid = status_rows(engine, plan.id, dt.date(2018, 6, 30))
    lights: dict[str, int] = {}
    for row in mid:
        lights[row.light] = lights.get(row.light, 0) + 1
    outbox = settings.folder("outbox")
    console.print(f"ran {len(nights)} nightly runs ({first} … {last}) in {time.monotonic() - started:.1f} s")
    console.print(f"lights on 2018-06-30: {dict(sorted(lights.items()))}")
    console.print(f"reminder messages delivered: {totals['messages']} → [bold]{outbox}[/] "
                  f"({len(list(outbox.glob('*.eml')))} .eml files, weekly reports to managers included)")
    group = plan.leading_group
    leading = {a for a in ([group.email] if group and group.email else []) + [p.email or "" for p in (group.recipients if group else [])] if a}
    for line in tally.lines(leading):
        console.print(line)
    last_morning = dt.datetime.combine(nights[-1], dt.time(10, 0), tzinfo=shanghai)
    for line in reply_round_trip(engine, settings, outbox=outbox, maildir=folder / "maildir", now=last_morning):
        console.print(line, markup=False, highlight=False)
    reports_dir = settings.folder("reports")
    if reports_dir.exists():
        console.print(f"report files: [bold]{reports_dir}[/]")
    console.print(f"store: [bold]{url}[/]")
    console.print(f"try: PLAN_TRACKER_DATABASE_URL={url} .venv/bin/plan-tracker status --plan {plan.id} --as-of 2018-06-30")


def _print_adjustment(result: Any) -> None:
    console.print(f"mid-year adjustment: version {result.version} in force from {result.effective}")
    for old, new in result.renamed_tasks.items():
        kept = result.history_kept.get(f"task {old} → {new}", {})
        console.print(f"  task {old} → {new} (history kept: {kept.get('reports', 0)} reports, "
                      f"{kept.get('reminders', 0)} reminders)", markup=False)
    for task, count in result.dates_moved.items():
        console.print(f"  task {task}: due dates of {count} obligations moved (计划调整)", markup=False)
    for what, info in result.cancelled.items():
        console.print(f"  {what} cancelled (撤销) from {info['on']}: {info['obligations']} obligations, "
                      f"reason: {info['reason']}", markup=False)
    for warning in result.warnings:
        console.print(f"  ! {warning}", markup=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", type=Path, default=Path("var/demo"))
    parser.add_argument("--from", dest="first", type=dt.date.fromisoformat, default=dt.date(2018, 1, 2))
    parser.add_argument("--to", dest="last", type=dt.date.fromisoformat, default=dt.date(2018, 12, 28))
    args = parser.parse_args()
    run(args.dir, args.first, args.last)


if __name__ == "__main__":
    main()

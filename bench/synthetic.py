"""Synthetic plans of a given size, with a realistic mix of done, late and missing reports."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import yaml

# The bench plans' escalation ladder (bench.province uses it too).
LADDER = [
    {"after": -3, "level": "remind", "notify": ["contact"]},
    {"after": 1, "level": "urge", "notify": ["contact", "head"]},
    {"after": 5, "level": "supervise", "notify": ["head", "coordinator"]},
    {"after": 10, "level": "accountability", "notify": ["leading_group"], "repeat_every": 5},
]
RECURRENCES = [("week", 52), ("month", 12), ("quarter", 4), ("half_year", 2), ("year", 1)]


def shape(obligations: int) -> tuple[int, list[tuple[str, int]]]:
    """(units, tasks) so that units × Σ periods ≈ obligations: one task of each recurrence
    (71 periods per unit) plus one-off tasks, scaling the number of units."""
    per_unit = sum(n for _, n in RECURRENCES) + 4  # + four one-off tasks
    units = max(1, round(obligations / per_unit))
    return units, RECURRENCES


def write_plan(folder: Path, obligations: int, plan_id: str | None = None) -> Path:
    units, recurrences = shape(obligations)
    plan_id = plan_id or f"bench-{obligations}"
    unit_rows = [
        {"id": f"u{i:06d}", "name": f"单位{i}", "groups": ["all"],
         "contact": {"name": f"联络员{i}", "email": f"u{i}@example.org"},
         "head": {"name": f"负责人{i}", "email": f"h{i}@example.org"}}
        for i in range(units)
    ]
    unit_rows[0]["groups"].append("coordination")
    tasks = [{"id": f"t.{every.replace('_', '-')}", "title": f"{every} 报送", "lead": "group:all", "every": every, "due_after": 3}
             for every, _ in recurrences]
    tasks += [{"id": f"t.once{i}", "title": f"专项任务{i}", "lead": "group:all", "due": dt.date(2018, 3 * i + 2, 28)}
              for i in range(4)]
    doc = {
        "version": 1,
        "plan": {"id": plan_id, "title": "基准测试计划", "coordinator": "u000000",
                 "start": dt.date(2018, 1, 1), "end": dt.date(2018, 12, 31), "warn_days": 3},
        "leading_group": {"name": "领导小组", "email": "lg@example.org"},
        "units_file": "units.yaml",
        "escalation": LADDER,
        "sections": [{"id": "s", "title": "基准", "tasks": tasks}],
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "units.yaml").write_text(yaml.safe_dump({"units": unit_rows}, allow_unicode=True), encoding="utf-8")
    path = folder / f"{plan_id}.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def report_rows(obligations: list[tuple[int, dt.date, dt.date]], seed: int = 7) -> list[dict[str, object]]:
    """Rows for status_report: ~60% done on time, 15% late, 10% in progress, 15% missing."""
    rng = random.Random(seed)
    now = dt.datetime(2019, 1, 1, tzinfo=dt.UTC)
    rows: list[dict[str, object]] = []
    for oid, start, due in obligations:
        roll = rng.random()
        if roll < 0.60:
            day, status = max(start, due - dt.timedelta(days=rng.randint(0, 5))), "done"
        elif roll < 0.75:
            day, status = due + dt.timedelta(days=rng.randint(1, 20)), "done"
        elif roll < 0.85:
            day, status = max(start, due - dt.timedelta(days=3)), "in_progress"
        else:
            continue
        rows.append({"obligation_id": oid, "status": status, "progress": 100 if status == "done" else 50,
                     "reported_on": day, "received_on": day, "received_at": now, "source": "bench", "actor": "bench",
                     "indicator_values": {}})
    return rows

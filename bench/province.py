"""A province's first night (issue 17's shape): 500 units × 17 monthly tasks ≈ 102,000
obligations, nobody has reported, the plan's first `plan-tracker nightly` as of 2018-07-20.

    python -m bench.province URL            # one JSON line: the whole process, timed

The night is timed as a user runs it: a new `plan-tracker nightly` process (interpreter
start and imports included), stages in-process (no Prefect server), delivery to the file
outbox. `apply` is set-up, untimed here (the `apply` step of `make bench` times it).
With BENCH_PROFILE=FILE the night runs under cProfile and the stats go to FILE.
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

import yaml

from bench import settle_writes
from bench.bytecode import compile_package
from bench.synthetic import LADDER

UNITS, TASKS = 500, 17
TUNING = ("PLAN_TRACKER_EVALUATION_WORKERS", "PLAN_TRACKER_DELIVERY_WORKERS")  # passed on to the night
FIRST_NIGHT = dt.date(2018, 7, 20)
NOW = dt.datetime(2018, 7, 20, 1, 0, tzinfo=dt.UTC)  # 09:00 in Shanghai: inside the delivery window


def write_province_plan(folder: Path, plan_id: str = "province-2018") -> Path:
    units = [{"id": f"county-{i:03d}", "name": f"县{i}", "groups": ["counties"],
              "contact": {"name": f"联络员{i}", "email": f"c{i}@example.org"},
              "head": {"name": f"负责人{i}", "email": f"h{i}@example.org"}}
             for i in range(UNITS)]
    doc = {
        "version": 1,
        "plan": {"id": plan_id, "title": "省级月度工作台账", "coordinator": "county-000",
                 "start": "2018-01-01", "end": "2018-12-31", "warn_days": 3},
        "leading_group": {"name": "领导小组", "email": "lg@example.org"},
        "units_file": "units.yaml",
        "escalation": LADDER,
        "sections": [{"id": "monthly", "title": "月度任务", "tasks": [
            {"id": f"m{t:02d}", "title": f"月度任务{t}", "lead": "group:counties", "every": "month",
             "due_after": 5 + t % 10}
            for t in range(TASKS)]}],
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "units.yaml").write_text(yaml.safe_dump({"units": units}, allow_unicode=True), encoding="utf-8")
    path = folder / f"{plan_id}.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _cli() -> str:
    script = Path(sys.executable).parent / "plan-tracker"
    return str(script) if script.exists() else shutil.which("plan-tracker") or "plan-tracker"


def first_night(url: str) -> dict[str, Any]:
    from plan_tracker.services.plans import apply_plan
    from plan_tracker.store.db import make_engine, migrate

    compile_package()  # the night's processes import it as an installed wheel would (bench.bytecode)
    folder = Path(tempfile.mkdtemp(prefix="bench-province-"))
    try:
        plan_file = write_province_plan(folder / "plan")
        engine = make_engine(url)
        migrate(engine)
        applied = apply_plan(engine, plan_file, actor="bench", source="bench")
        engine.dispose()
        settle_writes()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PLAN_TRACKER_", "PREFECT_API_URL"))}
        env.update(PLAN_TRACKER_DATABASE_URL=url, PLAN_TRACKER_DATA_DIR=str(folder / "data"))
        for tuning in TUNING:  # compared side by side: `PLAN_TRACKER_EVALUATION_WORKERS=1 python -m bench.province`
            if tuning in os.environ:
                env[tuning] = os.environ[tuning]
        night = [_cli(), "nightly", "--plan", plan_file.stem, "--as-of", FIRST_NIGHT.isoformat(), "--now", NOW.isoformat()]
        profile = os.environ.get("BENCH_PROFILE")
        if profile:
            night = [sys.executable, "-m", "cProfile", "-o", profile, *night]
        started = time.perf_counter()
        out = subprocess.run(night, env=env, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - started
        if out.returncode != 0:
            raise RuntimeError(f"plan-tracker nightly exited {out.returncode}: {out.stderr.strip()[-500:]}")
        outbox = folder / "data" / "outbox"
        return {"step": "first_night_cli", "seconds": round(seconds, 3), "obligations": applied.obligations_total,
                "messages": len(list(outbox.glob("*.eml"))) if outbox.exists() else 0,
                "peak_mib": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
                "stage_seconds": _stage_seconds(engine),
                "summary": [line.strip() for line in out.stdout.splitlines()[:8]]}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _stage_seconds(engine: Any) -> dict[str, float]:
    """Where the night's time went, as the night recorded it (`NightlySummary.stage_seconds`);
    the rest of `seconds` is the process starting and importing."""
    from sqlalchemy import select

    from plan_tracker.store.outbox_models import NightlyRun

    table = NightlyRun.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        summary = conn.execute(select(table.c.summary).order_by(table.c.id.desc()).limit(1)).scalar_one()
    engine.dispose()
    return dict(summary.get("stage_seconds", {}))


if __name__ == "__main__":
    print(json.dumps(first_night(sys.argv[1]), ensure_ascii=False))

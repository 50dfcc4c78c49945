"""`make bench`: sizes × backends, each step in its own process; prints targets and ratios.

    python -m bench [--sizes 1000,10000,100000,1000000] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from bench.synthetic import write_plan

PG_ADMIN = os.environ.get("PLAN_TRACKER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
STEPS = ["apply", "reapply", "reports", "evaluate", "limit", "deliver", "report"]


def run_step(step: str, url: str, plan_file: Path) -> dict[str, Any]:
    name = "apply" if step == "reapply" else step
    out = subprocess.run([sys.executable, "-m", "bench.steps", name, url, str(plan_file)],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return {"step": step, "error": out.stderr.strip().splitlines()[-1:]}
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result["step"] = step
    return result


def _naive(url: str, plan_id: str) -> dict[str, Any]:
    """One Prefect task per obligation (the design we avoid), timed at this size only."""
    out = subprocess.run([sys.executable, "-m", "bench.naive", url, plan_id], capture_output=True, text=True, check=False)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {"step": "naive", "error": out.stderr.strip().splitlines()[-1:]}


def database(backend: str, folder: Path) -> tuple[str, Any]:
    if backend == "sqlite":
        return f"sqlite:///{folder / 'bench.sqlite3'}", lambda: None
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"pt_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", drop


def bench(size: int, backend: str, *, naive: bool = False, steps: list[str] | None = None) -> list[dict[str, Any]]:
    folder = Path(tempfile.mkdtemp(prefix=f"bench-{size}-"))
    url, drop = database(backend, folder)
    try:
        plan_file = write_plan(folder, size)
        rows = []
        for step in steps or STEPS:
            row = run_step(step, url, plan_file)
            row.update(size=size, backend=backend)
            rows.append(row)
            print(json.dumps(row, ensure_ascii=False, default=str), flush=True)
        if naive:
            row = _naive(url, plan_file.stem)
            row.update(size=size, backend=backend)
            rows.append(row)
            print(json.dumps(row, ensure_ascii=False, default=str), flush=True)
        return rows
    finally:
        drop()
        shutil.rmtree(folder, ignore_errors=True)


TARGETS = [
    # (description, size, backend, check)
    ("nightly evaluation of 1M on SQLite <= 10 s", 1_000_000, "sqlite", lambda r: r["evaluate"]["seconds"] <= 10),
    ("evaluation <= 2x hand-tuned SQL (SQLite, 1M)", 1_000_000, "sqlite",
     lambda r: r["evaluate"]["seconds"] <= 2 * r["limit"]["seconds"]),
    ("nightly evaluation of 1M on PostgreSQL <= 30 s", 1_000_000, "postgresql", lambda r: r["evaluate"]["seconds"] <= 30),
    ("peak memory of the 1M evaluation <= 500 MiB", 1_000_000, "sqlite", lambda r: r["evaluate"]["peak_mib"] <= 500),
    ("plan apply of 1M <= 60 s", 1_000_000, "sqlite", lambda r: r["apply"]["seconds"] <= 60),
    ("re-apply unchanged 1M <= 10 s", 1_000_000, "sqlite", lambda r: r["reapply"]["seconds"] <= 10),
    ("report for 1M <= 10 s", 1_000_000, "sqlite", lambda r: r["report"].get("seconds", 1e9) <= 10),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--steps", default=None, help=f"comma-separated subset of {','.join(STEPS)}")
    parser.add_argument("--no-naive", action="store_true", help="skip the one-task-per-obligation baseline")
    parser.add_argument("--out", type=Path, default=Path("var/bench/results.json"))
    args = parser.parse_args()
    results: dict[tuple[int, str], dict[str, Any]] = {}
    sizes = [int(s) for s in args.sizes.split(",")]
    for size in sizes:
        for backend in args.backends.split(","):
            naive = size == min(sizes) and backend == "sqlite" and not args.no_naive
            chosen = args.steps.split(",") if args.steps else None
            results[(size, backend)] = {r["step"]: r for r in bench(size, backend, naive=naive, steps=chosen)}
    print("\nratios (ours / hand-tuned limit):")
    for (size, backend), steps in results.items():
        ev, lim = steps.get("evaluate", {}), steps.get("limit", {})
        if "seconds" in ev and lim.get("seconds"):
            print(f"  {backend:10} {size:>9,}: evaluate {ev['seconds']:.2f}s, limit {lim['seconds']:.2f}s, "
                  f"ratio {ev['seconds'] / lim['seconds']:.2f}")
    naive_rows = [s["naive"] for s in results.values() if "per_obligation_ms" in s.get("naive", {})]
    for (size, backend), steps in results.items():
        ev = steps.get("evaluate", {})
        for nv in naive_rows:
            if "seconds" in ev:
                ours = ev["seconds"] / size
                print(f"  naive / ours ({backend}, {size:,}): {nv['per_obligation_ms'] / 1000 / ours:,.0f}x "
                      f"(naive {nv['per_obligation_ms']} ms per obligation, ours {ours * 1e6:.1f} us)")
    print("\ntargets:")
    for text_, size, backend, check in TARGETS:
        steps = results.get((size, backend))
        status = "not run" if steps is None else ("PASS" if _safe(check, steps) else "MISS")
        print(f"  [{status}] {text_}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps([r for s in results.values() for r in s.values()], indent=1, default=str))


def _safe(check: Any, steps: dict[str, Any]) -> bool:
    try:
        return bool(check(steps))
    except (KeyError, TypeError):
        return False


if __name__ == "__main__":
    main()

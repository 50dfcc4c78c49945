"""`make bench`: sizes × backends, each step in its own process; prints targets and ratios.

    python -m bench [--sizes 1000,10000,100000] [--backends sqlite,postgresql]
    python -m bench --sizes 1000000 --no-founding      # `make bench-full`

Each run writes its rows to var/bench/results-<sizes>.json and merges them into
var/bench/results.json (a row replaces an earlier one of the same size, backend and step),
so the figures of `make bench` and `make bench-full` add up to one set; the targets are
checked against that merged set, and `python -m bench.plot` draws it.
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

from bench import settle_writes
from bench.api_load import meets_target, run_api_load
from bench.machine import loop_seconds
from bench.synthetic import write_plan

PG_ADMIN = os.environ.get("PLAN_TRACKER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
STEPS = ["apply", "reapply", "reports", "evaluate", "limit", "deliver", "report", "shards", "history"]
SHARDS = 2  # the "shards" step: the next nights, whole and split over this many processes
# The founding plan's night, once per backend: CLI process, the same stages in-process, and
# the Prefect-tracked flow run (each on a fresh store, see bench.steps).
FOUNDING_STEPS = ["nightly_cli", "nightly_inprocess", "nightly_prefect"]
FOUNDING = "founding"  # the "size" of the founding plan's rows
NAIVE_MAX_SIZE = 10_000  # the one-task-per-obligation baseline is timed on a small size only
PROVINCE = "province"  # the "size" of the province's first night (bench.province, issue 17's shape)
DELIVERY = "delivery"  # the "size" of the delivery throughput rows (bench.delivery, SQLite)
API = "api"  # the "size" of the API load rows (a store of API_STORE obligations)
MACHINE = "machine"  # the "size" of the machine's speed rows (bench.machine), at a run's start and end
API_STORE = 100_000


def run_step(step: str, url: str, plan_file: Path) -> dict[str, Any]:
    name = "apply" if step == "reapply" else step
    command = (["bench.shards", url, str(plan_file), str(SHARDS)] if step == "shards"
               else ["bench.steps", name, url, str(plan_file)])
    settle_writes()  # the previous step's writes, not this one's
    out = subprocess.run([sys.executable, "-m", *command], capture_output=True, text=True, check=False)
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


def founding_night(backend: str) -> list[dict[str, Any]]:
    """The founding plan's night on one backend: each variant on a fresh database."""
    from plan_tracker.resources import example_plan_path

    plan_file = example_plan_path("jingzhou-2018")

    rows = []
    for step in FOUNDING_STEPS:
        folder = Path(tempfile.mkdtemp(prefix="bench-founding-"))
        url, drop = database(backend, folder)
        try:
            row = run_step(step, url, plan_file)
        finally:
            drop()
            shutil.rmtree(folder, ignore_errors=True)
        row.update(size=FOUNDING, backend=backend)
        rows.append(row)
        print(json.dumps(row, ensure_ascii=False, default=str), flush=True)
    return rows


def province_night(backend: str) -> list[dict[str, Any]]:
    """The province's first night (500 units × 17 monthly tasks) on a fresh database."""
    folder = Path(tempfile.mkdtemp(prefix="bench-province-"))
    url, drop = database(backend, folder)
    speed = loop_seconds()  # the machine's speed right before the night (bench.machine)
    try:
        out = subprocess.run([sys.executable, "-m", "bench.province", url], capture_output=True, text=True, check=False)
        row: dict[str, Any] = (json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0
                               else {"step": "first_night_cli", "error": out.stderr.strip().splitlines()[-1:]})
    finally:
        drop()
        shutil.rmtree(folder, ignore_errors=True)
    row.update(size=PROVINCE, backend=backend, machine_loop_seconds=speed)
    print(json.dumps(row, ensure_ascii=False, default=str), flush=True)
    return [row]


def machine_speed(when: str) -> dict[str, Any]:
    """The machine's speed now (`bench.machine`), as a row of its own: `machine_<when>`."""
    row = {"step": f"machine_{when}", "loop_seconds": loop_seconds(), "size": MACHINE, "backend": "-"}
    print(json.dumps(row), flush=True)
    return row


def delivery_throughput() -> list[dict[str, Any]]:
    """Messages per second to the file outbox and to aiosmtpd, and one fsync's cost
    (bench.delivery: the province's first-night messages, SQLite)."""
    out = subprocess.run([sys.executable, "-m", "bench.delivery"], capture_output=True, text=True, check=False)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    rows = [json.loads(line) for line in lines] or [{"step": "deliver_file", "error": out.stderr.strip().splitlines()[-1:]}]
    for row in rows:
        row.update(size=DELIVERY, backend="sqlite")
        print(json.dumps(row, ensure_ascii=False, default=str), flush=True)
    return rows


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


def api_load(backend: str) -> list[dict[str, Any]]:
    """Status submissions through the real API: 32 clients for 10 s against `serve`."""
    folder = Path(tempfile.mkdtemp(prefix="bench-api-"))
    url, drop = database(backend, folder)
    try:
        row = run_api_load(clients=32, seconds=10, size=API_STORE, db_url=url)
    except Exception as exc:  # a failed step is a row with its error, like the others
        row = {"error": [f"{type(exc).__name__}: {exc}"]}
    finally:
        drop()
        shutil.rmtree(folder, ignore_errors=True)
    row.update(step="api", store_size=API_STORE, size=API, backend=backend)
    print(json.dumps(row, ensure_ascii=False, default=str), flush=True)
    return [row]


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
    ("API >= 300 submissions/s with p99 <= 100 ms at 32 clients (SQLite)", API, "sqlite",
     lambda r: meets_target(r["api"])),
    ("nightly on the founding plan <= 5 s (CLI, no Prefect server, SQLite)", FOUNDING, "sqlite",
     lambda r: r["nightly_cli"]["seconds"] <= 5),
    ("nightly on the founding plan <= 5 s (CLI, no Prefect server, PostgreSQL)", FOUNDING, "postgresql",
     lambda r: r["nightly_cli"]["seconds"] <= 5),
    # a first night at 1M: the realistic night's first evaluation (every light new, every due
    # step fires) plus delivering what it raised to the file outbox (21k messages)
    ("first night of 1M with delivery to the file outbox <= 30 s (SQLite)", 1_000_000, "sqlite",
     lambda r: r["evaluate"]["first_night_seconds"] + r["deliver"]["seconds"] <= 30),
    ("first night of 1M with delivery to the file outbox <= 45 s (PostgreSQL)", 1_000_000, "postgresql",
     lambda r: r["evaluate"]["first_night_seconds"] + r["deliver"]["seconds"] <= 45),
    ("a province's first night (102k obligations) <= 4 s, whole `plan-tracker nightly` process (SQLite)",
     PROVINCE, "sqlite", lambda r: r["first_night_cli"]["seconds"] <= 4),
    ("a province's first night (102k obligations) <= 6 s, whole `plan-tracker nightly` process (PostgreSQL)",
     PROVINCE, "postgresql", lambda r: r["first_night_cli"]["seconds"] <= 6),
    # the night's delivery stage: forms attached, split between its processes started ahead
    ("delivery to the file outbox >= 2,000 messages/s (the province's first night, SQLite)",
     DELIVERY, "sqlite", lambda r: r["deliver_file_stage"]["messages_per_s"] >= 2000),
    ("delivery to a local SMTP server (aiosmtpd) >= 300 messages/s (the province's first night, SQLite)",
     DELIVERY, "sqlite", lambda r: r["deliver_smtp_stage"]["messages_per_s"] >= 300),
]


def said_cpu(step: str, versus: dict[str, Any]) -> None:
    """The CPU a message costs in `step` and its limit, and the rates the cores allow at it."""
    if "cpu_ms_per_message" in versus:
        print(f"    CPU a message ({step}): {versus['cpu_ms_per_message']} ms, the limit's "
              f"{versus['limit_cpu_ms_per_message']} ms; {versus['cores']} cores allow at most "
              f"{versus['cores_allow_per_s']}/s and {versus['limit_cores_allow_per_s']}/s")


def merge(path: Path, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`rows` merged into the results file at `path`: a new row replaces the earlier row of
    the same size, backend and step. Returns (and writes) the merged list."""
    def key(row: dict[str, Any]) -> tuple[str, str, str]:
        return str(row.get("size")), str(row.get("backend")), str(row.get("step"))

    earlier: list[dict[str, Any]] = json.loads(path.read_text()) if path.exists() else []
    fresh = {key(r) for r in rows}
    merged = [r for r in earlier if key(r) not in fresh] + rows
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(merged, indent=1, default=str))
    return merged


def by_run(rows: list[dict[str, Any]]) -> dict[tuple[Any, str], dict[str, Any]]:
    """Rows grouped by (size, backend), then by step."""
    found: dict[tuple[Any, str], dict[str, Any]] = {}
    for row in rows:
        found.setdefault((row.get("size"), row.get("backend")), {})[row["step"]] = row
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--steps", default=None, help=f"comma-separated subset of {','.join(STEPS)}")
    parser.add_argument("--no-naive", action="store_true", help="skip the one-task-per-obligation baseline")
    parser.add_argument("--no-founding", action="store_true", help="skip the founding plan's night (CLI and Prefect)")
    parser.add_argument("--no-api", action="store_true", help="skip the API load (32 clients, 10 s per backend)")
    parser.add_argument("--no-province", action="store_true",
                        help="skip the province's first night (102k obligations, the whole CLI process)")
    parser.add_argument("--no-delivery", action="store_true",
                        help="skip delivery throughput (file outbox, aiosmtpd, fsync cost; SQLite)")
    parser.add_argument("--out", type=Path, default=None,
                        help="this run's rows (default var/bench/results-<sizes>.json)")
    parser.add_argument("--merge-into", type=Path, default=Path("var/bench/results.json"),
                        help="the results file this run's rows are merged into")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else []
    backends = args.backends.split(",")
    rows: list[dict[str, Any]] = [machine_speed("start")]
    for size in sizes:
        for backend in backends:
            naive = size == min(sizes) and size <= NAIVE_MAX_SIZE and backend == "sqlite" and not args.no_naive
            chosen = args.steps.split(",") if args.steps else None
            rows += bench(size, backend, naive=naive, steps=chosen)
    if not args.no_founding:
        for backend in backends:
            rows += founding_night(backend)
    if not args.no_province:
        for backend in backends:
            rows += province_night(backend)
    if not args.no_delivery and "sqlite" in backends:
        rows += delivery_throughput()
    if not args.no_api:
        for backend in backends:
            rows += api_load(backend)
    rows.append(machine_speed("end"))
    out = args.out or Path(f"var/bench/results-{'-'.join(str(s) for s in sizes) or FOUNDING}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=1, default=str))
    results = by_run(rows)
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
    for backend in backends:
        night = results.get((FOUNDING, backend), {})
        cli, inproc, tracked = (night.get(s, {}).get("seconds") for s in FOUNDING_STEPS)
        if cli is not None and inproc is not None:
            print(f"\nfounding plan's night ({backend}): `plan-tracker nightly` {cli:.2f}s wall "
                  f"(the stages in-process {inproc:.2f}s)")
        if tracked is not None and inproc is not None:
            print(f"  Prefect-tracked flow run {tracked:.2f}s: overhead {tracked - inproc:+.2f}s over in-process "
                  f"(temporary server start-up {night['nightly_prefect'].get('server_start_seconds')}s, apart)")
    for (size, backend), steps in results.items():
        sh = steps.get("shards", {})
        if "speedup" in sh:
            print(f"  scale-out ({backend}, {size:,}): next night whole {sh['whole_seconds']:.2f}s, the one after "
                  f"in {sh['shards']} shard processes {sh['seconds']:.2f}s (x{sh['speedup']})")
    for backend in backends:
        api = results.get((API, backend), {}).get("api", {})
        if "submissions_per_s" in api:
            print(f"  API ({backend}, 32 clients): {api['submissions_per_s']}/s, p50 {api['p50_ms']} ms, "
                  f"p99 {api['p99_ms']} ms, errors {api['errors']}")
    delivered = results.get((DELIVERY, "sqlite"), {})
    if "fsync" in delivered:
        rates = ", ".join(f"{step} {row['messages_per_s']}/s" for step, row in delivered.items()
                          if "messages_per_s" in row and not step.endswith("_vs_limit"))  # said on its own line
        print(f"  delivery: {rates}; fsync {delivered['fsync']['ms_per_file_serial']} ms per file one by one, "
              f"{delivered['fsync']['ms_per_file_group']} ms per file in a group, creating a file "
              f"{delivered['fsync'].get('ms_per_create', '?')} ms")
    versus = delivered.get("deliver_file_vs_limit", {})
    if "ratio" in versus:
        print(f"  delivery to the file outbox, one process: {versus['messages_per_s']}/s, hand-tuned limit "
              f"{versus['limit_messages_per_s']}/s (x{versus['ratio']}, medians of alternate runs)")
    versus = delivered.get("deliver_file_stage_vs_limit", {})
    if "ratio" in versus:
        print(f"  delivery to the file outbox, the night's stage (two processes, reply forms): {versus['messages_per_s']}/s, "
              f"hand-tuned limit in two processes (no forms) {versus['limit_messages_per_s']}/s (x{versus['ratio']}, "
              f"medians of alternate runs)")
    for step in ("deliver_file_vs_limit", "deliver_file_stage_vs_limit"):
        said_cpu(step, delivered.get(step, {}))
    speeds = results.get((MACHINE, "-"), {})
    if "machine_start" in speeds and "machine_end" in speeds:
        print(f"  machine: a fixed Python loop took {speeds['machine_start']['loop_seconds']} s at the start and "
              f"{speeds['machine_end']['loop_seconds']} s at the end (bench.machine; slower is a slower hour)")
    merged = by_run(merge(args.merge_into, rows))
    print(f"\nrows: {out}; merged into {args.merge_into}")
    print("targets (merged results):")
    for text_, size, backend, check in TARGETS:
        print(f"  [{target_status(check, merged.get((size, backend)))}] {text_}")


def target_status(check: Any, steps: dict[str, Any] | None) -> str:
    """PASS or MISS; "not run" when the results hold no row of a step the target reads (a
    `--steps` run without `reapply` has nothing to say about re-applying)."""
    if steps is None:
        return "not run"
    try:
        return "PASS" if check(steps) else "MISS"
    except KeyError:
        return "not run"
    except TypeError:  # a row without its figure (the step failed): not met
        return "MISS"


if __name__ == "__main__":
    main()

"""A province's first-night evaluation counted in instructions, not seconds (issue 17).

    python -m bench.instructions [--units 500] [--night DATE] [--keep DIR]     # one JSON line

On the shared 2-core machines this project is measured on, the same Python loop took
0.66–1.07 s from one run to the next, and the province's night 6.8–8.8 s: a change worth
5 % cannot be told from noise by timing it, even run alternately a dozen times. Valgrind's
cachegrind counts the instructions a process executes (`--cache-sim=no`: counting only,
about 20× slower than the process alone), the same on every run of the same code and store.
Most of a SQLite evaluation's time is SQLite executing on one core, so its instructions
follow its CPU time; they say nothing of I/O (the WAL's writes, `fsync`) or of a
PostgreSQL server's work, which runs in the server's processes.

The store is `bench.province`'s (UNITS units × 17 monthly tasks, applied, not evaluated);
two processes run under cachegrind at once, each on its own copy: one imports what the
evaluation imports and stops (`baseline`), the other also runs the first night's
evaluation (`services.nightly.evaluate`, as the nightly's evaluate stage does). The row's
`evaluation` is the difference. Compare two commits by running this on each (a worktree,
or `PYTHONPATH=...`); the counts of the same commit agree to within about 0.5 %.

With `--night DATE` (after the first night) the steady night of DATE is counted instead:
both processes evaluate the first night, and the counted one then evaluates DATE too.

SQLite only; needs `valgrind` (Debian's package) on the PATH.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import bench.province as province

PLAN = "province-2018"
MODES = ("baseline", "evaluate")
# cachegrind's summary line on stderr: "==123== I   refs:      22,029,764,352"
_REFS = re.compile(r"^==\d+==\s+I\s+refs:\s+([\d,]+)\s*$", re.MULTILINE)


class NoValgrind(RuntimeError):
    """valgrind is not installed: say how to get it rather than print a count of nothing."""


def instructions_in(report: str) -> int:
    """The instructions a cachegrind run counted, from its summary on stderr."""
    found = _REFS.findall(report)
    if not found:
        raise ValueError("no instruction count in valgrind's output (was it run with --tool=cachegrind?)")
    return int(found[-1].replace(",", ""))


def prepare(folder: Path, units: int) -> tuple[Path, int]:
    """The province's store, applied and not evaluated: the SQLite file and its obligations."""
    from plan_tracker.services.plans import apply_plan
    from plan_tracker.store.db import make_engine, migrate

    province.UNITS = units  # write_province_plan reads it
    plan_file = province.write_province_plan(folder / "plan", PLAN)
    path = folder / "applied.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    applied = apply_plan(engine, plan_file, actor="bench", source="bench")
    engine.dispose()
    return path, applied.obligations_total


def run_child(mode: str, store: Path, night: dt.date = province.FIRST_NIGHT) -> None:
    """What runs under cachegrind: the evaluation's imports and, unless `baseline`, the night.
    For a later `night` both modes evaluate the first night first."""
    from plan_tracker.services.nightly import evaluate
    from plan_tracker.store.db import make_engine

    engine = make_engine(f"sqlite:///{store}")
    if night != province.FIRST_NIGHT:
        evaluate(engine, PLAN, province.FIRST_NIGHT, now=province.NOW)
    if mode == "evaluate":
        evaluate(engine, PLAN, night, now=province.NOW)
    engine.dispose()


def _counted(mode: str, template: Path, folder: Path, night: dt.date) -> subprocess.Popen[str]:
    store = folder / f"{mode}.sqlite3"
    shutil.copy(template, store)
    command = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
               sys.executable, "-m", "bench.instructions", "--child", mode, str(store), "--night", night.isoformat()]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def count(units: int, folder: Path, night: dt.date = province.FIRST_NIGHT) -> dict[str, Any]:
    if shutil.which("valgrind") is None:
        raise NoValgrind("valgrind is not installed (Debian: apt-get install valgrind)")
    if night < province.FIRST_NIGHT:
        raise ValueError(f"--night {night} is before the province's first night ({province.FIRST_NIGHT})")
    template, obligations = prepare(folder, units)
    running = {mode: _counted(mode, template, folder, night) for mode in MODES}  # both cores at once
    # every run waited for before any is judged: a failed one leaves no other running
    reports = {mode: process.communicate()[1] for mode, process in running.items()}
    counted: dict[str, int] = {}
    for mode, process in running.items():
        if process.returncode != 0:
            raise RuntimeError(f"the {mode} run exited {process.returncode}: {reports[mode].strip()[-800:]}")
        counted[mode] = instructions_in(reports[mode])
    step = "first_night_instructions" if night == province.FIRST_NIGHT else "steady_night_instructions"
    return {"step": step, "backend": "sqlite", "units": units, "night": night.isoformat(),
            "obligations": obligations, "baseline": counted["baseline"],
            "evaluation": counted["evaluate"] - counted["baseline"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=province.UNITS, help="units of the province plan (17 monthly tasks each)")
    parser.add_argument("--night", type=dt.date.fromisoformat, default=province.FIRST_NIGHT,
                        help="count this later night (after the first) instead of the first")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "STORE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(args.child[0], Path(args.child[1]), args.night)
        return
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-instructions-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        print(json.dumps(count(args.units, folder, args.night)))
    except (NoValgrind, ValueError) as refused:
        print(refused, file=sys.stderr)
        raise SystemExit(2) from None
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()

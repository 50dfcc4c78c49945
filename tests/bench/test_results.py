"""bench: the rows of `make bench` and `make bench-full` merge into one figure set."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def bench_main(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(ROOT))  # bench/ is a folder beside the package, not installed
    return importlib.import_module("bench.__main__")


def test_a_full_run_adds_the_1m_rows_to_the_small_sizes(bench_main, tmp_path):
    results = tmp_path / "results.json"
    small = [{"step": "evaluate", "size": n, "backend": b, "seconds": n / 1e5}
             for n in (1_000, 10_000, 100_000) for b in ("sqlite", "postgresql")]
    small.append({"step": "nightly_cli", "size": "founding", "backend": "sqlite", "seconds": 1.6})
    bench_main.merge(results, small)
    full = [{"step": "evaluate", "size": 1_000_000, "backend": b, "seconds": 7.0} for b in ("sqlite", "postgresql")]
    merged = bench_main.merge(results, full)
    assert merged == json.loads(results.read_text())
    assert sorted((r["size"], r["backend"]) for r in merged if r["step"] == "evaluate") == sorted(
        (n, b) for n in (1_000, 10_000, 100_000, 1_000_000) for b in ("sqlite", "postgresql"))
    assert any(r["step"] == "nightly_cli" for r in merged)


def test_a_rerun_replaces_the_rows_of_the_same_size_backend_and_step(bench_main, tmp_path):
    results = tmp_path / "results.json"
    bench_main.merge(results, [{"step": "report", "size": 1_000_000, "backend": "sqlite", "seconds": 10.6},
                               {"step": "evaluate", "size": 1_000_000, "backend": "sqlite", "seconds": 6.7}])
    merged = bench_main.merge(results, [{"step": "report", "size": 1_000_000, "backend": "sqlite", "seconds": 7.0}])
    assert {r["step"]: r["seconds"] for r in merged} == {"report": 7.0, "evaluate": 6.7}


def test_targets_read_the_merged_rows_by_size_and_backend(bench_main):
    rows = [{"step": "report", "size": 1_000_000, "backend": "sqlite", "seconds": 7.0},
            {"step": "nightly_cli", "size": "founding", "backend": "sqlite", "seconds": 1.6}]
    runs = bench_main.by_run(rows)
    checks = {text: check for text, size, backend, check in bench_main.TARGETS if (size, backend) in runs}
    assert checks["report for 1M <= 10 s"](runs[(1_000_000, "sqlite")])
    assert checks["nightly on the founding plan <= 5 s (CLI, no Prefect server, SQLite)"](runs[("founding", "sqlite")])


def test_a_target_whose_step_did_not_run_says_so(bench_main):
    # A 1M run of apply,evaluate,limit,deliver says nothing of re-applying or the report.
    runs = bench_main.by_run([{"step": "evaluate", "size": 1_000_000, "backend": "sqlite", "seconds": 12.0},
                              {"step": "limit", "size": 1_000_000, "backend": "sqlite", "seconds": 4.0}])
    checks = {text: check for text, size, backend, check in bench_main.TARGETS if size == 1_000_000}
    steps = runs[(1_000_000, "sqlite")]
    assert bench_main.target_status(checks["re-apply unchanged 1M <= 10 s"], steps) == "not run"
    assert bench_main.target_status(checks["nightly evaluation of 1M on SQLite <= 10 s"], steps) == "MISS"
    assert bench_main.target_status(checks["evaluation <= 2x hand-tuned SQL (SQLite, 1M)"], steps) == "MISS"
    assert bench_main.target_status(checks["plan apply of 1M <= 60 s"], None) == "not run"


def test_the_machines_speed_at_a_runs_start_and_end_are_kept_apart(bench_main, tmp_path, monkeypatch):
    monkeypatch.setattr(bench_main, "loop_seconds", iter([0.101, 0.134]).__next__)
    rows = [bench_main.machine_speed("start"), bench_main.machine_speed("end")]
    merged = bench_main.by_run(bench_main.merge(tmp_path / "results.json", rows))
    speeds = merged[(bench_main.MACHINE, "-")]
    assert (speeds["machine_start"]["loop_seconds"], speeds["machine_end"]["loop_seconds"]) == (0.101, 0.134)

"""bench.instructions: a first night counted in instructions (what runs under cachegrind is
the real evaluation; the count is read from valgrind's own summary)."""

from __future__ import annotations

import importlib
import sqlite3
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SUMMARY = """==4711== Cachegrind, a cache and branch-prediction profiler
==4711== Command: python -m bench.instructions --child evaluate store.sqlite3
==4711==
==4711== I   refs:      22,029,764,352
"""


@pytest.fixture
def instructions(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(ROOT))  # bench/ is a folder beside the package, not installed
    return importlib.import_module("bench.instructions")


def test_the_count_is_read_from_cachegrinds_summary(instructions):
    assert instructions.instructions_in(SUMMARY) == 22_029_764_352
    with pytest.raises(ValueError, match="no instruction count"):
        instructions.instructions_in("==4711== Memcheck, a memory error detector\n")


def _reminders(store: Path) -> int:
    with sqlite3.connect(store) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM reminder").fetchone()[0])


def test_the_counted_run_evaluates_the_first_night_and_the_baseline_does_not(instructions, tmp_path):
    store, obligations = instructions.prepare(tmp_path, units=2)
    assert obligations == 2 * 17 * 12  # monthly tasks over the plan's year
    baseline = tmp_path / "baseline.sqlite3"
    baseline.write_bytes(store.read_bytes())
    instructions.run_child("baseline", baseline)
    instructions.run_child("evaluate", store)
    assert _reminders(baseline) == 0
    assert _reminders(store) > 0  # by 2018-07-20 the first half-year's items are overdue


def test_without_valgrind_it_says_how_to_get_it(instructions, monkeypatch, capsys):
    monkeypatch.setattr(instructions.shutil, "which", lambda _: None)
    monkeypatch.setattr("sys.argv", ["bench.instructions", "--units", "1"])
    with pytest.raises(SystemExit) as stopped:
        instructions.main()
    assert stopped.value.code == 2
    assert "apt-get install valgrind" in capsys.readouterr().err


def _nights(store: Path) -> list[str]:
    with sqlite3.connect(store) as conn:
        return [d for (d,) in conn.execute("SELECT DISTINCT fired_on FROM reminder ORDER BY fired_on")]


def test_a_later_night_is_counted_after_the_first_in_both_runs(instructions, tmp_path):
    store, _ = instructions.prepare(tmp_path, units=2)
    baseline = tmp_path / "baseline.sqlite3"
    baseline.write_bytes(store.read_bytes())
    later = instructions.province.FIRST_NIGHT.replace(month=8, day=20)  # a Monday: new items fall due
    instructions.run_child("baseline", baseline, later)
    instructions.run_child("evaluate", store, later)
    assert _nights(baseline) == ["2018-07-20"]  # the baseline holds the first night only
    assert _nights(store) == ["2018-07-20", "2018-08-20"]  # the counted run adds the later one


def test_a_night_before_the_first_is_refused_with_a_sentence(instructions, monkeypatch, capsys):
    monkeypatch.setattr(instructions.shutil, "which", lambda _: "/usr/bin/valgrind")
    monkeypatch.setattr("sys.argv", ["bench.instructions", "--units", "1", "--night", "2018-07-19"])
    with pytest.raises(SystemExit) as stopped:
        instructions.main()
    assert stopped.value.code == 2
    assert "before the province's first night" in capsys.readouterr().err

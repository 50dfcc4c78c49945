"""bench: the CPU clock counts the work of this process and of the children that do it, from
the clock's start, and not the children's start-up before it.

The delivery benches divide this time by the messages sent to say how far a rate is from
what the cores allow; counting a child's imports, or missing a child, would move that bound."""

from __future__ import annotations

import importlib
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]

# burns CPU for a while, says it is ready, burns again on the go
CHILD = """
import sys, time
def burn(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass
burn(float(sys.argv[1]))
print("ready", flush=True)
sys.stdin.readline()
burn(float(sys.argv[2]))
"""


@pytest.fixture
def bench_cpu(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(ROOT))  # bench/ is a folder beside the package, not installed
    return importlib.import_module("bench.cpu")


def _child(before_s: float, after_s: float) -> subprocess.Popen[str]:
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(before_s), str(after_s)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    return child


def _burn(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_the_clock_counts_children_after_its_start_and_this_process(bench_cpu):
    children = [_child(0.6, 0.3), _child(0.6, 0.2)]  # 1.2 s of start-up, 0.5 s of work
    clock = bench_cpu.CpuClock([child.pid for child in children])
    for child in children:
        child.communicate("go\n")
    _burn(0.2)

    counted = clock.seconds()

    # 0.7 s of work and the interpreters' exits; without the children 0.2 s, with their
    # start-up 1.9 s or more
    assert 0.65 <= counted <= 1.1


def test_the_rate_the_cores_allow(bench_cpu, monkeypatch):
    monkeypatch.setattr(bench_cpu, "cores", lambda: 2)
    assert bench_cpu.cpu_bound_rate(2.5) == 800.0
    assert bench_cpu.cpu_bound_rate(1.0) == 2000.0

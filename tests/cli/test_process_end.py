"""A plan-tracker process of its own ends without the collector walking its memory
(`plan_tracker.process_end`): the CLI's entry point and a delivery process freeze what is
alive before finalization, and exit as they would have (status, output)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# At exit (after the probe's last line, or SystemExit) says on stderr how many objects the
# collector was told to leave alone.
_SAY_FROZEN_AT_EXIT = """
import atexit, gc, sys
atexit.register(lambda: print(f"frozen={gc.get_freeze_count()}", file=sys.stderr))
"""
# Runs the CLI's entry point with the given arguments.
_CLI_PROBE = _SAY_FROZEN_AT_EXIT + """
from plan_tracker.cli import main
sys.argv = ["plan-tracker", *sys.argv[1:]]
main()
"""


def _frozen(stderr: str) -> int:
    return int(stderr.strip().splitlines()[-1].removeprefix("frozen="))


def test_a_command_ends_frozen_with_its_own_status_and_output(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-plan.yaml"
    out = subprocess.run([sys.executable, "-c", _CLI_PROBE, "plan", "validate", str(missing)],
                         capture_output=True, text=True, check=False, timeout=120)
    assert out.returncode == 2, out.stderr[-2000:]  # bad input keeps its exit code
    assert "no-such-plan.yaml" in out.stderr  # and its sentence
    assert _frozen(out.stderr) > 10_000

    helped = subprocess.run([sys.executable, "-c", _CLI_PROBE, "--help"],
                            capture_output=True, text=True, check=False, timeout=120)
    assert helped.returncode == 0 and "nightly" in helped.stdout  # stdout is flushed, not lost
    assert _frozen(helped.stderr) > 1_000


def test_a_delivery_process_without_work_ends_frozen() -> None:
    # A delivery process started ahead and let go (its stdin closed at once): it warms up,
    # finds no work, and exits 0 without the collection.
    probe = (_SAY_FROZEN_AT_EXIT +
             "from plan_tracker.reports.delivery_processes import _serve\n"
             f"sys.argv = ['x', '{os.getpid()}']\n"
             "_serve()\n")
    out = subprocess.run([sys.executable, "-c", probe], input=b"", capture_output=True, check=False, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout == b""
    assert _frozen(out.stderr.decode()) > 10_000

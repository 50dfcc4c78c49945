"""The reliability documents stay true: every fault point in the code is documented (in the
hook module and RELIABILITY.md), every figure file the tests write has its row, and the
operations commands and settings are in the README."""

from __future__ import annotations

import re
from pathlib import Path

from plan_tracker import faults

ROOT = Path(__file__).resolve().parents[2]
RELIABILITY = (ROOT / "RELIABILITY.md").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")


def code_points() -> set[str]:
    found = set()
    for path in (ROOT / "src" / "plan_tracker").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        found |= set(re.findall(r'faults\.point\("([a-z.]+)"\)', text))
        found |= set(re.findall(r'Stage\("[a-z]+", .*"(nightly\.[a-z]+)"[,)]', text))  # the night's stage kill points
    return found


def test_every_fault_point_is_documented_in_the_hook_and_in_reliability_md() -> None:
    points = code_points()
    # deliver.frozen joined with the frozen messages (0009); deliver.written and deliver.synced
    # with the file outbox's batches (issue 17); deliver.helping with processes that help
    # each other (issue 17, sixth pass)
    assert len(points) == 12
    for point in points:
        assert point in (faults.__doc__ or ""), point
        assert f"`{point}`" in RELIABILITY, point
    assert "PLAN_TRACKER_FAULT" in RELIABILITY and "--now" in RELIABILITY


def test_every_figure_the_tests_record_has_a_row() -> None:
    names = set()
    for path in Path(__file__).parent.rglob("test_*.py"):
        names |= set(re.findall(r'figures\.record\(f?"([a-z_]+)', path.read_text(encoding="utf-8")))
    assert len(names) >= 10
    for name in names:
        assert f"`{name}" in RELIABILITY, name


def test_the_readme_documents_the_operations_commands_and_the_batch_setting() -> None:
    for text in ("doctor", "--catch-up", "plan-tracker deliver", "channels enable", "EVALUATION_BATCH", "RELIABILITY.md"):
        assert text in README, text

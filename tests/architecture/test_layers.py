"""The layers hold: the domain imports no adapter; services import neither the inbox nor
reports; one list of stages (`plan_tracker.night`) is what the CLI's night and the Prefect
flow both run. Read from the source (the import statements), so a lazy import counts too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "plan_tracker"


def imported_modules(folder: Path) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted(folder.rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        found[str(path.relative_to(SRC))] = names
    return found


@pytest.mark.parametrize(("layer", "forbidden"), [
    ("domain", ("plan_tracker.store", "plan_tracker.services", "plan_tracker.inbox", "plan_tracker.reports",
                "plan_tracker.web", "plan_tracker.channels", "plan_tracker.flows", "plan_tracker.night",
                "sqlalchemy", "sqlmodel", "prefect", "fastapi")),
    ("services", ("plan_tracker.inbox", "plan_tracker.reports", "plan_tracker.night", "plan_tracker.flows",
                  "plan_tracker.web", "plan_tracker.commands")),
])
def test_a_layer_imports_nothing_above_it(layer: str, forbidden: tuple[str, ...]) -> None:
    offending = {module: sorted(name for name in names if name.startswith(forbidden))
                 for module, names in imported_modules(SRC / layer).items()}
    assert {m: n for m, n in offending.items() if n} == {}


def test_the_cli_and_the_flow_run_the_one_list_of_stages() -> None:
    from plan_tracker.flows import nightly as flow
    from plan_tracker.night import STAGES

    assert [s.name for s in STAGES] == ["mail", "collect", "evaluate", "deliver", "snapshot", "report"]
    assert list(flow.STAGE_TASKS) == [s.name for s in STAGES]
    flow_source = (SRC / "flows" / "nightly.py").read_text(encoding="utf-8")
    for name in ("ingest_inbox", "run_report_stage", "deliver_reminders(_engine()", "stages.snapshot("):
        assert name not in flow_source  # no second copy of a stage in the flow

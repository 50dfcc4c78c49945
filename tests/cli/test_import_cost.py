"""The CLI starts light: a command imports only what it uses (heavy modules are imported
inside the functions that need them). Checked in a fresh interpreter, as a user starts it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from plan_tracker.services.plans import apply_plan
from plan_tracker.store.db import make_engine, migrate

from ..nightly.conftest import PLAN_YAML

# Modules that cost tens to hundreds of milliseconds and serve only some commands.
HEAVY = ("prefect", "fastapi", "starlette", "uvicorn", "openpyxl", "docx", "pygal", "jinja2", "httpx",
         "imap_tools", "sqlalchemy", "alembic")

# Runs the CLI's entry point with argv[1] (JSON list), then prints which of argv[2] it imported.
_PROBE = """
import json, sys
from plan_tracker.cli import main
args, watch = json.loads(sys.argv[1]), set(json.loads(sys.argv[2]))
sys.argv = ["plan-tracker", *args]
try:
    main()
except SystemExit:
    pass
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules} & watch)))
"""


def imported(args: list[str], watch: tuple[str, ...], env: dict[str, str] | None = None) -> list[str]:
    out = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(args), json.dumps(list(watch))],
                         capture_output=True, text=True, check=False, env=env, timeout=120)
    assert out.stdout.strip(), out.stderr[-2000:]
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("args", [["--help"], ["nightly", "--help"], ["reminders", "--help"]])
def test_help_imports_no_heavy_module(args: list[str]) -> None:
    assert imported(args, HEAVY) == []


def test_a_night_without_mailbox_imports_neither_imap_nor_openpyxl_nor_the_web(tmp_path: Path) -> None:
    # The night writes its XLSX report with XlsxWriter: openpyxl only reads returned forms.
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN_YAML, encoding="utf-8")
    engine = make_engine(url)
    migrate(engine)
    apply_plan(engine, plan)
    engine.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAN_TRACKER_")}
    env.update(PLAN_TRACKER_DATABASE_URL=url, PLAN_TRACKER_DATA_DIR=str(tmp_path / "var"))
    night = ["nightly", "--plan", "national-day", "--as-of", "2018-10-29", "--now", "2018-10-29T09:00+08:00"]
    # httpx is for robots and webhooks: a night to the file outbox (or SMTP) never loads it
    assert imported(night, ("prefect", "fastapi", "uvicorn", "openpyxl", "docx", "imap_tools", "httpx"), env) == []
    assert sorted(p.name for p in (tmp_path / "var" / "reports" / "national-day").iterdir()) == [
        "2018-10-29.html", "2018-10-29.json", "2018-10-29.xlsx"]  # the night did run, in the default formats

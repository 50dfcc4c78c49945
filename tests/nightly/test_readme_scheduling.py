"""README "Scheduling" and "Production topology", followed literally (issue 18, finding 8): the block is extracted from
the README and run by bash with `set -e`, one after the other in one session, in a scratch folder that holds the checkout's
`.venv`, `flows/`, `prefect.yaml` and `prefect-automations.yaml` (so `$PWD` and
`PLAN_TRACKER_REPO=$PWD` mean what they mean to an operator). Only the port and the two
database names change (a test must not take port 4200 or databases named `tracker` and
`prefect`). It must end with the night in the PostgreSQL store and no SQLite file anywhere,
both artifacts in the Prefect API, and `doctor` exit 0 (its last command).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from ..conftest import PG_ADMIN_URL, free_port
from .prefect_peer import ROOT

pytestmark = [pytest.mark.prefect, pytest.mark.slow]

README = (ROOT / "README.md").read_text(encoding="utf-8")
LINKED = (".venv", "flows", "prefect.yaml", "prefect-automations.yaml")


def readme_blocks() -> str:
    """The Scheduling block, then the Production topology block, as one shell session."""
    scheduling = README[README.index("\n## Scheduling"):README.index("\n### Production topology")]
    production = README[README.index("\n### Production topology"):README.index("\n**Office-hours delivery.**")]
    (first,) = re.findall(r"```sh\n(.*?)```", scheduling, re.S)
    (second,) = re.findall(r"```sh\n(.*?)```", production, re.S)
    return first + second


def _admin(statement: str) -> None:
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


def _stop_group(group: int) -> None:
    for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 0.0)):
        try:
            os.killpg(group, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)


def test_the_readme_scheduling_and_production_blocks_run_as_written_and_end_healthy(tmp_path: Path) -> None:
    suffix = uuid.uuid4().hex[:8]
    tracker, prefect_db, port = f"pt_readme_tracker_{suffix}", f"pt_readme_prefect_{suffix}", free_port()
    script = (readme_blocks()
              .replace("127.0.0.1:4200", f"127.0.0.1:{port}").replace("--port 4200", f"--port {port}")
              .replace("postgres tracker", f"postgres {tracker}").replace("5432/tracker", f"5432/{tracker}")
              .replace("postgres prefect", f"postgres {prefect_db}").replace("5432/prefect", f"5432/{prefect_db}"))
    assert script.count(str(port)) == 4 and script.count(tracker) == 3 and script.count(prefect_db) == 2
    folder = tmp_path / "site"
    folder.mkdir()
    for name in LINKED:
        (folder / name).symlink_to(ROOT / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PLAN_TRACKER_"))}
    env["PREFECT_WORKER_QUERY_SECONDS"] = "1"  # the worker's poll: 10 s by default
    log = tmp_path / "readme.log"
    started = time.monotonic()
    shell = subprocess.Popen(["bash", "-e", "-c", script], cwd=folder, env=env, stdout=log.open("wb"),
                             stderr=subprocess.STDOUT, start_new_session=True)
    try:
        try:
            code = shell.wait(timeout=400)
        except subprocess.TimeoutExpired:
            code = None
        said = log.read_text(errors="replace")
        assert code == 0, f"the README block ended with {code}:\n{said[-5000:]}"
        took = time.monotonic() - started
        assert "Completed" in said

        # the night is in the PostgreSQL store, and nothing wrote a SQLite store anywhere
        store = create_engine(make_url(PG_ADMIN_URL).set(database=tracker))
        try:
            with store.connect() as conn:
                runs = conn.execute(text("SELECT as_of, ok, summary FROM nightly_run")).all()
        finally:
            store.dispose()
        assert sorted((r.as_of, r.ok) for r in runs) == [(dt.date(2018, 4, 17), True), (dt.date(2018, 4, 18), True)]
        summaries = {r.as_of: r.summary if isinstance(r.summary, dict) else json.loads(r.summary) for r in runs}
        assert summaries[dt.date(2018, 4, 17)]["reminders"]["raised"] > 0
        assert [s["shard"] for s in summaries[dt.date(2018, 4, 18)]["shards"]] == [0, 1, 2, 3]
        assert not list(folder.rglob("*.sqlite3")) and not list(ROOT.glob("var/plan-tracker.sqlite3*"))

        # the artifacts, through the Prefect API
        api = f"http://127.0.0.1:{port}/api"
        artifacts = httpx.post(f"{api}/artifacts/filter", json={}, timeout=10).raise_for_status().json()
        keys = {a["key"] for a in artifacts}
        assert {"nightly-jingzhou-2018", "overdue-jingzhou-2018"} <= keys
        (run,) = httpx.post(f"{api}/flow_runs/filter", json={  # the whole night of 2018-04-17
            "flows": {"name": {"any_": ["nightly-follow-up"]}}, "sort": "START_TIME_ASC", "limit": 1},
            timeout=10).raise_for_status().json()
        tasks = httpx.post(f"{api}/task_runs/filter", json={"flow_runs": {"id": {"any_": [run["id"]]}}},
                           timeout=10).raise_for_status().json()
        print(f"README scheduling block: {took:.0f} s; the night's flow run {run['total_run_time']:.1f} s of "
              f"flow time, {len(tasks)} task runs ({', '.join(t['name'] for t in sorted(tasks, key=lambda t: t['start_time']))})")
        assert [t["name"].rsplit("-", 1)[0] for t in sorted(tasks, key=lambda t: t["start_time"])] == [
            "mail", "collect", "evaluate", "deliver", "snapshot", "report"]
        assert {t["state_type"] for t in tasks} == {"COMPLETED"}
    finally:
        _stop_group(shell.pid)  # the server and the worker the block left running
        for name in (prefect_db, tracker):
            _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

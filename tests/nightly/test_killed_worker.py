"""A killed worker does not block the next night (issue 18, finding 3), for real: a Prefect
server, the repository's `prefect.yaml` and `prefect-automations.yaml` as shipped, a process
worker whose flow run is SIGKILLed together with the worker mid-night (a lost machine), then
a restarted worker and the next night.

Without the zombie-run automation the killed run stays `Running` and holds the nightly
deployment's only concurrency slot for the 300 s of Prefect's deployment lease, and the
next night waits in `AwaitingConcurrencySlot`. With it the run is `Crashed` about 60 s after
its last heartbeat, the slot is released, and the next night runs at once.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from plan_tracker.store.outbox_models import NightlyRun, Reminder

from .conftest import fresh_stores
from .prefect_peer import PREFECT, ROOT, kill_tree, prefect, prefect_server, stop

pytestmark = [pytest.mark.prefect, pytest.mark.slow]

PLAN = "jingzhou-2018"
KILLED_NIGHT, NEXT_NIGHT = dt.date(2018, 7, 2), dt.date(2018, 7, 3)
CRASH_WITHIN_S = 120  # 60 s without a heartbeat, the automation's 5 s evaluation, and slack


@pytest.fixture
def server(tmp_path: Path) -> Iterator[dict[str, str]]:
    with prefect_server(tmp_path / "prefect-server") as env:
        yield env


def _until(what: str, check: Callable[[], Any], timeout: float, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            _say(what)
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def _say(what: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {what}")  # the test's timeline, with -s


def _create_automations(api: httpx.Client) -> None:
    """The shipped prefect-automations.yaml, validated as the CLI does and posted to the
    API (the CLI's start-up costs 10 s on a loaded machine; the README test runs the CLI)."""
    import yaml
    from prefect.events.schemas.automations import AutomationCore

    for data in yaml.safe_load((ROOT / "prefect-automations.yaml").read_text(encoding="utf-8"))["automations"]:
        api.post("/automations/", json=AutomationCore.model_validate(data).model_dump(mode="json")).raise_for_status()


def _start_run(api: httpx.Client, as_of: dt.date) -> str:
    deployment = api.get("/deployments/name/nightly-follow-up/nightly").raise_for_status().json()
    run = api.post(f"/deployments/{deployment['id']}/create_flow_run",
                   json={"parameters": {"plan_id": PLAN, "as_of": as_of.isoformat()}}).raise_for_status().json()
    return str(run["id"])


def _state(api: httpx.Client, run_id: str) -> dict[str, Any]:
    return dict(api.get(f"/flow_runs/{run_id}").raise_for_status().json()["state"])


def _state_names(api: httpx.Client, run_id: str) -> list[str]:
    return [s["name"] for s in api.get("/flow_run_states/", params={"flow_run_id": run_id}).raise_for_status().json()]


def _raised(store: Engine, night: dt.date) -> int:
    r = Reminder.__table__  # type: ignore[attr-defined]
    with store.connect() as conn:
        return len(conn.execute(select(r.c.id).where(r.c.plan_id == PLAN, r.c.fired_on == night)).all())


def _alive(pid: int) -> bool:
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def _worker(env: dict[str, str], name: str, folder: Path, **extra: str) -> subprocess.Popen[bytes]:
    log = (folder / f"{name}.log").open("wb")
    return subprocess.Popen([PREFECT, "worker", "start", "--pool", "plan-tracker", "--name", name],
                            env={**env, **extra}, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)


def test_a_killed_workers_run_is_crashed_its_slot_released_and_the_next_night_runs_at_once(
        server: dict[str, str], tmp_path: Path, founding_plan: Path) -> None:
    _say("server up")
    (store,), drop = fresh_stores("postgresql", tmp_path, founding_plan, 1)
    env = {**server, "PLAN_TRACKER_DATABASE_URL": store.url.render_as_string(hide_password=False),
           "PLAN_TRACKER_DATA_DIR": str(tmp_path / "worker-var"), "PREFECT_WORKER_QUERY_SECONDS": "1"}
    workers: list[subprocess.Popen[bytes]] = []
    api = httpx.Client(base_url=server["PREFECT_API_URL"], timeout=10)
    try:
        _say("store ready")
        prefect(["work-pool", "create", "plan-tracker", "--type", "process"], env)
        # The first worker's flow run stops once the night's reminders are raised (a process
        # frozen mid-night); then the worker and everything under it are SIGKILLed. It boots
        # while the deployments are made.
        workers.append(_worker(env, "worker-a", tmp_path, PLAN_TRACKER_FAULT="nightly.evaluated:1:hang"))
        prefect(["--no-prompt", "deploy", "--all"], env)
        _create_automations(api)  # what `prefect automation create --from-file` sends (README)
        _say("deployed, automation created")
        killed = _start_run(api, KILLED_NIGHT)
        _until("the killed night's reminders", lambda: _raised(store, KILLED_NIGHT), 90)
        assert _state(api, killed)["type"] == "RUNNING"
        pids = kill_tree(workers[0])
        killed_at = time.monotonic()
        assert len(pids) >= 2  # the worker and its flow-run process
        _until("the killed processes to be gone", lambda: not any(_alive(pid) for pid in pids), 10)
        # the worker comes back (systemd's Restart=always): the next night has a worker waiting
        workers.append(_worker(env, "worker-b", tmp_path))

        crashed = _until("the killed run to be marked Crashed",
                         lambda: (s := _state(api, killed))["type"] == "CRASHED" and s, CRASH_WITHIN_S, every=1)
        crashed_after = time.monotonic() - killed_at
        assert "no heartbeat" in (crashed["message"] or "")

        # The next night takes the slot at once.
        started = time.monotonic()
        following = _start_run(api, NEXT_NIGHT)
        final = _until("the next night to finish", lambda: (s := _state(api, following))["type"] in (
            "COMPLETED", "FAILED", "CRASHED") and s, 90)
        next_took = time.monotonic() - started
        assert final["type"] == "COMPLETED", final
        assert "AwaitingConcurrencySlot" not in _state_names(api, following)

        runs = NightlyRun.__table__  # type: ignore[attr-defined]
        with store.connect() as conn:
            recorded = dict(conn.execute(select(runs.c.as_of, runs.c.ok).where(runs.c.plan_id == PLAN)).all())
        assert recorded == {KILLED_NIGHT: False, NEXT_NIGHT: True}
        _figures({"killed_run_state": crashed["name"], "crashed_after_kill_s": round(crashed_after, 1),
                  "next_night_completed_in_s": round(next_took, 1),
                  "kill_to_next_night_done_s": round(time.monotonic() - killed_at, 1)})
    finally:
        api.close()
        for worker in workers:
            if worker.poll() is None:
                stop(worker)
        drop()


def _figures(found: dict[str, Any]) -> None:
    """Printed (`-s`) and, with PLAN_TRACKER_FIGURES_DIR, kept for RELIABILITY.md."""
    print("killed worker:", json.dumps(found))
    folder = os.environ.get("PLAN_TRACKER_FIGURES_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / "killed_worker.json").write_text(json.dumps(found, indent=1) + "\n", encoding="utf-8")

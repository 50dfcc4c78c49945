"""Scale-out, run for real on one machine: a Prefect server backed by PostgreSQL, the
repository's own `prefect.yaml` deployed to it, two process workers on the work pool, and
one night of the founding plan split into unit shards across both workers. The store it
leaves equals the store of the same night run whole, in one process.

This is the production topology of the README ("Production topology"), shrunk to one host.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from plan_tracker.night import run_nightly
from plan_tracker.services.nightly import shards_evaluated
from plan_tracker.settings import Settings
from plan_tracker.store.outbox_models import NightlyRun

from ..conftest import free_port, new_pg_database
from .conftest import fresh_stores, night_state

pytestmark = [pytest.mark.prefect, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).with_name("prefect"))
PLAN = "jingzhou-2018"
NIGHT = dt.date(2018, 7, 2)
SHARDS = 4


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A real Prefect server on PostgreSQL (its scheduler off: only the runs we start run);
    yields the environment its clients and workers need."""
    folder = tmp_path_factory.mktemp("prefect")
    database, drop = new_pg_database("pt_prefect", driver="postgresql+asyncpg")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PLAN_TRACKER_"))}
    env.update(PREFECT_HOME=str(folder / "home"), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_SERVER_UI_ENABLED="false", PREFECT_API_DATABASE_CONNECTION_URL=database)
    log = (folder / "server.log").open("wb")
    server = subprocess.Popen([PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port),
                               "--no-scheduler", "--no-ui"], env=env, stdout=log, stderr=subprocess.STDOUT)
    api = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Prefect server did not start: {(folder / 'server.log').read_text()[-2000:]}")
            time.sleep(0.5)
        client_env = {k: v for k, v in env.items() if k != "PREFECT_API_DATABASE_CONNECTION_URL"}
        client_env.update(PREFECT_API_URL=api, PLAN_TRACKER_REPO=str(ROOT))
        yield client_env
    finally:
        _stop(server)
        log.close()
        drop()


def _prefect(args: list[str], env: dict[str, str], timeout: float = 120) -> str:
    out = subprocess.run([PREFECT, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                         check=False)
    assert out.returncode == 0, f"prefect {' '.join(args)} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out.stdout


def test_one_night_split_across_two_workers_equals_the_whole_night(
    prefect_server: dict[str, str], tmp_path: Path, founding_plan: Path
) -> None:
    (split, whole), drop = fresh_stores("postgresql", tmp_path, founding_plan, 2)
    env = {**prefect_server, "PLAN_TRACKER_DATABASE_URL": split.url.render_as_string(hide_password=False),
           "PLAN_TRACKER_DATA_DIR": str(tmp_path / "workers"), "PREFECT_WORKER_QUERY_SECONDS": "1"}
    workers: list[subprocess.Popen[bytes]] = []
    try:
        _prefect(["work-pool", "create", "plan-tracker", "--type", "process"], env)
        _prefect(["--no-prompt", "deploy", "--all"], env)  # the repository's prefect.yaml, as shipped
        for name in ("worker-a", "worker-b"):
            # two slots each: whichever worker runs the parent night keeps one for a shard,
            # the other takes two at once, so both workers evaluate part of the night
            log = (tmp_path / f"{name}.log").open("wb")
            workers.append(subprocess.Popen(
                [PREFECT, "worker", "start", "--pool", "plan-tracker", "--name", name, "--limit", "2"],
                env={**env, "PLAN_TRACKER_WORKER": name}, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT))
        output = _prefect(["deployment", "run", "nightly-follow-up/nightly", "--param", f"plan_id={PLAN}",
                           "--param", f"as_of={NIGHT}", "--param", f"shards={SHARDS}",
                           "--watch", "--watch-timeout", "300"], env, timeout=330)
        assert "Completed" in output

        shards = shards_evaluated(split, PLAN, NIGHT)
        assert [s["shard"] for s in shards] == list(range(SHARDS))
        assert {s["worker"] for s in shards} == {"worker-a", "worker-b"}
        assert sum(s["units"] for s in shards) == 47  # every unit once
        runs = NightlyRun.__table__  # type: ignore[attr-defined]
        with split.connect() as conn:
            run = conn.execute(select(runs).where(runs.c.plan_id == PLAN, runs.c.as_of == NIGHT)).one()
        assert run.ok and run.summary["shards"] == shards

        settings = Settings(data_dir=tmp_path / "one-process")
        run_nightly(whole, PLAN, NIGHT, now=dt.datetime.now(dt.UTC), settings=settings)
        split_state, whole_state = night_state(split), night_state(whole)
        assert split_state == whole_state
        assert len(whole_state["reminders"]) > 100 and len(whole_state["deliveries"]) > 100
    finally:
        for worker in workers:
            _stop(worker)
        for engine in (split, whole):
            engine.dispose()
        drop()

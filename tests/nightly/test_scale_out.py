"""Scale-out, run for real on one machine: a Prefect server backed by PostgreSQL, the
repository's own `prefect.yaml` deployed to it, two process workers on the work pool, and
one night of the founding plan split into unit shards across both workers. The store it
leaves equals the store of the same night run whole, in one process.

This is the production topology of the README ("Production topology"), shrunk to one host.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from plan_tracker.night import run_nightly
from plan_tracker.services.nightly import shards_evaluated
from plan_tracker.settings import Settings
from plan_tracker.store.outbox_models import NightlyRun

from .conftest import fresh_stores, night_state
from .prefect_peer import PREFECT, ROOT, prefect, stop
from .prefect_peer import prefect_server as start_prefect_server

pytestmark = [pytest.mark.prefect, pytest.mark.slow]

PLAN = "jingzhou-2018"
NIGHT = dt.date(2018, 7, 2)
SHARDS = 4


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with start_prefect_server(tmp_path_factory.mktemp("prefect")) as env:
        yield env


def test_one_night_split_across_two_workers_equals_the_whole_night(
    prefect_server: dict[str, str], tmp_path: Path, founding_plan: Path
) -> None:
    (split, whole), drop = fresh_stores("postgresql", tmp_path, founding_plan, 2)
    env = {**prefect_server, "PLAN_TRACKER_DATABASE_URL": split.url.render_as_string(hide_password=False),
           "PLAN_TRACKER_DATA_DIR": str(tmp_path / "workers"), "PREFECT_WORKER_QUERY_SECONDS": "1"}
    workers: list[subprocess.Popen[bytes]] = []
    try:
        prefect(["work-pool", "create", "plan-tracker", "--type", "process"], env)
        prefect(["--no-prompt", "deploy", "--all"], env)  # the repository's prefect.yaml, as shipped
        for name in ("worker-a", "worker-b"):
            # two slots each: whichever worker runs the parent night keeps one for a shard,
            # the other takes two at once, so both workers evaluate part of the night
            log = (tmp_path / f"{name}.log").open("wb")
            workers.append(subprocess.Popen(
                [PREFECT, "worker", "start", "--pool", "plan-tracker", "--name", name, "--limit", "2"],
                env={**env, "PLAN_TRACKER_WORKER": name}, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT))
        output = prefect(["deployment", "run", "nightly-follow-up/nightly", "--param", f"plan_id={PLAN}",
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
            stop(worker)
        for engine in (split, whole):
            engine.dispose()
        drop()

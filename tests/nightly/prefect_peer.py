"""A real Prefect server for the tests that deploy the repository's `prefect.yaml` and run
process workers (scale-out, the killed worker, the README's commands): its own fresh
PostgreSQL database, the scheduler off (only the runs a test starts run), every other
service on (events, automations, the repossessor)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import pytest

from ..conftest import free_port, new_pg_database

ROOT = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).with_name("prefect"))


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def prefect_server(folder: Path, *, scheduler: bool = False) -> Iterator[dict[str, str]]:
    """Start the server; yield the environment its clients and workers need."""
    folder.mkdir(parents=True, exist_ok=True)
    database, drop = new_pg_database("pt_prefect", driver="postgresql+asyncpg")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PLAN_TRACKER_"))}
    env.update(PREFECT_HOME=str(folder / "home"), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_SERVER_UI_ENABLED="false", PREFECT_API_DATABASE_CONNECTION_URL=database)
    log = (folder / "server.log").open("wb")
    args = [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port), "--no-ui"]
    server = subprocess.Popen([*args, *([] if scheduler else ["--no-scheduler"])], env=env, stdout=log,
                              stderr=subprocess.STDOUT)
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
        stop(server)
        log.close()
        drop()


def prefect(args: list[str], env: dict[str, str], timeout: float = 120) -> str:
    out = subprocess.run([PREFECT, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                         check=False)
    assert out.returncode == 0, f"prefect {' '.join(args)} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out.stdout


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (flow-run processes may sit in sessions of their own)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        children = [child for child, parent in parents.items() if parent == current]
        found += children
        frontier += children
    return found


def kill_tree(proc: subprocess.Popen[bytes]) -> list[int]:
    """SIGKILL a process and everything below it at once: what a lost machine leaves."""
    pids = [proc.pid, *descendants(proc.pid)]
    for pid in pids:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait()
    return pids

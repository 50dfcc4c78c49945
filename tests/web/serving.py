"""A real `plan-tracker serve` process over a small SQLite store, for the tests that attack
the portal over real sockets (tests/web/test_security_findings.py) and drive schemathesis
at it (tests/reliability/portal/test_schemathesis_all_checks.py)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine
from tests.conftest import free_port

from plan_tracker.services.plans import apply_plan
from plan_tracker.services.tokens import create_token
from plan_tracker.store.db import make_engine, migrate

SECRET = "findings-secret-0b7e4c1a9f2d6e83a5c7019b4d2f8e6a"
PORTAL_URL = "https://portal.example.test"
PLAN_ID = "sec-plan"


def plan_yaml(units: list[str]) -> str:
    """A plan around today (the server reads the real clock), its years' calendar supplied so
    the test does not depend on which years `chinesecalendar` has published."""
    year = dt.date.today().year
    unit_lines = "\n".join(f"  - {{id: {u}, name: 单位{u}, contact: {{name: 联系人, email: {u}@example.org}}}}"
                           for u in units)
    return f"""\
version: 1
plan:
  id: {PLAN_ID}
  title: 安全测试计划
  coordinator: legal-office
  calendar: {{base: CN, years: [{year - 1}, {year}, {year + 1}], holidays: [], workdays: []}}
  start: {year - 1}-01-01
  end: {year + 1}-12-31
leading_group: {{name: 领导小组办公室, email: lg@example.org}}
units:
  - {{id: legal-office, name: 区政府法制办, contact: {{name: 张三, email: legal@example.org}}}}
{unit_lines}
escalation:
  - {{after: 1, level: urge, notify: [contact]}}
sections:
  - id: s
    title: 测试
    tasks:
      - {{id: s.report, title: 报送报告, lead: [{", ".join(u for u in units)}], due: {year + 1}-12-01}}
"""


@dataclass
class Server:
    base: str
    proc: subprocess.Popen[bytes]
    engine: Engine
    tokens: dict[str, str]
    folder: Path

    def client(self, address: str, **kwargs: Any) -> httpx.Client:
        """A client connecting from `address` (127.0.0.N)."""
        return httpx.Client(base_url=self.base, transport=httpx.HTTPTransport(local_address=address),
                            timeout=30, **kwargs)

    def rss_kb(self) -> int:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))


def cli_env(folder: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAN_TRACKER_")}
    return {**env, "PLAN_TRACKER_DATABASE_URL": f"sqlite:///{folder / 'store.sqlite3'}",
            "PLAN_TRACKER_DATA_DIR": str(folder / "var"), **extra}


CLI = [sys.executable, "-c", "from plan_tracker.cli import main; main()"]


def start_serve(folder: Path, env: dict[str, str], *args: str) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    proc = subprocess.Popen([*CLI, "serve", "--port", str(port), "--no-access-log", *args], env=env, cwd=folder,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{base}/login", timeout=1)
            return base, proc
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError((proc.stdout.read() if proc.stdout else b"").decode()) from None
            time.sleep(0.1)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def prepare_store(folder: Path) -> tuple[Engine, dict[str, str]]:
    folder.mkdir(parents=True, exist_ok=True)
    engine = make_engine(f"sqlite:///{folder / 'store.sqlite3'}")
    migrate(engine)
    plan = folder / "plan.yaml"
    plan.write_text(plan_yaml(["town-a", "town-b", "town-c"]), encoding="utf-8")
    apply_plan(engine, plan)
    now = dt.datetime.now(dt.UTC)
    tokens = {name: create_token(engine, secret_key=SECRET, plan_id=PLAN_ID, unit_id=unit, coordinator=unit is None,
                                 now=now).token
              for name, unit in (("coordinator", None), ("own", "town-a"), ("other", "town-b"), ("leaving", "town-c"))}
    return engine, tokens



"""A small plan around 2018's National Day, the portal app on it, and tokens for each role.

Units: the coordinator (legal-office), two towns that lead tasks, and the justice bureau
that supports the towns' self-check. "Today" is a fixed, settable date (the app reads the
clock through it).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, select, text

from plan_tracker.services.plans import apply_plan
from plan_tracker.services.tokens import create_token, revoke_token
from plan_tracker.settings import Settings
from plan_tracker.store.models import Obligation
from plan_tracker.web.app import create_app

PLAN_ID = "portal-2018"
SECRET = "test-secret-4f1c9a0e7b2d58c6a3e91f0d2b7c4a85"  # long and varied enough to be accepted
PLAN_YAML = """\
version: 1
plan:
  id: portal-2018
  title: 国庆节前后门户测试计划
  coordinator: legal-office
  start: 2018-01-01
  end: 2018-12-31
  warn_days: 3
leading_group: {name: 领导小组办公室, email: lg@example.org}
units:
  - {id: legal-office, name: 区政府法制办, contact: {name: 张三, email: legal@example.org},
     head: {name: 李四, email: legal-head@example.org}}
  - {id: town-a, name: 甲镇, groups: [towns], contact: {name: 王五, email: town-a@example.org},
     head: {name: 赵六, email: town-a-head@example.org}}
  - {id: town-b, name: 乙镇, groups: [towns], contact: {name: 钱七, email: town-b@example.org}}
  - {id: justice-bureau, name: 区司法局, contact: {name: 孙八, email: justice@example.org}}
escalation:
  - {after: -3, level: remind, notify: [contact]}
  - {after: 1, level: urge, notify: [contact, head]}
  - {after: 5, level: supervise, notify: [head, coordinator]}
  - {after: 10, level: accountability, notify: [leading_group], repeat_every: 5}
sections:
  - id: s
    title: 测试
    tasks:
      - id: s.self-check
        title: 报送自查报告
        lead: group:towns
        support: [justice-bureau]
        due: 2018-10-01
        indicators:
          - {id: cases, name: 评查案卷, unit: 件, target: 10}
      - {id: s.summary, title: 报送半年总结, lead: town-a, due: 2018-10-01}
      - {id: s.plan, title: 制定整改方案, lead: town-a, due: 2018-11-30}
"""
# 2018-10-01 falls in the National Day holiday (10-01..10-07): every one-off due date above
# rolls forward to Monday 2018-10-08.
DUE = dt.date(2018, 10, 8)


@dataclass
class Clock:
    day: dt.date = dt.date(2018, 9, 20)

    def __call__(self, timezone: str) -> dt.date:
        return self.day


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def plan_file(tmp_path: Path) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN_YAML, encoding="utf-8")
    return path


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # insecure_http: the test client speaks plain http to http://testserver and would not send
    # Secure cookies back (tests/web/test_security_findings.py checks the production defaults)
    return Settings(data_dir=tmp_path / "var", database_url=None, token_secret=SecretStr(SECRET),
                    auth_max_failures=1000, auth_failure_window_s=60, insecure_http=True)


@pytest.fixture
def applied(engine: Engine, plan_file: Path) -> Engine:
    apply_plan(engine, plan_file)
    return engine


@pytest.fixture
def app(applied: Engine, settings: Settings, clock: Clock) -> Any:
    return create_app(applied, settings, today=clock)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


NOW = dt.datetime(2018, 9, 1, tzinfo=dt.UTC)


def make_token(engine: Engine, unit: str | None = None, *, plan: str = PLAN_ID) -> str:
    return create_token(engine, secret_key=SECRET, plan_id=plan, unit_id=unit, coordinator=unit is None,
                        now=NOW).token


@pytest.fixture
def tokens(applied: Engine) -> dict[str, str]:
    """Bearer tokens by role: own (town-a), other (town-b), coordinator, supporter, revoked."""
    found = {
        "own": make_token(applied, "town-a"),
        "other": make_token(applied, "town-b"),
        "coordinator": make_token(applied),
        "supporter": make_token(applied, "justice-bureau"),
        "revoked": make_token(applied, "town-a"),
    }
    revoke_token(applied, found["revoked"].split("_")[1], now=NOW)
    return found


CSRF_FIELD = re.compile(r'name="csrf" value="([0-9a-f]+)"')


def csrf(html: str) -> str:
    """The CSRF token of a page's forms."""
    found = CSRF_FIELD.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def login(client: Any, token: str, *, status: int = 303) -> Any:
    """Log in through the form, as a browser does: read the form (its CSRF token), post it."""
    form = client.get("/login")
    response = client.post("/login", data={"token": token, "csrf": csrf(form.text)}, follow_redirects=False)
    assert response.status_code == status, response.text
    return response


def auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def obligation_id(engine: Engine, task: str, unit: str) -> int:
    o = Obligation.__table__
    with engine.connect() as conn:
        return int(conn.execute(select(o.c.id).where(o.c.task_id == task, o.c.unit_id == unit)).scalar_one())


def events(engine: Engine, kind: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT actor, payload FROM event WHERE kind = :k ORDER BY id"), {"k": kind})
        return [{"actor": a, "payload": p if isinstance(p, dict) else __import__("json").loads(p)} for a, p in rows]


STATE_TABLES = ("obligation", "status_report", "extension_request", "report_review", "support_input")


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Everything a refused request must leave unchanged."""
    with engine.connect() as conn:
        return {t: sorted(map(tuple, conn.execute(text(f"SELECT * FROM {t}"))), key=repr) for t in STATE_TABLES}


@pytest.fixture
def api(client: TestClient, tokens: dict[str, str]) -> Callable[..., Any]:
    """api(role, method, path, json=...) -> response"""

    def call(role: str | None, method: str, path: str, **kwargs: Any) -> Any:
        headers = {**auth(tokens.get(role) if role else None), **kwargs.pop("headers", {})}
        return client.request(method, path, headers=headers, **kwargs)

    return call

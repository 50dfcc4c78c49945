"""Report dates with integrity: a unit may date a report at most `plan.backdate_wd` working
days before the day it sends it (API, portal form); the coordinator records older paper
reports with `submit --on`, audited; status as of D counts only reports received by D."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from tests.web.conftest import PLAN_ID, Clock, events, obligation_id
from tests.web.test_pages import csrf, login
from typer.testing import CliRunner

from plan_tracker.services.status import status_rows
from plan_tracker.store.models import StatusReport

P = f"/api/v1/plans/{PLAN_ID}"
# The clock reads Thursday 2018-09-20: three working days back is Monday 09-17.
OLDEST_ALLOWED = dt.date(2018, 9, 17)


def test_a_unit_may_backdate_a_report_only_by_the_plans_working_days(
        applied: Engine, api: Callable[..., Any], clock: Clock) -> None:
    check = obligation_id(applied, "s.self-check", "town-a")
    too_old = api("own", "POST", f"{P}/obligations/{check}/reports",
                  json={"status": "done", "reported_on": "2018-09-14"})
    assert too_old.status_code == 422, too_old.text
    message = too_old.json()["error"]["message"]
    assert "2018-09-14" in message and "3" in message and "2018-09-17" in message
    assert "coordinator" in message or "协调" in message
    ok = api("own", "POST", f"{P}/obligations/{check}/reports",
             json={"status": "done", "reported_on": OLDEST_ALLOWED.isoformat()})
    assert ok.status_code == 201, ok.text
    with applied.connect() as conn:
        row = conn.execute(select(StatusReport.__table__.c.reported_on, StatusReport.__table__.c.received_on)).one()  # type: ignore[attr-defined]
    assert (row.reported_on, row.received_on) == (OLDEST_ALLOWED, clock.day)


def test_status_as_of_a_day_counts_only_reports_received_by_then(
        applied: Engine, api: Callable[..., Any]) -> None:
    check = obligation_id(applied, "s.self-check", "town-a")
    assert api("own", "POST", f"{P}/obligations/{check}/reports",
               json={"status": "done", "reported_on": "2018-09-18"}).status_code == 201
    def light(day: dt.date) -> str | None:
        rows = {(r.task, r.unit): r for r in status_rows(applied, PLAN_ID, day)}
        return rows[("s.self-check", "town-a")].status
    # claimed done on 09-18, received 09-20: what the office knew on 09-19 was nothing.
    assert light(dt.date(2018, 9, 19)) is None
    assert light(dt.date(2018, 9, 20)) == "done"


def test_the_portal_form_refuses_a_report_dated_too_far_back(
        applied: Engine, client: TestClient, tokens: dict[str, str]) -> None:
    login(client, tokens["own"])
    check = obligation_id(applied, "s.self-check", "town-a")
    page = client.get(f"/portal/obligations/{check}")
    form = {"csrf": csrf(page.text), "status": "done", "progress": "100", "reported_on": "2018-09-03",
            "note": "", "evidence": "", "indicator.cases": ""}
    refused = client.post(f"/portal/obligations/{check}/report", data=form)
    assert refused.status_code == 422
    assert "2018-09-03" in refused.text and "2018-09-17" in refused.text
    with applied.connect() as conn:
        assert conn.execute(select(StatusReport.__table__.c.id)).first() is None  # type: ignore[attr-defined]


def test_the_coordinator_records_an_old_paper_report_and_it_is_audited(
        applied: Engine, cli_env: dict[str, str]) -> None:
    from plan_tracker.cli import app

    result = CliRunner().invoke(app, ["submit", "--plan", PLAN_ID, "--task", "s.self-check", "--unit", "town-a",
                                      "--period", "once", "--status", "done", "--on", "2018-04-01"])
    assert result.exit_code == 0, result.output
    with applied.connect() as conn:
        row = conn.execute(select(StatusReport.__table__.c.reported_on, StatusReport.__table__.c.received_on,  # type: ignore[attr-defined]
                                  StatusReport.__table__.c.actor)).one()  # type: ignore[attr-defined]
    assert (row.reported_on, row.received_on, row.actor) == (dt.date(2018, 4, 1), dt.date(2018, 4, 1), "coordinator")
    [event] = events(applied, "report.recorded")
    assert event["actor"] == "coordinator"
    assert event["payload"]["unit"] == "town-a" and event["payload"]["received_on"] == "2018-04-01"

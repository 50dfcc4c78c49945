"""A robot with a wrong secret loses nothing (issue 18, point 1): a stdlib HTTP server that
checks DingTalk's signature the way DingTalk does answers errcode 310000 ("sign not match")
to the misconfigured robots; the first refusal disables each robot; three weeks of nights
then hold every delivery meant for them (not `dead`, no attempt used, not even tried);
the operator fixes the secret and runs `channels enable`; the next delivery run, the same
morning, sends every held delivery. SQLite and PostgreSQL; figures in RELIABILITY.md."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from plan_tracker.night import run_nightly
from plan_tracker.reports.weekly_mail import deliver_with_weekly
from plan_tracker.services.plans import apply_plan
from plan_tracker.settings import Settings
from plan_tracker.store.outbox_models import ChannelState, Delivery

from .conftest import PLAN_ID, PLAN_YAML, Figures, at

GOOD, WRONG = "SEC-good-secret", "SEC-wrong-secret"
TOWNS = range(1, 7)
NIGHTS = [dt.date(2018, 9, 25) + dt.timedelta(days=n) for n in range(22)]  # to 10-16, weekends included


def dingtalk_reply(request: Any) -> tuple[int, dict[str, Any]]:
    """DingTalk's answer: errcode 310000 unless `sign` is the HMAC-SHA256 of timestamp and
    the robot's real secret (https://open.dingtalk.com/document/robots/customize-robot-security-settings)."""
    timestamp, sign = request.query["timestamp"][0], request.query["sign"][0]
    expected = base64.b64encode(hmac.new(GOOD.encode(), f"{timestamp}\n{GOOD}".encode(), hashlib.sha256).digest()).decode()
    if unquote_plus(sign) != expected and sign != expected:
        return 200, {"errcode": 310000, "errmsg": "sign not match"}
    return 200, {"errcode": 0, "errmsg": "ok"}


def robots(server: Any, secret: str) -> dict[str, dict[str, str]]:
    return {f"t{i}-robot": {"kind": "dingtalk", "url": server.url(f"/robot/send?access_token=t{i}"), "secret": secret}
            for i in TOWNS}


def robot_rows(engine: Any) -> dict[str, int]:
    d = Delivery.__table__
    with engine.connect() as conn:
        rows = conn.execute(select(d.c.state, d.c.fault, func.count(), func.sum(d.c.attempts))
                            .where(d.c.recipient_key.like("dingtalk:%")).group_by(d.c.state, d.c.fault)).all()
    found = {"rows": 0, "held": 0, "sent": 0, "dead": 0, "attempts_while_held": 0}
    for state, fault, n, attempts in rows:
        found["rows"] += n
        if fault == "channel" and state in ("pending", "failed"):
            found["held"] += n
            found["attempts_while_held"] += int(attempts or 0)
        elif state in ("sent", "dead"):
            found[state] += n
        elif state in ("pending", "failed"):
            found["held"] += n  # waiting for a disabled channel without having been tried
    return found


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_wrong_robot_secret_holds_three_weeks_of_deliveries_and_enable_sends_them_all(
        backend: str, store_factory: Any, http_server: Any, tmp_path: Path, figures: Figures,
        monkeypatch: pytest.MonkeyPatch) -> None:
    store = store_factory(backend)
    text = PLAN_YAML
    for i in TOWNS:
        text = text.replace(f"contact: {{name: 联络员{i}, email: t{i}@example.org}}",
                            f"contact: {{name: 联络员{i}, dingtalk: t{i}-robot}}")
    plan = tmp_path / "robots.yaml"
    plan.write_text(text, encoding="utf-8")
    apply_plan(store.engine, plan)
    http_server.reply = dingtalk_reply
    wrong = Settings(data_dir=tmp_path / "var", robots=robots(http_server, WRONG))
    for night in NIGHTS:  # 09:00: inside the delivery window on working days
        run_nightly(store.engine, PLAN_ID, night, now=at(night, 9), settings=wrong)
    refused = len(http_server.requests)
    before = robot_rows(store.engine)
    with store.engine.connect() as conn:
        disabled = conn.execute(select(func.count()).where(ChannelState.__table__.c.disabled)).scalar_one()
    assert refused == len(TOWNS) and disabled == len(TOWNS)  # one refusal per robot, then left alone
    assert before["held"] == before["rows"] > 0 and before["dead"] == before["sent"] == 0
    assert before["attempts_while_held"] == 0

    # The operator fixes the secret and enables the robots (the CLI, as the README says).
    from plan_tracker.cli import app
    from plan_tracker.settings import get_settings

    monkeypatch.setenv("PLAN_TRACKER_DATABASE_URL", store.url)
    monkeypatch.setenv("PLAN_TRACKER_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    runner = CliRunner()
    for i in TOWNS:
        assert runner.invoke(app, ["channels", "enable", f"dingtalk:t{i}-robot"]).exit_code == 0
    get_settings.cache_clear()
    morning = at(NIGHTS[-1], 9, 30)
    fixed = Settings(data_dir=tmp_path / "var", robots=robots(http_server, GOOD))
    result = deliver_with_weekly(store.engine, PLAN_ID, now=morning, as_of=NIGHTS[-1], settings=fixed)
    after = robot_rows(store.engine)
    figures.record(f"channel_fault_{backend}", nights=len(NIGHTS), robots=len(TOWNS),
                   requests_while_broken=refused, deliveries_held=before["held"],
                   attempts_used_while_held=before["attempts_while_held"], dead=after["dead"],
                   sent_after_enable=after["sent"], messages_after_enable=result.messages_sent,
                   lost=after["rows"] - after["sent"])
    assert after["sent"] == after["rows"] == before["rows"] and after["dead"] == 0
    assert result.messages_sent == len(TOWNS)  # one message per robot carries its backlog

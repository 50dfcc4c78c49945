"""The shipped `prefect.yaml` as Prefect's own scheduler reads it: office hours only inside
the delivery window, heartbeats for the zombie-run automation, timeouts on the flows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _deployments() -> dict[str, Any]:
    config = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    return {d["name"]: d for d in config["deployments"]}


def _fire_times(deployment: dict[str, Any], start: dt.datetime, days: int) -> list[dt.datetime]:
    from prefect._vendor.croniter import croniter

    times = []
    for schedule in deployment["schedules"]:
        zone = ZoneInfo(schedule["timezone"])
        it = croniter(schedule["cron"], start.astimezone(zone).replace(tzinfo=None))
        while (moment := it.get_next(dt.datetime)) < start.replace(tzinfo=None) + dt.timedelta(days=days):
            times.append(moment.replace(tzinfo=zone))
    return sorted(times)


def test_office_hours_delivery_fires_every_half_hour_inside_the_window_every_day() -> None:
    start = dt.datetime(2018, 9, 24, tzinfo=ZoneInfo("Asia/Shanghai"))  # a week with a 调休 Saturday (09-29)
    times = _fire_times(_deployments()["office-hours-delivery"], start, 7)
    local = [t.astimezone(ZoneInfo("Asia/Shanghai")) for t in times]
    assert {t.strftime("%H:%M") for t in local} == {f"{h:02d}:{m:02d}" for h in range(8, 18) for m in (0, 30)} - {"08:00"}
    assert min(t.time() for t in local) == dt.time(8, 30) and max(t.time() for t in local) == dt.time(17, 30)
    assert len(local) == 7 * 19 and len(set(local)) == len(local)  # every day (the flow skips holidays), no doubles
    assert {t.date() for t in local} >= {dt.date(2018, 9, 29), dt.date(2018, 9, 30)}


def test_every_deployment_gives_its_runs_heartbeats_and_the_nightly_its_slot() -> None:
    deployments = _deployments()
    for name, deployment in deployments.items():
        env = deployment["work_pool"]["job_variables"]["env"]
        assert int(env["PREFECT_FLOWS_HEARTBEAT_FREQUENCY"]) == 30, name
        assert not any(key.startswith("PLAN_TRACKER_") for key in env), name  # settings come from the worker
    assert deployments["nightly"]["concurrency_limit"] == 1
    automations = yaml.safe_load((ROOT / "prefect-automations.yaml").read_text(encoding="utf-8"))["automations"]
    (zombie,) = automations
    assert zombie["trigger"]["within"] == 2 * 30 and zombie["actions"][0]["state"] == "CRASHED"


def test_the_flows_have_timeouts() -> None:
    from plan_tracker.flows.nightly import deliver_waiting, evaluate_shard, nightly_follow_up

    assert nightly_follow_up.timeout_seconds == 2 * 3600
    assert evaluate_shard.timeout_seconds == 3600
    assert deliver_waiting.timeout_seconds is not None and deliver_waiting.timeout_seconds < 30 * 60

"""`doctor`'s look at Prefect (with `PREFECT_API_URL` set): is a flow run of ours stuck?

The store cannot see it: a run whose process died before its first write, or a night
waiting in `AwaitingConcurrencySlot` behind a zombie, leaves no row. Read over Prefect's
REST API with a short timeout (the doctor must answer even when Prefect does not).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

OUR_FLOWS = ("nightly-follow-up", "deliver-waiting", "evaluate-shard")
RUNNING_TOO_LONG = dt.timedelta(hours=2, minutes=10)  # the nightly flow's timeout (2 h) and slack
WAITING_TOO_LONG = dt.timedelta(hours=1)  # a night held back this long misses its morning
AWAITING_SLOT = "AwaitingConcurrencySlot"


def _moment(value: Any) -> dt.datetime | None:
    if not value:
        return None
    moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def stuck_runs(api_url: str, now: dt.datetime, *, timeout: float = 5.0) -> list[dict[str, Any]]:
    """Our flow runs Running past the nightly timeout, or waiting for a concurrency slot for
    more than an hour: id, name, flow, state, since. Raises httpx.HTTPError when the API
    does not answer."""
    import httpx

    body = {"flows": {"name": {"any_": list(OUR_FLOWS)}},
            "flow_runs": {"state": {"type": {"any_": ["RUNNING", "SCHEDULED", "PENDING"]}}},
            "sort": "EXPECTED_START_TIME_ASC", "limit": 200}
    with httpx.Client(base_url=api_url.rstrip("/"), timeout=timeout) as client:
        runs = client.post("/flow_runs/filter", json=body).raise_for_status().json()
        flows = {f["id"]: f["name"] for f in client.post("/flows/filter", json={
            "flows": {"name": {"any_": list(OUR_FLOWS)}}}).raise_for_status().json()}
    found = []
    for run in runs:
        state = run.get("state") or {}
        running_since = _moment(run.get("start_time"))
        waiting_since = _moment(run.get("expected_start_time"))
        if state.get("type") == "RUNNING" and running_since and now - running_since > RUNNING_TOO_LONG:
            since = running_since
        elif state.get("name") == AWAITING_SLOT and waiting_since and now - waiting_since > WAITING_TOO_LONG:
            since = waiting_since
        else:
            continue
        found.append({"id": run["id"], "name": run["name"], "flow": flows.get(run["flow_id"], "?"),
                      "state": state.get("name"), "since": since})
    return found

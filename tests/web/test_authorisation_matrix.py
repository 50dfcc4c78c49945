"""Every API endpoint × every kind of caller, with the expected status and — on every
refusal — nothing changed in the store and the refusal audited.

The objects under test all belong to town-a ("own"); "other" is town-b of the same plan;
"supporter" is the justice bureau, which supports the towns' self-check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Engine
from tests.web.conftest import PLAN_ID, events, obligation_id, snapshot

P = f"/api/v1/plans/{PLAN_ID}"
ROLES = ("none", "revoked", "other", "coordinator", "supporter", "own")  # refusals first, then successes


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: str  # {check}, {summary}, {plan}: town-a's obligations; {report}, {extension}: its objects
    body: dict[str, Any] | None
    expected: dict[str, int]  # role -> status; none/revoked are always 401

    def url(self, ids: dict[str, int]) -> str:
        return self.path.format(**ids)


def _e(name: str, method: str, path: str, body: dict[str, Any] | None, own: int, other: int, coordinator: int,
       supporter: int) -> Endpoint:
    return Endpoint(name, method, path, body, {"none": 401, "revoked": 401, "own": own, "other": other,
                                                "coordinator": coordinator, "supporter": supporter})


ENDPOINTS = [
    _e("me", "GET", "/api/v1/me", None, 200, 200, 200, 200),
    _e("list obligations", "GET", P + "/obligations?unit=town-a", None, 200, 404, 200, 404),
    _e("read obligation", "GET", P + "/obligations/{check}", None, 200, 404, 200, 404),
    _e("submit report", "POST", P + "/obligations/{check}/reports", {"status": "in_progress", "progress": 40},
       201, 403, 403, 403),
    _e("request extension", "POST", P + "/obligations/{check}/extensions",
       {"new_due": "2018-10-19", "reason": "案卷数量大"}, 201, 403, 403, 403),
    _e("add support input", "POST", P + "/obligations/{check}/support-inputs", {"note": "已提供评查标准"},
       403, 403, 403, 201),
    _e("list supported", "GET", P + "/supporting", None, 200, 200, 403, 200),
    _e("list reports", "GET", P + "/reports?unit=town-a", None, 200, 404, 200, 404),
    _e("review report", "POST", P + "/reports/{report}/review", {"decision": "send_back", "reason": "材料不全"},
       403, 403, 200, 403),
    _e("list extensions", "GET", P + "/extensions?unit=town-a", None, 200, 404, 200, 404),
    _e("decide extension", "POST", P + "/extensions/{extension}/decision", {"decision": "approve"},
       403, 403, 200, 403),
]


@pytest.fixture
def objects(applied: Engine, api: Callable[..., Any]) -> dict[str, int]:
    """town-a's objects: a done report awaiting review, a pending extension request."""
    ids = {"check": obligation_id(applied, "s.self-check", "town-a"),
           "summary": obligation_id(applied, "s.summary", "town-a"),
           "plan": obligation_id(applied, "s.plan", "town-a")}
    done = api("own", "POST", f"{P}/obligations/{ids['summary']}/reports", json={"status": "done", "note": "已报送"})
    assert done.status_code == 201, done.text
    ext = api("own", "POST", f"{P}/obligations/{ids['plan']}/extensions",
              json={"new_due": "2018-12-14", "reason": "等待上级文件"})
    assert ext.status_code == 201, ext.text
    return {**ids, "report": done.json()["report_id"], "extension": ext.json()["id"]}


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.name for e in ENDPOINTS])
def test_each_caller_gets_exactly_its_rights(endpoint: Endpoint, applied: Engine, api: Callable[..., Any],
                                             objects: dict[str, int]) -> None:
    for role in ROLES:
        before = snapshot(applied)
        refused_before = len(events(applied, "auth.refused"))
        failed_before = len(events(applied, "auth.failed"))
        response = api(None if role == "none" else role, endpoint.method, endpoint.url(objects), json=endpoint.body)
        expected = endpoint.expected[role]
        assert response.status_code == expected, f"{role}: {response.status_code} {response.text}"
        if expected >= 400:
            body = response.json()
            assert set(body) == {"error"} and {"code", "message", "details"} <= set(body["error"]), body
            assert snapshot(applied) == before, f"{role} changed the store"
        if expected in (403, 404):
            refusals = events(applied, "auth.refused")
            assert len(refusals) == refused_before + 1, f"{role}: refusal not audited"
            assert refusals[-1]["payload"]["status"] == expected
        if role == "revoked":
            assert len(events(applied, "auth.failed")) == failed_before + 1
            assert events(applied, "auth.failed")[-1]["payload"]["reason"] == "revoked token"


def test_a_token_of_one_plan_sees_nothing_of_another(applied: Engine, api: Callable[..., Any], tokens: dict[str, str],
                                                    plan_file: Any, objects: dict[str, int], app: Any) -> None:
    from plan_tracker.services.plans import apply_plan

    other_plan = plan_file.with_name("other.yaml")
    other_plan.write_text(plan_file.read_text(encoding="utf-8").replace("id: portal-2018", "id: other-2018"),
                          encoding="utf-8")
    apply_plan(applied, other_plan)
    before = snapshot(applied)
    assert api("coordinator", "GET", "/api/v1/plans/other-2018/obligations").status_code == 404
    assert api("own", "POST", "/api/v1/plans/other-2018/obligations/1/reports",
               json={"status": "done"}).status_code == 403
    # the obligation id exists, but in this token's plan only through the plan's own path
    other_id = obligation_id_of_plan(applied, "other-2018")
    assert api("coordinator", "GET", f"{P}/obligations/{other_id}").status_code == 404
    assert api("own", "POST", f"{P}/obligations/{other_id}/reports", json={"status": "done"}).status_code == 403
    assert snapshot(applied) == before
    # two tokens refused twice each within a minute: each token's first refusal in full, the
    # second counted (web/refusals.py; the counts are written when the minute is over)
    assert len(events(applied, "auth.refused")) == 2
    assert sorted((r.token_prefix, r.count) for r in app.state.refusals.flush()) == sorted(
        (tokens[role].split("_")[1], 1) for role in ("coordinator", "own"))


def obligation_id_of_plan(engine: Engine, plan: str) -> int:
    from sqlalchemy import select

    from plan_tracker.store.models import Obligation

    o = Obligation.__table__
    with engine.connect() as conn:
        return int(conn.execute(select(o.c.id).where(o.c.plan_id == plan, o.c.unit_id == "town-a").limit(1)).scalar_one())


def test_unknown_objects_are_404_for_everyone(api: Callable[..., Any]) -> None:
    assert api("coordinator", "GET", f"{P}/obligations/999999").json()["error"]["code"] == "not_found"
    assert api("own", "POST", f"{P}/obligations/999999/reports", json={"status": "done"}).status_code == 404
    assert api("coordinator", "POST", f"{P}/reports/999999/review", json={"decision": "accept"}).status_code == 404
    assert api("coordinator", "POST", f"{P}/extensions/999999/decision",
               json={"decision": "approve"}).status_code == 404



"""Schemathesis against the published OpenAPI schema, in-process (ASGI): generated requests
— valid and invalid — never cause a server error, and every answer conforms to the schema
(status codes, content types, bodies). Bounded: a few examples per operation.

Path parameters are steered onto real objects of the test plan half of the time, so the
generated bodies reach the workflow rules and the database (where, e.g., PostgreSQL refuses
NUL characters and integers beyond 32 bits) instead of stopping at 404.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Engine, select
from tests.web.conftest import PLAN_ID, auth

from plan_tracker.store.models import Obligation

EXAMPLES = 25  # per operation and mode mix; ~11 operations


@pytest.fixture
def api_schema(app: Any) -> Any:
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)


@pytest.fixture
def real_ids(applied: Engine, api: Any) -> dict[str, list[int]]:
    """A done report and a pending extension to aim at, besides the obligations."""
    o = Obligation.__table__
    with applied.connect() as conn:
        obligations = [int(i) for i in conn.execute(select(o.c.id).where(o.c.plan_id == PLAN_ID)).scalars()]
        own = [int(i) for i in conn.execute(
            select(o.c.id).where(o.c.plan_id == PLAN_ID, o.c.unit_id == "town-a").order_by(o.c.id)).scalars()]
    report = api("own", "POST", f"/api/v1/plans/{PLAN_ID}/obligations/{own[1]}/reports", json={"status": "done"})
    ext = api("own", "POST", f"/api/v1/plans/{PLAN_ID}/obligations/{own[2]}/extensions",
              json={"new_due": "2018-12-14", "reason": "x"})
    return {"obligation_id": obligations, "report_id": [report.json()["report_id"]], "extension_id": [ext.json()["id"]]}


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_no_server_errors_and_answers_match_the_schema(api_schema: Any, tokens: dict[str, str],
                                                       real_ids: dict[str, list[int]]) -> None:
    # Schemathesis' own pytest plugin does not run under pytest 9 yet (it reads a private
    # attribute of the test node), so each operation's strategy is driven by Hypothesis here.
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) == 11
    for operation in operations:
        strategy = st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                             operation.as_strategy(GenerationMode.NEGATIVE))

        @given(case=strategy)
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def exercise(case: Any) -> None:
            chooser = random.Random(repr(case.body) + repr(case.query))
            params = case.path_parameters or {}
            if "plan_id" in params and chooser.random() < 0.8:
                params["plan_id"] = PLAN_ID
            for name, ids in real_ids.items():
                if name in params and chooser.random() < 0.6:
                    params[name] = chooser.choice(ids)
            role = chooser.choice(["own", "own", "coordinator", "other", "supporter"])
            case.call_and_validate(headers=auth(tokens[role]), checks=CHECKS)

        exercise()

"""Schemathesis stateful runs of the API: sequences of calls chained through the links
Schemathesis infers from the schema (a report's id into its review, an extension's id into
its decision, an obligation's id into reports and extensions), valid and invalid bodies,
each call made as the role that may make it (or, sometimes, one that may not).

Every answer must conform to the published schema and never be a server error; and what
the API acknowledged must be in the store afterwards (no 201 without its row and audit
event). The per-operation (stateless) run is tests/web/test_schemathesis.py.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
import schemathesis
from hypothesis import Phase
from hypothesis import settings as hsettings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Engine, text
from tests.reliability.conftest import LONG, Figures
from tests.web.conftest import PLAN_ID, auth

pytestmark = pytest.mark.slow
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def role_for(case: Any, chooser: random.Random) -> str:
    path, method = case.operation.path, case.method.upper()
    if chooser.random() < 0.15:  # now and then, a caller without the right
        return chooser.choice(["other", "supporter", "revoked", "coordinator", "own"])
    if method == "POST" and (path.endswith("/decision") or path.endswith("/review")):
        return "coordinator"
    if path.endswith("/support-inputs"):
        return "supporter"
    return "own" if method == "POST" else chooser.choice(["own", "coordinator"])


def test_stateful_api_runs_answer_by_the_schema_and_keep_what_they_acknowledge(
        app: Any, applied: Engine, tokens: dict[str, str], figures: Figures) -> None:
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    base = schema.as_state_machine()
    with applied.connect() as conn:  # the objects generated ids are steered onto, half the time
        own = [int(i) for i in conn.execute(text(
            "SELECT id FROM obligation WHERE plan_id = :p AND unit_id = 'town-a' ORDER BY id"), {"p": PLAN_ID}).scalars()]
        supported = [int(i) for i in conn.execute(text(
            "SELECT id FROM obligation WHERE plan_id = :p AND task_id = 's.self-check'"), {"p": PLAN_ID}).scalars()]
    answers: dict[int, int] = {}
    totals = {"scenarios": 0, "reports": 0, "extensions": 0}

    def kept(report_ids: list[int], extension_ids: list[int]) -> None:
        """What this scenario's 201s acknowledged is in the store, with its audit event."""
        with applied.connect() as conn:
            reports = {int(r) for r in conn.execute(text("SELECT id FROM status_report")).scalars()}
            payloads = conn.execute(text("SELECT payload FROM event WHERE kind = 'report.recorded'")).scalars()
            audited = {int((p if isinstance(p, dict) else json.loads(p))["report_id"]) for p in payloads}
            extensions = {int(r) for r in conn.execute(text("SELECT id FROM extension_request")).scalars()}
        assert set(report_ids) <= reports & audited
        assert set(extension_ids) <= extensions

    class Workflow(base):  # type: ignore[misc, valid-type]
        def setup(self) -> None:
            # Every scenario starts from the same store: Hypothesis replays choices and must
            # see the same answers (external state would make generation flaky).
            with applied.begin() as conn:
                # idempotency keys too: a key generated again in a later scenario would replay
                # an answer naming a report this reset deleted
                for table in ("idempotency_key", "escalation_resume", "support_input", "report_review",
                              "extension_request", "status_report", "event"):
                    conn.execute(text(f"DELETE FROM {table}"))
                conn.execute(text("UPDATE obligation SET due = original_due"))
            app.state.limiter.__init__(app.state.settings.auth_max_failures, app.state.settings.auth_failure_window_s)
            self.acknowledged: dict[str, list[int]] = {"reports": [], "extensions": []}
            self.steps = 0

        def teardown(self) -> None:
            kept(self.acknowledged["reports"], self.acknowledged["extensions"])
            totals["scenarios"] += 1
            totals["reports"] += len(self.acknowledged["reports"])
            totals["extensions"] += len(self.acknowledged["extensions"])

        def before_call(self, case: Any) -> None:
            self.steps += 1  # choices keyed by position, never by server-made ids
            self.chooser = random.Random(f"{case.method}|{case.operation.path}|{self.steps}")
            params = case.path_parameters or {}
            if "plan_id" in params and self.chooser.random() < 0.9:
                params["plan_id"] = PLAN_ID
            real = {"obligation_id": supported if case.operation.path.endswith("/support-inputs") else own,
                    "report_id": self.acknowledged["reports"], "extension_id": self.acknowledged["extensions"]}
            for name, ids in real.items():
                if name in params and ids and self.chooser.random() < 0.7:
                    params[name] = self.chooser.choice(ids)
            body = case.body
            if case.operation.path.endswith("/extensions") and isinstance(body, dict) and self.chooser.random() < 0.5:
                # a date the workflow can accept (after the due date, inside the calendar) half the time
                body["new_due"] = self.chooser.choice(["2018-10-19", "2018-11-30", "2018-12-14"])
                body["reason"] = body.get("reason") or "等待上级文件"

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": auth(tokens[role_for(case, self.chooser)])}

        def after_call(self, response: Any, case: Any) -> None:
            answers[response.status_code] = answers.get(response.status_code, 0) + 1
            if response.status_code == 201 and case.operation.path.endswith("/reports"):
                self.acknowledged["reports"].append(int(response.json()["report_id"]))
            if response.status_code == 201 and case.operation.path.endswith("/extensions"):
                self.acknowledged["extensions"].append(int(response.json()["id"]))

        def validate_response(self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS)
            if response.status_code >= 400:  # one error shape everywhere
                assert set(response.json()) == {"error"} and {"code", "message"} <= set(response.json()["error"])

    Workflow.run(settings=hsettings(max_examples=80 if LONG else 16, stateful_step_count=12 if LONG else 8,
                                    deadline=None, derandomize=True, database=None, phases=[Phase.generate]))
    figures.record(f"api_stateful_{applied.dialect.name}", calls=sum(answers.values()), answers=answers,
                   scenarios=totals["scenarios"], reports_acknowledged=totals["reports"],
                   extensions_acknowledged=totals["extensions"])
    assert not any(code >= 500 for code in answers)
    assert sum(answers.values()) > 20

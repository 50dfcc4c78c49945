"""The API's edges: one error shape for everything, tokens stored hashed and never logged,
revocation, and rate limiting of failed authentication."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text
from tests.web.conftest import PLAN_ID, SECRET, auth, events, login, obligation_id
from typer.testing import CliRunner

from plan_tracker.services.tokens import authenticate, create_token
from plan_tracker.store.portal_models import ApiToken

P = f"/api/v1/plans/{PLAN_ID}"


def assert_error_shape(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert list(body) == ["error"] and list(body["error"]) == ["code", "message", "details"]
    assert body["error"]["code"] == code and body["error"]["message"]
    return dict(body["error"])


# -- one error shape ---------------------------------------------------------------------------
def test_every_kind_of_error_has_the_same_shape(applied: Engine, api: Callable[..., Any], client: TestClient) -> None:
    check = obligation_id(applied, "s.self-check", "town-a")
    assert_error_shape(client.get("/api/v1/no/such/route"), 404, "not_found")
    assert_error_shape(client.get("/api/nothing"), 404, "not_found")
    assert_error_shape(api("own", "DELETE", "/api/v1/me"), 405, "method_not_allowed")
    assert_error_shape(client.get("/api/v1/me"), 401, "unauthenticated")
    assert_error_shape(api("own", "GET", f"{P}/obligations/not-a-number"), 422, "validation_error")
    missing = assert_error_shape(api("own", "POST", f"{P}/obligations/{check}/reports", json={}), 422, "validation_error")
    assert missing["details"][0]["loc"] == ["body", "status"]
    raw = api("own", "POST", f"{P}/obligations/{check}/reports", content=b"{not json",
              headers={"Content-Type": "application/json"})
    assert_error_shape(raw, 422, "validation_error")
    extra = api("own", "POST", f"{P}/obligations/{check}/reports", json={"status": "done", "colour": "red"})
    assert_error_shape(extra, 422, "validation_error")
    assert_error_shape(api("own", "GET", f"{P}/obligations?as_of=2031-06-01"), 422, "invalid")  # no schedule for 2031
    assert_error_shape(api("own", "POST", f"{P}/obligations/{check}/reports", json={"status": "done", "note": "a\x00b"}),
                       422, "validation_error")


def _token(engine: Engine) -> str:
    return create_token(engine, secret_key=SECRET, plan_id=PLAN_ID, unit_id="town-a",
                        now=dt.datetime(2018, 9, 1, tzinfo=dt.UTC)).token


def test_bodies_over_the_cap_are_refused_in_the_shape_of_their_path(client: TestClient, tokens: dict[str, str]) -> None:
    form = client.post("/login", content=b"token=" + b"x" * 70_000,
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert form.status_code == 413 and form.headers["content-type"].startswith("text/html")
    api = client.post(f"{P}/obligations/1/reports", content=b"{" + b" " * (1024 * 1024 + 1),
                      headers={**auth(tokens["own"]), "Content-Type": "application/json"})
    assert assert_error_shape(api, 413, "too_large")["details"] == {"max_bytes": 1024 * 1024}


def test_pages_answer_errors_in_html_not_json(client: TestClient) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404 and response.headers["content-type"].startswith("text/html")
    assert "未找到" in response.text


def test_the_openapi_schema_is_published(client: TestClient) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/plans/{plan_id}/extensions/{extension_id}/decision" in schema["paths"]
    assert all(not p.startswith("/portal") for p in schema["paths"])
    assert "ErrorBody" in schema["components"]["schemas"]
    # constraints are JSON Schema keywords (pydantic writes `ge`/`le` for some annotation orders:
    # a schema-driven client would then send -3840 as a valid progress)
    text = json.dumps(schema)
    for pydantic_word in ('"ge"', '"le"', '"gt"', '"lt"', '"min_length"', '"max_length"', '"allow_inf_nan"'):
        assert pydantic_word not in text, pydantic_word
    progress = schema["components"]["schemas"]["ReportIn"]["properties"]["progress"]["anyOf"][0]
    assert (progress["minimum"], progress["maximum"]) == (0, 100)


# -- tokens -------------------------------------------------------------------------------------
def _dump(engine: Engine) -> str:
    """Every row of every table, as text."""
    from sqlalchemy import inspect

    parts = []
    with engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            parts += [repr(tuple(r)) for r in conn.execute(text(f'SELECT * FROM "{table}"'))]
    return "\n".join(parts)


def test_tokens_are_stored_as_prefix_and_hmac_and_never_logged(applied: Engine, tokens: dict[str, str],
                                                              client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    token = tokens["own"]
    for headers in (auth(token), auth(token + "x"), auth(tokens["revoked"])):
        client.get("/api/v1/me", headers=headers)
    login(client, token)
    login(client, token[:-1] + ("A" if token[-1] != "A" else "B"), status=401)  # a real near miss
    dump = _dump(applied)
    t = ApiToken.__table__
    with applied.connect() as conn:
        row = conn.execute(select(t).where(t.c.prefix == token.split("_")[1])).one()
    assert row.digest == hmac.new(SECRET.encode(), token.encode(), hashlib.sha256).hexdigest()
    for secret in tokens.values():
        assert secret not in dump
        assert secret.split("_", 2)[2] not in dump  # not even the secret part
        assert secret not in caplog.text
    assert row.last_used_at is not None


def test_a_revoked_token_and_its_sessions_stop_working(applied: Engine, tokens: dict[str, str], client: TestClient) -> None:
    from plan_tracker.services.tokens import revoke_token

    token = tokens["own"]
    assert client.get("/api/v1/me", headers=auth(token)).status_code == 200
    login(client, token)
    assert client.get("/portal", follow_redirects=False).status_code == 200
    revoke_token(applied, token.split("_")[1], now=dt.datetime(2018, 9, 2, tzinfo=dt.UTC))
    assert_error_shape(client.get("/api/v1/me", headers=auth(token)), 401, "invalid_token")
    assert client.get("/portal", follow_redirects=False).headers["location"] == "/login"


def test_a_token_from_another_secret_is_refused(applied: Engine) -> None:
    from plan_tracker.services.tokens import AuthenticationFailed

    token = _token(applied)
    authenticate(applied, token, secret_key=SECRET, now=dt.datetime(2018, 9, 1, tzinfo=dt.UTC))
    with pytest.raises(AuthenticationFailed):
        authenticate(applied, token, secret_key="another-secret", now=dt.datetime(2018, 9, 1, tzinfo=dt.UTC))


def test_tokens_from_the_command_line(cli_env: dict[str, str], plan_file: Any) -> None:
    from plan_tracker.cli import app as cli
    from plan_tracker.services.plans import apply_plan
    from plan_tracker.store.db import engine_for

    engine = engine_for(cli_env["PLAN_TRACKER_DATABASE_URL"])
    apply_plan(engine, plan_file)
    runner = CliRunner()
    made = runner.invoke(cli, ["tokens", "create", "--plan", PLAN_ID, "--unit", "town-a"])
    assert made.exit_code == 0, made.output
    token = made.stdout.strip().splitlines()[-1]
    assert token.startswith("pt_")
    prefix = token.split("_")[1]
    coordinator = runner.invoke(cli, ["tokens", "create", "--plan", PLAN_ID, "--coordinator"])
    assert coordinator.exit_code == 0
    listed = runner.invoke(cli, ["tokens", "list", "--plan", PLAN_ID, "--format", "json"])
    rows = [(t["prefix"], t["unit"], t["coordinator"]) for t in json.loads(listed.stdout)]
    assert (prefix, "town-a", False) in rows and len(rows) == 2
    assert token not in listed.stdout
    assert "为计划" in made.stderr and "单位 town-a" in made.stderr and "只显示这一次" in made.stderr
    table = runner.invoke(cli, ["tokens", "list"])
    assert table.exit_code == 0 and "持有人" in table.stdout and "牵头协调人" in table.stdout
    assert runner.invoke(cli, ["tokens", "revoke", prefix]).exit_code == 0
    assert f"已吊销令牌 {prefix}" in runner.invoke(cli, ["tokens", "revoke", prefix]).stdout
    bad = [runner.invoke(cli, args) for args in (
        ["tokens", "create", "--plan", PLAN_ID, "--unit", "nobody"],
        ["tokens", "create", "--plan", PLAN_ID],
        ["tokens", "create", "--plan", "no-plan", "--coordinator"],
        ["tokens", "revoke", "0000000000"],
    )]
    assert [b.exit_code for b in bad] == [2, 2, 2, 2], [b.output for b in bad]
    assert token not in _dump(engine)


# -- rate limiting ---------------------------------------------------------------------------------
def test_failed_authentication_is_rate_limited_per_client(applied: Engine, settings: Any, clock: Any,
                                                          tokens: dict[str, str]) -> None:
    from plan_tracker.web.app import create_app

    limited = create_app(applied, settings.model_copy(update={"auth_max_failures": 3, "auth_failure_window_s": 60}),
                         today=clock)
    seconds = [1000.0]
    limited.state.limiter.clock = lambda: seconds[0]
    limited.state.refusals.clock = lambda: seconds[0]
    with TestClient(limited) as client:
        wrong = auth(tokens["own"][:-2] + "zz")
        assert [client.get("/api/v1/me", headers=wrong).status_code for _ in range(3)] == [401, 401, 401]
        blocked = client.get("/api/v1/me", headers=auth(tokens["own"]))  # even a good token now
        assert_error_shape(blocked, 429, "rate_limited")
        assert int(blocked.headers["Retry-After"]) >= 1
        login(client, tokens["own"], status=429)
        # another client is not affected
        with TestClient(limited, client=("10.0.0.9", 5000)) as other:
            assert other.get("/api/v1/me", headers=auth(tokens["own"])).status_code == 200
        seconds[0] += 61
        assert client.get("/api/v1/me", headers=auth(tokens["own"])).status_code == 200
    # refused (429) attempts cost no write; the 3 failures of one minute: the first in full,
    # the other two counted in one event (written when the server stopped)
    assert len(events(applied, "auth.failed")) == 1
    assert [e["payload"]["count"] for e in events(applied, "auth.refused.repeated")] == [2]


# -- serve -------------------------------------------------------------------------------------
def test_serve_starts_the_portal_and_api(cli_env: dict[str, str], tmp_path: Any) -> None:
    import os
    import subprocess
    import sys
    import time

    import httpx
    from tests.conftest import free_port

    port = free_port()
    env = {**os.environ, **cli_env, "PLAN_TRACKER_TOKEN_SECRET": SECRET}
    cli = [sys.executable, "-c", "from plan_tracker.cli import main; main()"]
    proc = subprocess.Popen([*cli, "serve", "--port", str(port)], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError(proc.stdout.read().decode() if proc.stdout else "serve did not start") from None
                time.sleep(0.1)
        assert response.status_code == 200 and response.json()["info"]["title"] == "plan-tracker API"
        login = httpx.get(f"http://127.0.0.1:{port}/login")
        assert "访问令牌" in login.text
    finally:
        proc.terminate()
        proc.wait(timeout=10)

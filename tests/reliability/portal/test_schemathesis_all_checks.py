"""Schemathesis' own command line (`st run --checks all`) against a real `serve` process, once
with a unit's token and once with the coordinator's: every phase (coverage, fuzzing,
stateful), every check — server errors, status codes, content types, response schemas and
headers, positive data accepted and negative data rejected, authentication ignored, the
object-level authorisation probe — with a fixed seed.

Bounded in `make test` (`-n 50` per operation); `make schemathesis` runs the long form
(`-n 500`) and writes the figures RELIABILITY.md quotes.

Two settings of the run, each for a reason:
- `positive_data_acceptance` accepts 422, because a schema-valid request may still break a
  rule no schema can state (a date in the future, after the due date, outside the calendar:
  422 `invalid`). The hook `positive_data_passes_validation` (schemathesis_hooks.py) keeps
  the contract strict: a schema-valid request never gets 422 `validation_error`.
- Path identifiers are drawn from the store's real objects most of the time (dictionaries),
  so requests reach the workflow rules and the database instead of stopping at 404.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from tests.reliability.conftest import LONG, ROOT, Figures
from tests.web.serving import PLAN_ID, SECRET, Server, cli_env, prepare_store, start_serve, stop

EXAMPLES = 500 if LONG else 50  # per operation, in the fuzzing phase (coverage adds its own)
SEED = 14


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("schemathesis")
    engine, tokens = prepare_store(folder)
    # schemathesis removes the token on purpose (the `ignored_auth` check): without a high
    # limit, the run's own 401s would get every later request 429
    base, proc = start_serve(folder, cli_env(folder, PLAN_TRACKER_TOKEN_SECRET=SECRET,
                                             PLAN_TRACKER_AUTH_MAX_FAILURES="1000000"))
    try:
        yield Server(base, proc, engine, tokens, folder)
    finally:
        stop(proc)
        engine.dispose()


def config_file(server: Server) -> Path:
    """Dictionaries of real identifiers: every obligation, a done report, a pending extension."""
    own = {"Authorization": f"Bearer {server.tokens['own']}"}
    with server.engine.connect() as conn:
        obligations = [int(i) for i in conn.execute(text("SELECT id FROM obligation ORDER BY id")).scalars()]
        town_a = conn.execute(text("SELECT id FROM obligation WHERE unit_id = 'town-a'")).scalar_one()
    report = httpx.post(f"{server.base}/api/v1/plans/{PLAN_ID}/obligations/{town_a}/reports", headers=own,
                        json={"status": "done"})
    assert report.status_code == 201, report.text
    other = {"Authorization": f"Bearer {server.tokens['other']}"}
    town_b = obligations[1]
    extension = httpx.post(f"{server.base}/api/v1/plans/{PLAN_ID}/obligations/{town_b}/extensions", headers=other,
                           json={"new_due": f"{dt.date.today().year + 1}-12-20", "reason": "等待上级文件"})
    assert extension.status_code == 201, extension.text
    path = server.folder / "schemathesis.toml"
    path.write_text(f"""\
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "401", "403", "404", "409", "422"]

[dictionaries.plans]
values = ["{PLAN_ID}"]
[dictionaries.obligations]
values = {obligations}
[dictionaries.reports]
values = [{report.json()["report_id"]}]
[dictionaries.extensions]
values = [{extension.json()["id"]}]

[parameters]
"path.plan_id" = {{ dictionary = "plans", probability = 0.8 }}
"path.obligation_id" = {{ dictionary = "obligations", probability = 0.6 }}
"path.report_id" = {{ dictionary = "reports", probability = 0.6 }}
"path.extension_id" = {{ dictionary = "extensions", probability = 0.6 }}
""", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def config(server: Server) -> Path:
    return config_file(server)


@pytest.mark.slow
@pytest.mark.parametrize("role", ["own", "coordinator"])
def test_schemathesis_finds_nothing_with_every_check(role: str, server: Server, config: Path,
                                                     figures: Figures) -> None:
    st = Path(sys.executable).with_name("st")
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.reliability.portal.schemathesis_hooks",
           "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [str(st), "--config-file", str(config), "run", f"{server.base}/api/v1/openapi.json", "--checks", "all",
         "-H", f"Authorization: Bearer {server.tokens[role]}", "-n", str(EXAMPLES), "--seed", str(SEED),
         "--generation-database", "none", "--no-color"],
        capture_output=True, text=True, env=env, cwd=server.folder, timeout=3600)  # its cache goes there
    summary = re.search(r"(\d+) generated, (?:(\d+) passed|(\d+) found (\d+) unique failures?)", run.stdout)
    assert summary, run.stdout[-3000:] + run.stderr[-3000:]
    generated = int(summary.group(1))
    failures = int(summary.group(4) or 0)
    figures.record(f"schemathesis_all_checks_{role}", examples_per_operation=EXAMPLES, seed=SEED,
                   cases=generated, failures=failures, operations=11)
    assert run.returncode == 0 and failures == 0, run.stdout[-6000:]
    assert generated >= 11 * EXAMPLES  # the run really ran (coverage adds its own cases)

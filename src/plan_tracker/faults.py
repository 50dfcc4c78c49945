"""Fault injection for the reliability tests: SIGKILL this process at a chosen point.

Only the crash harness (`tests/reliability/`) sets `PLAN_TRACKER_FAULT`; this module is the
only code that reads it. Unset — always, in production — every hook returns at once.

    PLAN_TRACKER_FAULT=<point>:<n>     kill at the n-th arrival at a named point
    PLAN_TRACKER_FAULT=commit:<n>      kill right after the process's n-th database commit
    PLAN_TRACKER_FAULT=precommit:<n>   kill instead of the n-th commit (its work is lost)
    PLAN_TRACKER_FAULT=<point>:<n>:hang  stop at the n-th arrival and wait to be killed from
                                       outside (the killed-worker test SIGKILLs the Prefect
                                       worker and its flow process mid-run)

Named points (where `point(name)` is called):

    nightly.started     the NightlyRun row is written, no stage has run
    nightly.collected   the inbox is ingested
    evaluate.batch      an evaluation batch (lights, flips, reminders, deliveries) committed
    nightly.evaluated   every reminder of the night is raised, nothing delivered yet
    deliver.claimed     a batch of recipients' deliveries is claimed (`sending`), not yet sent
    deliver.frozen      a batch's fresh messages are rendered and stored with their deliveries
    deliver.sent        a message went out, its `sent` record is not written: the crash window
    deliver.written     the file outbox wrote and flushed a batch's files, none renamed into place yet
    deliver.synced      a file outbox batch is durable (files and folder fsynced), not yet
                        recorded `sent`: the crash window of the file outbox
    deliver.helping     a process of a split delivery, done with its own share, is about to
                        claim a batch of another's (`services.delivery.Share.helping`)
    nightly.delivered   delivery is over, the snapshot is not taken
    nightly.reported    the report stage is over, the run is not marked finished

`commit:` and `precommit:` sweep every transaction boundary of a run without naming them:
with `precommit`, a kill before the commit of a delivery's `sent` record is exactly the
crash window after a send.

SIGKILL, not an exception: no `finally`, no rollback, no flush — what a power cut or the
OOM killer leaves behind.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

ENV = "PLAN_TRACKER_FAULT"
_arrivals: dict[str, int] = {}


def _spec() -> tuple[str, int] | None:
    raw = os.environ.get(ENV)
    if not raw:
        return None
    name, _, rest = raw.partition(":")
    count = rest.partition(":")[0]
    return name.strip(), int(count or 1)


def _hangs() -> bool:
    return os.environ.get(ENV, "").endswith(":hang")


def _arrive(name: str, target: tuple[str, int]) -> bool:
    """Count an arrival at `name`; True when it is the one to kill at."""
    if target[0] != name:
        return False
    _arrivals[name] = _arrivals.get(name, 0) + 1
    return _arrivals[name] == target[1]


def kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def point(name: str) -> None:
    """A named fault point: kills the process when `PLAN_TRACKER_FAULT` names it."""
    target = _spec()
    if target is not None and _arrive(name, target):
        if _hangs():  # a process frozen mid-run, until something outside kills it
            while True:
                time.sleep(1)
        kill()


def arm(engine: Any) -> None:
    """Count the engine's commits for `commit:N` / `precommit:N` (called by `make_engine`)."""
    target = _spec()
    if target is None or target[0] not in ("commit", "precommit"):
        return
    from sqlalchemy import event

    @event.listens_for(engine, "commit")
    def _on_commit(conn: Any) -> None:  # runs just before the DBAPI commit
        if not _arrive(target[0], target):
            return
        if target[0] == "commit":
            conn.connection.dbapi_connection.commit()  # make it durable, then die
        kill()

"""A night's delivery split between processes, and the processes started ahead for it.

A night with many recipients due (`Settings.delivery_split_from`) is delivered by several
processes at once (`Settings.delivery_workers`; one per core, at most MAX_PROCESSES): this
one delivers the first share, and each other share goes to a new interpreter
(`python -m plan_tracker.reports.delivery_processes`) that reads its work on stdin and
answers with its summary on stdout. The shares hold disjoint recipients
(`services.delivery.split_run`); a process done with its own helps with the others' from
their far ends (`services.delivery.Share.helping`), the claim statement keeping the
processes apart.

An interpreter takes about a second to start and import the delivery code. A night whose
plan has enough recipients to split starts its other processes when it begins
(`ready_processes`), so they import while this one evaluates (at a lower priority: on SQLite
too the evaluation now keeps both cores busy, one connection deciding while another writes,
and it goes first); a night that turns out not to split lets them go unused.

A new interpreter, not a fork: a Prefect flow runs the night in a thread beside others,
whose locks a fork would copy in whatever state they were; and not multiprocessing's
spawn, which runs the caller's main script again in the child.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, func, select

from plan_tracker.background import yield_to_the_night
from plan_tracker.process_end import leave_memory_to_the_os
from plan_tracker.services.context import PlanContext
from plan_tracker.store.db import in_memory

MAX_PROCESSES = 4
logger = logging.getLogger(__name__)


class DeliveryProcessLost(RuntimeError):
    """A delivery process of the run died (killed, out of memory). Its claimed rows stay
    `sending` and go again after the lease, like those of a killed night."""


def wanted_processes(engine: Engine, settings: Any, factory: Any) -> int:
    """How many processes may deliver a night: one per core (at most MAX_PROCESSES, or
    `Settings.delivery_workers`); always one for a test's channels (they live in this
    process) and an in-memory store."""
    wanted = settings.delivery_workers or min(os.cpu_count() or 1, MAX_PROCESSES)
    return 1 if factory is not None or in_memory(engine.url) else wanted


def delivery_shares(engine: Engine, plan_id: str, now: dt.datetime, settings: Any, factory: Any) -> list[Any]:
    """The run's shares, one per delivery process, when `Settings.delivery_split_from`
    recipients or more are due; else the whole run in this process."""
    from plan_tracker.services.delivery import WHOLE_RUN, split_run

    wanted = wanted_processes(engine, settings, factory)
    if wanted <= 1:
        return [WHOLE_RUN]
    shares = split_run(engine, plan_id, now, settings, wanted)
    if sum(len(share.keys or ()) for share in shares) < settings.delivery_split_from:
        return [WHOLE_RUN]
    busy = [share for share in shares if share.first or share.keys]  # no process for an empty share
    return busy if len(busy) > 1 else [WHOLE_RUN]


class ReadyProcesses:
    """Delivery interpreters started before they are needed, each waiting for one share.
    One not taken is let go (its stdin closed: it exits without a word)."""

    def __init__(self) -> None:
        self._idle: list[subprocess.Popen[bytes]] = []

    def start(self, count: int) -> None:
        self._idle += [_start_process() for _ in range(count)]

    @property
    def pids(self) -> list[int]:
        """The waiting processes' ids (the bench waits for them to finish warming up)."""
        return [process.pid for process in self._idle]

    def take(self) -> subprocess.Popen[bytes]:
        return self._idle.pop() if self._idle else _start_process()

    def close(self) -> None:
        idle, self._idle = self._idle, []
        for process in idle:
            process.communicate(b"")


NO_PROCESSES_READY = None


@contextmanager
def ready_processes(engine: Engine, plan_id: str, settings: Any, factory: Any) -> Iterator[ReadyProcesses | None]:
    """The other delivery processes of a night likely to split, started now: when the
    plan has `Settings.delivery_split_from` recipients or more (their deliveries may not
    all be due tonight; then the processes go unused). Let go when the night ends."""
    wanted = wanted_processes(engine, settings, factory)
    if wanted <= 1 or _recipients(engine, plan_id) < settings.delivery_split_from:
        yield NO_PROCESSES_READY
        return
    ready = ReadyProcesses()
    try:
        ready.start(wanted - 1)
        yield ready
    finally:
        ready.close()


def _recipients(engine: Engine, plan_id: str) -> int:
    from plan_tracker.store.outbox_models import RoleRecipient

    rr = RoleRecipient.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return int(conn.execute(select(func.count(rr.c.recipient_key.distinct()))
                                .where(rr.c.plan_id == plan_id)).scalar_one())


def deliver_split(engine: Engine, plan_id: str, *, now: dt.datetime, as_of: dt.date, settings: Any,
                  context: PlanContext | None, shares: list[Any], ready: ReadyProcesses | None,
                  known: dict[dt.date, Any]) -> Any:
    """Share 0 in this process, the others each in a process of its own, at once; then the
    reminders' states rolled up once. `known`: the week's report parts already built, sent
    to every process (the managers carrying it are in the last share)."""
    from plan_tracker.reports.weekly_mail import deliver_share_here
    from plan_tracker.services.delivery import roll_up_reminders

    url = engine.url.render_as_string(hide_password=False)
    first, *others = shares
    processes = [ready.take() if ready is not None else _start_process() for _ in others]
    with ThreadPoolExecutor(len(others)) as waiting:  # a thread waits on each process
        children = [waiting.submit(_run_share, process, (url, plan_id, now, as_of, settings, share, known))
                    for process, share in zip(processes, others, strict=True)]
        summary = deliver_share_here(engine, plan_id, now=now, as_of=as_of, settings=settings, context=context,
                                     share=first, known=known)
        for child in children:
            summary.add(child.result())
    roll_up_reminders(engine, plan_id)
    summary.processes = len(shares)
    return summary


PROCESS_MODULE = "plan_tracker.reports.delivery_processes"


def _start_process() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", PROCESS_MODULE, str(os.getpid())],  # noqa: S603  # this program
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _run_share(process: subprocess.Popen[bytes], work: tuple[Any, ...]) -> Any:
    out, err = process.communicate(pickle.dumps(work))
    said = err.decode("utf-8", "replace").strip()
    if process.returncode != 0:
        last = said.splitlines()[-1:] or [""]
        raise DeliveryProcessLost(f"a delivery process ended with status {process.returncode}: {last[0]}")
    if said:  # what the process warned of (a weak secret, say) reaches this run's log
        logger.warning("a delivery process said: %s", said)
    return pickle.loads(out)  # noqa: S301  # our own child, over its pipe


def deliver_share(url: str, plan_id: str, now: dt.datetime, as_of: dt.date, settings: Any, share: Any,
                  known: dict[dt.date, Any]) -> Any:
    """One share of a split delivery run, in a process of its own (`known`: the week's report
    parts the night has built)."""
    from plan_tracker.reports.weekly_mail import deliver_share_here
    from plan_tracker.store.db import make_engine

    engine = make_engine(url)
    try:
        return deliver_share_here(engine, plan_id, now=now, as_of=as_of, settings=settings, share=share, known=known)
    finally:
        engine.dispose()


def _die_with_parent(parent: int) -> None:
    """Linux: the kernel kills this process when the thread that started it ends, as a
    power cut would kill both; no share outlives its run (a rerun would find it still
    sending). The night starts these processes from the thread that runs the whole night."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the call
        os._exit(1)


def warm_up(locales: Sequence[str] = ("zh", "en")) -> None:
    """What a share's delivery imports and compiles (messages in `locales`), done while the
    night evaluates: by the processes started ahead, and by the night's own process."""
    import plan_tracker.inbox.forms
    import plan_tracker.inbox.signature
    import plan_tracker.inbox.template
    import plan_tracker.reports.schedule
    import plan_tracker.reports.weekly_mail
    import plan_tracker.services.delivery
    import plan_tracker.services.portal
    import plan_tracker.services.topics
    import plan_tracker.store.db
    import plan_tracker.token_secret  # noqa: F401  (what delivering imports on its way, listed by a night)
    from plan_tracker.services.messages import warm_templates

    warm_templates(locales)


def _warm_up_yielding() -> None:
    """The warm-up at a lower priority: it runs while the night evaluates (background)."""
    yield_to_the_night()
    warm_up()


def _serve() -> None:
    """A share's process: its work on stdin, its summary on stdout (both pickled, between two
    processes of this program only); no work at all when the night did not split."""
    _die_with_parent(int(sys.argv[1]))
    result = sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing printed on the way can mix into the summary
    warming = threading.Thread(target=_warm_up_yielding, name="warm-up")  # a thread: nice is per thread
    warming.start()
    warming.join()  # the share itself runs at the night's priority
    work = sys.stdin.buffer.read()
    if work:
        result.write(pickle.dumps(deliver_share(*pickle.loads(work))))  # noqa: S301  # from our parent
    result.flush()
    leave_memory_to_the_os()  # the parent waits for this process to exit (`_run_share`)


if __name__ == "__main__":
    _serve()

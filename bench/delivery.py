"""Delivery throughput (issue 17): the province's first-night messages delivered to the file
outbox and to a local SMTP server, and what one `fsync` costs here.

    python -m bench.delivery [--units 500]          # one JSON line per measurement

The store is the province's shape (`bench.province`: UNITS units × 17 monthly tasks) with its
first night evaluated (untimed); each measurement delivers that night's messages (two per
unit: contact and head, 15 items each) on a copy of the store, in-process:

- `deliver_file`: `services.delivery.deliver` to the file outbox (no reply forms), in one
  process: what `plan-tracker deliver` does;
- `deliver_file_stage`: the nightly's delivery stage (`deliver_with_weekly`), which attaches
  each unit contact's signed reply form (an XLSX) to the message and splits the run between
  the night's delivery processes, started ahead and warmed up before the clock starts (the
  night starts them while it evaluates); the median of LIMIT_RUNS runs, alternating with
  the hand-tuned limit in two processes (`deliver_file_limit_split`, no forms):
  `deliver_file_stage_vs_limit` has both medians and their ratio;
- `deliver_smtp`, `deliver_smtp_stage`: the same two to aiosmtpd (its `Sink` handler, in its
  own process, so the server does not share this interpreter's lock);
- `form_cost`: the reply forms alone, within that delivery (`deliver` to the file outbox
  with `inbox.forms.ReplyForms`, wrapped to time its calls): milliseconds of wall time per
  form and the SQL statements the forms ran, per form and in all;
- `deliver_file_limit`: the same delivery as `deliver_file` by the hand-tuned limit
  (`bench.delivery_limit`: one claim, one read, f-strings, the same files and records),
  run alternately with `deliver_file` (LIMIT_RUNS each): `deliver_file_vs_limit` has both
  medians and their ratio;
- `fsync`: N files of a message's size written one by one with an `fsync` each (what the
  outbox did per message), and as one group (written, `fsync`ed by 8 threads, the folder
  `fsync`ed once: what it does now); and what creating an empty file costs here (the
  kernel allocating an inode), which bounds any outbox that writes a file per message;
- `channel_file`, `channel_smtp`: the channels alone on ready messages (no store, no
  rendering): the file outbox one `send` per message against `send_group` per batch; SMTP
  one connection per message against one session per batch.

SQLite only (the store is copied between measurements).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench import cpu, settle_writes
from bench.bytecode import compile_package
from bench.province import FIRST_NIGHT, NOW, UNITS, write_province_plan

PLAN = "province-2018"
FSYNC_FILES = 200
LIMIT_RUNS = 3  # ours and the limit alternately: this machine's file system changes speed by the minute
MESSAGE_BYTES = 12_000  # about a province message with its text and HTML parts


def prepare(folder: Path, units: int) -> Path:
    """The province's store with its first night evaluated; returns the SQLite file."""
    import bench.province as province
    from plan_tracker.services.nightly import evaluate
    from plan_tracker.services.plans import apply_plan
    from plan_tracker.store.db import make_engine, migrate

    province.UNITS = units  # write_province_plan reads it
    plan_file = write_province_plan(folder / "plan", PLAN)
    path = folder / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    apply_plan(engine, plan_file, actor="bench", source="bench")
    evaluate(engine, PLAN, FIRST_NIGHT, now=NOW)
    engine.dispose()
    return path


def copy_store(template: Path, work: Path) -> None:
    """The prepared store copied for one measurement, on disk before the clock starts."""
    shutil.copy(template, work / "store.sqlite3")
    settle_writes()


def timed_delivery(template: Path, folder: Path, step: str, *, stage: bool = False, run: int | None = None,
                   **settings: Any) -> dict[str, Any]:
    """One delivery of the prepared store's night, timed, as the row `step`: the night's
    delivery stage with `stage`, else `plan-tracker deliver`'s (`run`: the folder's number
    when the step is measured several times)."""
    from plan_tracker.reports.delivery_processes import ready_processes
    from plan_tracker.reports.weekly_mail import deliver_with_weekly
    from plan_tracker.services.delivery import deliver
    from plan_tracker.settings import Settings
    from plan_tracker.store.db import make_engine

    work = folder / (step if run is None else f"{step}-{run}")
    work.mkdir()
    copy_store(template, work)
    engine = make_engine(f"sqlite:///{work / 'store.sqlite3'}")
    configured = Settings(data_dir=work / "var", **settings)
    if stage:  # as the night runs it: its other processes started ahead
        with ready_processes(engine, PLAN, configured, None) as ready:
            _wait_warm(ready)
            clock = cpu.CpuClock(ready.pids if ready is not None else ())
            started = time.perf_counter()
            summary = deliver_with_weekly(engine, PLAN, now=NOW, as_of=FIRST_NIGHT, settings=configured, ready=ready)
            seconds = time.perf_counter() - started
    else:
        clock = cpu.CpuClock()
        started = time.perf_counter()
        summary = deliver(engine, PLAN, now=NOW, as_of=FIRST_NIGHT, settings=configured)
        seconds = time.perf_counter() - started
    cpu_seconds = clock.seconds()  # the processes the stage took have been waited for
    engine.dispose()
    return {"step": step, "seconds": round(seconds, 3), "messages": summary.messages_sent,
            "deliveries": summary.deliveries_sent, "failed": summary.failed, "processes": summary.processes,
            "messages_per_s": round(summary.messages_sent / seconds, 1),
            "cpu_ms_per_message": cpu.per_message_ms(cpu_seconds, summary.messages_sent)}


def _wait_warm(ready: Any, limit_s: float = 15.0) -> None:
    """Until the processes started ahead have imported what they need (their CPU time stops
    growing): the night starts them while it evaluates, which takes longer than that."""
    if ready is None:
        return
    pids = ready.pids
    deadline, last = time.monotonic() + limit_s, -1
    while time.monotonic() < deadline:
        ticks = sum(cpu.ticks(pid) for pid in pids)
        if ticks == last:
            return
        last = ticks
        time.sleep(0.3)


class _Stopwatch:
    """Time (wall and CPU) spent inside a `FormSource`'s calls, each call's, and the SQL
    statements run meanwhile."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.cpu_seconds = 0.0
        self.statements = 0
        self.inside = False
        self.calls: list[tuple[str, float, int]] = []  # (method, wall seconds, forms made)

    def count(self, *_: Any) -> None:
        if self.inside:
            self.statements += 1

    def timed(self, name: str, call: Any) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            self.inside = True
            started, cpu = time.perf_counter(), time.process_time()
            found: Any = None
            try:
                found = call(*args, **kwargs)
                return found
            finally:
                took = time.perf_counter() - started
                self.seconds += took
                self.cpu_seconds += time.process_time() - cpu
                self.calls.append((name, took, len(found) if name == "for_message" and found else 0))
                self.inside = False
        return run


def form_cost(template: Path, folder: Path) -> dict[str, Any]:
    """The forms' share of the first night's delivery: ms per form (all told, in CPU, and the
    median form after the first call, which pays the imports and the night's context) and
    statements per form."""
    from sqlalchemy import event

    from plan_tracker.inbox.forms import ReplyForms
    from plan_tracker.services.delivery import deliver
    from plan_tracker.settings import Settings
    from plan_tracker.store.db import make_engine

    work = folder / "form_cost"
    work.mkdir()
    copy_store(template, work)
    engine = make_engine(f"sqlite:///{work / 'store.sqlite3'}")
    watch = _Stopwatch()
    event.listen(engine, "before_cursor_execute", watch.count)
    forms = ReplyForms(engine, Settings(data_dir=work / "var"))
    for name in ("for_message", "prefetch"):  # `prefetch`: the batch's one read, where there is one
        if hasattr(forms, name):
            setattr(forms, name, watch.timed(name, getattr(forms, name)))
    started = time.perf_counter()
    summary = deliver(engine, PLAN, now=NOW, as_of=FIRST_NIGHT, settings=Settings(data_dir=work / "var"), forms=forms)
    seconds = time.perf_counter() - started
    engine.dispose()
    made = sum(n for _, _, n in watch.calls)
    later = sorted(took / n for _, took, n in watch.calls[1:] if n)
    return {"step": "form_cost", "messages": summary.messages_sent, "forms": made,
            "delivery_seconds": round(seconds, 3), "forms_seconds": round(watch.seconds, 3),
            "ms_per_form": round(watch.seconds / max(made, 1) * 1000, 3),
            "cpu_ms_per_form": round(watch.cpu_seconds / max(made, 1) * 1000, 3),
            "first_call_ms": round(watch.calls[0][1] * 1000, 1) if watch.calls else None,
            "median_ms_per_form_after_first_call": round(later[len(later) // 2] * 1000, 3) if later else None,
            "prefetch_ms": round(sum(t for name, t, _ in watch.calls if name == "prefetch") * 1000, 1),
            "statements": watch.statements, "statements_per_form": round(watch.statements / max(made, 1), 2)}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _sink() -> tuple[int, subprocess.Popen[bytes]]:
    """aiosmtpd with its Sink handler in its own process; (port, process) once it listens."""
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
                               "-c", "aiosmtpd.handlers.Sink"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    return port, server


def _beside_limit(template: Path, folder: Path, step: str, limit: Callable[[Path], dict[str, Any]], *,
                  stage: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """`timed_delivery` as `step` and `limit` (on a copy of the store in a folder of its
    own) alternately, LIMIT_RUNS times each: the rows of each, and `<step>_vs_limit` with
    both medians and their ratio."""
    from statistics import median

    ours: list[dict[str, Any]] = []
    theirs: list[dict[str, Any]] = []
    for run in range(LIMIT_RUNS):
        ours.append(timed_delivery(template, folder, step, stage=stage, run=run))
        work = folder / f"{step}-limit-{run}"
        work.mkdir()
        copy_store(template, work)
        theirs.append({**limit(work), "run": run})
    seconds, limit_seconds = (median(row["seconds"] for row in rows) for rows in (ours, theirs))
    cpu_ms, limit_cpu_ms = (median(row["cpu_ms_per_message"] for row in rows) for rows in (ours, theirs))
    messages = ours[0]["messages"]
    return ours, theirs, {"step": f"{step}_vs_limit", "messages": messages, "seconds": seconds,
                          "limit_seconds": limit_seconds, "ratio": round(seconds / limit_seconds, 2),
                          "messages_per_s": round(messages / seconds, 1),
                          "limit_messages_per_s": round(messages / limit_seconds, 1),
                          # what the cores allow at each one's CPU cost: a rate near it is CPU-bound
                          "cores": cpu.cores(), "cpu_ms_per_message": cpu_ms, "limit_cpu_ms_per_message": limit_cpu_ms,
                          "cores_allow_per_s": cpu.cpu_bound_rate(cpu_ms),
                          "limit_cores_allow_per_s": cpu.cpu_bound_rate(limit_cpu_ms)}


def limit_delivery(template: Path, folder: Path) -> list[dict[str, Any]]:
    """`deliver_file` and its hand-tuned limit alternately: the limit's rows and
    `deliver_file_vs_limit`."""
    from bench.delivery_limit import deliver_limit

    _, theirs, versus = _beside_limit(
        template, folder, "deliver_file",
        lambda work: deliver_limit(work / "store.sqlite3", work / "outbox", PLAN, NOW, FIRST_NIGHT), stage=False)
    return [*theirs, versus]


def stage_delivery(template: Path, folder: Path) -> list[dict[str, Any]]:
    """The night's delivery stage (`deliver_file_stage`: two processes, reply forms) and the
    hand-tuned limit in two processes (`bench.delivery_limit.deliver_limit_split`, no forms)
    alternately: the stage's median run (`runs` has them all), the limit's rows and
    `deliver_file_stage_vs_limit`."""
    from bench.delivery_limit import deliver_limit_split

    ours, theirs, versus = _beside_limit(
        template, folder, "deliver_file_stage",
        lambda work: deliver_limit_split(work / "store.sqlite3", work / "outbox", PLAN, NOW, FIRST_NIGHT), stage=True)
    middle = sorted(ours, key=lambda row: row["seconds"])[len(ours) // 2]
    return [{**middle, "runs": [row["seconds"] for row in ours]}, *theirs, versus]


def smtp_delivery(template: Path, folder: Path, *, stage: bool) -> dict[str, Any]:
    port, server = _sink()
    try:
        return timed_delivery(template, folder, "deliver_smtp_stage" if stage else "deliver_smtp", stage=stage,
                              smtp_host="127.0.0.1", smtp_port=port)
    finally:
        server.terminate()
        server.wait(10)


def fsync_cost(folder: Path, files: int = FSYNC_FILES) -> dict[str, Any]:
    """Per-file cost of one `fsync` each, serially, against the group: write all, fsync in
    8 threads, fsync the folder once."""
    data = os.urandom(MESSAGE_BYTES)
    serial, group = folder / "fsync-serial", folder / "fsync-group"
    serial.mkdir()
    group.mkdir()
    started = time.perf_counter()
    for n in range(files):
        with open(serial / f"{n}.eml", "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    one_by_one = time.perf_counter() - started
    started = time.perf_counter()
    fds = []
    for n in range(files):
        fd = os.open(group / f"{n}.eml", os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, data)
        fds.append(fd)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(os.fsync, fds))
    for fd in fds:
        os.close(fd)
    dir_fd = os.open(group, os.O_RDONLY)
    os.fsync(dir_fd)
    os.close(dir_fd)
    together = time.perf_counter() - started
    return {"step": "fsync", "files": files, "bytes": MESSAGE_BYTES,
            "ms_per_file_serial": round(one_by_one / files * 1000, 3),
            "ms_per_file_group": round(together / files * 1000, 3),
            "ms_per_create": _create_cost(folder / "create", files)}


def _create_cost(folder: Path, files: int) -> float:
    """Milliseconds of one empty file's creation (open with O_CREAT|O_EXCL, close)."""
    folder.mkdir()
    started = time.perf_counter()
    for n in range(files):
        os.close(os.open(folder / f"{n}.eml", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    return round((time.perf_counter() - started) / files * 1000, 3)


def _messages(count: int) -> list[Any]:
    from plan_tracker.channels import Message

    body = "\n".join(f"{n}. 月度任务{n % 17}（县{n}）：已逾期 {n % 9} 个工作日，请尽快报送进展。" for n in range(15))
    return [Message(recipient_name=f"联络员{n}", address=f"c{n}@example.org", subject=f"【督办提醒】县{n}：15 项待报送",
                    text=body * 4, html=f"<p>{body}</p>" * 4, message_key=f"bench-{n}", plan_id=PLAN)
            for n in range(count)]


def channel_rates(folder: Path, count: int = 1000) -> list[dict[str, Any]]:
    """Messages per second through each channel alone, the former way and the batched way."""
    from plan_tracker.channels import FileOutboxChannel, SmtpChannel

    messages = _messages(count)
    one, group = FileOutboxChannel(folder / "one"), FileOutboxChannel(folder / "group")
    started = time.perf_counter()
    for message in messages:
        one.send(message)
    serial = time.perf_counter() - started
    started = time.perf_counter()
    for start in range(0, count, 256):
        group.send_group(messages[start:start + 256])
    grouped = time.perf_counter() - started
    rows = [{"step": "channel_file", "messages": count, "per_message_send_per_s": round(count / serial, 1),
             "send_group_per_s": round(count / grouped, 1)}]
    port, server = _sink()
    try:
        smtp = SmtpChannel("127.0.0.1", port)
        few = messages[:300]
        started = time.perf_counter()
        for message in few:
            smtp.send(message)
        serial = time.perf_counter() - started
        started = time.perf_counter()
        for start in range(0, len(few), 50):
            with smtp.session() as send:
                for message in few[start:start + 50]:
                    send(message)
        reused = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(10)
    rows.append({"step": "channel_smtp", "messages": len(few), "connection_per_message_per_s": round(len(few) / serial, 1),
                 "session_per_batch_per_s": round(len(few) / reused, 1)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=UNITS, help="units of the province plan (2 messages each)")
    parser.add_argument("--only", default="file,limit,forms,form_cost,smtp,fsync,channels",
                        help="which measurements, comma-separated")
    args = parser.parse_args()
    compile_package()  # as an installed wheel has it (bench.bytecode)
    wanted = set(args.only.split(","))
    folder = Path(tempfile.mkdtemp(prefix="bench-delivery-"))
    try:
        template = prepare(folder, args.units) if wanted & {"file", "limit", "forms", "form_cost", "smtp"} else None
        rows = []
        if template is not None and "file" in wanted:
            rows.append(timed_delivery(template, folder, "deliver_file"))
        if template is not None and "limit" in wanted:
            rows += limit_delivery(template, folder)
        if template is not None and "forms" in wanted:
            rows += stage_delivery(template, folder)
        if template is not None and "form_cost" in wanted:
            rows.append(form_cost(template, folder))
        if template is not None and "smtp" in wanted:
            rows.append(smtp_delivery(template, folder, stage=False))
            rows.append(smtp_delivery(template, folder, stage=True))
        if "fsync" in wanted:
            rows.append(fsync_cost(folder))
        if "channels" in wanted:
            rows += channel_rates(folder)
        for row in rows:
            print(json.dumps(row, ensure_ascii=False), flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Delivery throughput (issue 17): the province's first-night messages delivered to the file
outbox and to a local SMTP server, and what one `fsync` costs here.

    python -m bench.delivery [--units 500]          # one JSON line per measurement

The store is the province's shape (`bench.province`: UNITS units × 17 monthly tasks) with its
first night evaluated (untimed); each measurement delivers that night's messages (two per
unit: contact and head, 15 items each) on a copy of the store, in-process:

- `deliver_file`: `services.delivery.deliver` to the file outbox (no reply forms);
- `deliver_file_forms`: the nightly's delivery stage (`deliver_with_weekly`), which attaches
  each unit contact's signed reply form (an XLSX) to the message;
- `deliver_smtp`: `deliver` to aiosmtpd (its `Sink` handler, in its own process, so the
  server does not share this interpreter's lock);
- `fsync`: N files of a message's size written one by one with an `fsync` each (what the
  outbox did per message), and as one group (written, `fsync`ed by 8 threads, the folder
  `fsync`ed once: what it does now).

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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.province import FIRST_NIGHT, NOW, UNITS, write_province_plan

PLAN = "province-2018"
FSYNC_FILES = 200
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


def timed_delivery(template: Path, folder: Path, name: str, **settings: Any) -> dict[str, Any]:
    from plan_tracker.reports.weekly_mail import deliver_with_weekly
    from plan_tracker.services.delivery import deliver
    from plan_tracker.settings import Settings
    from plan_tracker.store.db import make_engine

    work = folder / name
    work.mkdir()
    shutil.copy(template, work / "store.sqlite3")
    engine = make_engine(f"sqlite:///{work / 'store.sqlite3'}")
    configured = Settings(data_dir=work / "var", **settings)
    run = deliver_with_weekly if name.endswith("forms") else deliver
    started = time.perf_counter()
    summary = run(engine, PLAN, now=NOW, as_of=FIRST_NIGHT, settings=configured)
    seconds = time.perf_counter() - started
    engine.dispose()
    return {"step": name, "seconds": round(seconds, 3), "messages": summary.messages_sent,
            "deliveries": summary.deliveries_sent, "failed": summary.failed,
            "messages_per_s": round(summary.messages_sent / seconds, 1)}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def smtp_delivery(template: Path, folder: Path) -> dict[str, Any]:
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
                               "-c", "aiosmtpd.handlers.Sink"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # wait for the greeting port
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        return timed_delivery(template, folder, "deliver_smtp", smtp_host="127.0.0.1", smtp_port=port)
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
            "ms_per_file_group": round(together / files * 1000, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=UNITS, help="units of the province plan (2 messages each)")
    parser.add_argument("--only", default="file,forms,smtp,fsync", help="which measurements, comma-separated")
    args = parser.parse_args()
    wanted = set(args.only.split(","))
    folder = Path(tempfile.mkdtemp(prefix="bench-delivery-"))
    try:
        template = prepare(folder, args.units) if wanted & {"file", "forms", "smtp"} else None
        rows = []
        if template is not None and "file" in wanted:
            rows.append(timed_delivery(template, folder, "deliver_file"))
        if template is not None and "forms" in wanted:
            rows.append(timed_delivery(template, folder, "deliver_file_forms"))
        if template is not None and "smtp" in wanted:
            rows.append(smtp_delivery(template, folder))
        if "fsync" in wanted:
            rows.append(fsync_cost(folder))
        for row in rows:
            print(json.dumps(row, ensure_ascii=False), flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()

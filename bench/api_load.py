"""Status submissions through the real API under concurrent clients.

Starts `plan-tracker serve` (uvicorn, access log off) on a free loopback port over a store
holding a synthetic plan, gives each of N clients its own unit token, and has every client
submit reports on its own obligations for a bounded time, one request at a time over its
own keep-alive HTTP/1.1 connection (a closed loop). Prints throughput, p50/p99 latency and
the CPU each side spent per submission.

    python -m bench.api_load [--clients 32] [--seconds 10] [--size 10000] [--db URL] [--client raw|httpx]

The clients (`--client raw`, the default) write the request bytes and read the answer with
asyncio streams: on a 2-core machine that the server shares with its load, httpx's ~0.75 ms
of client CPU per request would take a core from the server at 400/s. Every answer is still
checked: status 201 and a receipt for the obligation asked about. `--client httpx` measures
with httpx instead.

Target (issue 7): ≥ 300 submissions/s with p99 ≤ 100 ms at 32 clients on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.synthetic import write_plan

TARGET_PER_S = 300
TARGET_P99_MS = 100


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare(url: str, folder: Path, size: int, clients: int, secret: str) -> tuple[str, list[str]]:
    import datetime as dt

    from plan_tracker.services.plans import apply_plan
    from plan_tracker.services.tokens import create_token
    from plan_tracker.store.db import make_engine, migrate

    engine = make_engine(url)
    migrate(engine)
    plan_file = write_plan(folder, size)
    apply_plan(engine, plan_file, actor="bench", source="bench")
    now = dt.datetime.now(dt.UTC)
    tokens = [create_token(engine, secret_key=secret, plan_id=plan_file.stem, unit_id=f"u{i:06d}", now=now).token
              for i in range(clients)]
    engine.dispose()
    return plan_file.stem, tokens


def _report(n: int) -> dict[str, Any]:
    return {"status": "in_progress", "progress": n % 100, "note": f"第{n}次报送"}


class _Tally:
    def __init__(self) -> None:
        self.deadline = math.inf  # set when every client is connected
        self.latencies: list[float] = []
        self.errors: list[str] = []

    def check(self, status: int, body: bytes, oid: int) -> None:
        if status != 201:
            self.errors.append(f"{status} {body[:200].decode(errors='replace')}")
            return
        receipt = json.loads(body)
        if receipt.get("obligation", {}).get("id") != oid or not receipt.get("report_id"):
            self.errors.append(f"201 without a receipt for obligation {oid}: {body[:200]!r}")


async def _own_obligations(base: str, plan: str, token: str) -> list[int]:
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        listed = (await http.get(f"/api/v1/plans/{plan}/obligations", params={"limit": 200})).json()
    return [row["id"] for row in listed]


async def _raw_client(host: str, port: int, plan: str, token: str, ids: list[int], start: asyncio.Event,
                      tally: _Tally) -> None:
    """One keep-alive connection, one request at a time."""
    reader, writer = await asyncio.open_connection(host, port)
    head = (f"Host: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\n").encode()
    await start.wait()
    n = 0
    try:
        while time.perf_counter() < tally.deadline:
            oid = ids[n % len(ids)]
            n += 1
            body = json.dumps(_report(n), ensure_ascii=False).encode()
            request = (f"POST /api/v1/plans/{plan}/obligations/{oid}/reports HTTP/1.1\r\n".encode() + head
                       + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            started = time.perf_counter()
            writer.write(request)
            status_line = await reader.readline()
            length, close = None, False
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
                elif name.lower() == "connection" and value.strip().lower() == "close":
                    close = True
            if length is None:
                raise RuntimeError(f"an answer without Content-Length: {status_line!r}")
            answer = await reader.readexactly(length)
            tally.latencies.append(time.perf_counter() - started)
            tally.check(int(status_line.split()[1]), answer, oid)
            if close:
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
    finally:
        writer.close()


async def _httpx_client(base: str, plan: str, token: str, ids: list[int], start: asyncio.Event,
                        tally: _Tally) -> None:
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        await start.wait()
        n = 0
        while time.perf_counter() < tally.deadline:
            oid = ids[n % len(ids)]
            n += 1
            started = time.perf_counter()
            answer = await http.post(f"/api/v1/plans/{plan}/obligations/{oid}/reports", json=_report(n))
            tally.latencies.append(time.perf_counter() - started)
            tally.check(answer.status_code, answer.content, oid)


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def load(host: str, port: int, plan: str, tokens: list[str], seconds: float, *, client: str = "raw",
               server_pid: int | None = None) -> dict[str, Any]:
    base = f"http://{host}:{port}"
    ids = await asyncio.gather(*(_own_obligations(base, plan, t) for t in tokens))
    tally = _Tally()
    start = asyncio.Event()  # every client connects first, then all start together
    tasks = [asyncio.ensure_future(
        _raw_client(host, port, plan, token, own, start, tally) if client == "raw"
        else _httpx_client(base, plan, token, own, start, tally))
        for token, own in zip(tokens, ids, strict=True)]
    await asyncio.sleep(0.2)
    server_cpu = _cpu_s(server_pid) if server_pid else None
    own_cpu = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    tally.deadline = started + seconds
    start.set()
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    count = len(tally.latencies)
    ordered = sorted(tally.latencies)
    result: dict[str, Any] = {
        "clients": len(tokens), "seconds": round(elapsed, 2), "submissions": count,
        "submissions_per_s": round(count / elapsed, 1),
        "p50_ms": round(ordered[math.ceil(0.50 * count) - 1] * 1000, 1) if ordered else None,
        "p99_ms": round(ordered[math.ceil(0.99 * count) - 1] * 1000, 1) if ordered else None,
        "errors": len(tally.errors), "first_errors": tally.errors[:3], "client": client,
    }
    if count:
        client_cpu = after.ru_utime + after.ru_stime - own_cpu.ru_utime - own_cpu.ru_stime
        result["client_cpu_ms_per_submission"] = round(client_cpu / count * 1000, 2)
        if server_pid and server_cpu is not None:
            result["server_cpu_ms_per_submission"] = round((_cpu_s(server_pid) - server_cpu) / count * 1000, 2)
    return result


def run_api_load(*, clients: int, seconds: float, size: int, db_url: str | None, client: str = "raw") -> dict[str, Any]:
    """Start a server over a fresh store (`db_url`, default a new SQLite file), load it, stop it.

    Returns submissions_per_s, p50_ms, p99_ms, errors, clients, size (and the run's details:
    CPU per submission on each side, the machine's load average before the run)."""
    folder = Path(tempfile.mkdtemp(prefix="bench-api-"))
    url = db_url or f"sqlite:///{folder / 'api.sqlite3'}"
    secret = "bench-secret-5e0b7a2c9f4d18e3a6c02b9f7d4e1a58"
    plan, tokens = prepare(url, folder, size, clients, secret)
    port = free_port()
    env = {**os.environ, "PLAN_TRACKER_DATABASE_URL": url, "PLAN_TRACKER_TOKEN_SECRET": secret,
           "PLAN_TRACKER_DATA_DIR": str(folder / "var")}
    server = subprocess.Popen(
        [sys.executable, "-m", "plan_tracker.cli", "serve", "--host", "127.0.0.1", "--port", str(port), "--no-access-log"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(150):
            try:
                httpx.get(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=1)
                break
            except httpx.HTTPError:
                if server.poll() is not None:
                    raise RuntimeError(f"the server exited: {server.stderr.read().decode() if server.stderr else ''}") from None
                time.sleep(0.2)
        load_before = os.getloadavg()[0]
        result = asyncio.run(load("127.0.0.1", port, plan, tokens, seconds, client=client, server_pid=server.pid))
    finally:
        server.terminate()
        server.wait(timeout=10)
    result.update(size=size, backend=url.split(":", 1)[0], load_average_before=round(load_before, 2))
    result["meets_target"] = meets_target(result)
    return result


def meets_target(result: dict[str, Any]) -> bool:
    """Issue 7: ≥ 300 submissions/s with p99 ≤ 100 ms (and no failed submission)."""
    p99 = result.get("p99_ms")
    return (result.get("errors", 1) == 0 and result.get("submissions_per_s", 0) >= TARGET_PER_S
            and p99 is not None and p99 <= TARGET_P99_MS)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--db", default=None, help="SQLAlchemy URL (default: a fresh SQLite file)")
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw",
                        help="raw: keep-alive HTTP/1.1 over asyncio streams (light); httpx: httpx.AsyncClient")
    args = parser.parse_args()
    result = run_api_load(clients=args.clients, seconds=args.seconds, size=args.size, db_url=args.db,
                          client=args.client)
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()

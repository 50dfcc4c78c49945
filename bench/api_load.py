"""Status submissions through the real API under concurrent clients.

Starts `plan-tracker serve` (uvicorn) on a free loopback port over a store holding a
synthetic plan, gives each of N clients its own unit token, and has every client submit
reports on its own obligations for a bounded time. Prints throughput and p50/p99 latency.

    python -m bench.api_load [--clients 32] [--seconds 10] [--size 10000] [--db URL]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.synthetic import write_plan


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare(url: str, folder: Path, size: int, clients: int, secret: str) -> tuple[str, list[str]]:
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


async def client(base: str, plan: str, token: str, deadline: float, latencies: list[float], errors: list[str]) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
        listed = (await http.get(f"/api/v1/plans/{plan}/obligations", params={"limit": 200})).json()
        ids = [row["id"] for row in listed]
        n = 0
        while time.perf_counter() < deadline:
            oid = ids[n % len(ids)]
            n += 1
            started = time.perf_counter()
            answer = await http.post(f"/api/v1/plans/{plan}/obligations/{oid}/reports",
                                     json={"status": "in_progress", "progress": n % 100, "note": f"第{n}次报送"})
            latencies.append(time.perf_counter() - started)
            if answer.status_code != 201:
                errors.append(f"{answer.status_code} {answer.text[:200]}")


async def load(base: str, plan: str, tokens: list[str], seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    await asyncio.gather(*(client(base, plan, t, deadline, latencies, errors) for t in tokens))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "clients": len(tokens), "seconds": round(elapsed, 2), "submissions": len(latencies),
        "per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 1) if ordered else None,
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 1) if ordered else None,
        "errors": len(errors), "first_errors": errors[:3],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--db", default=None, help="SQLAlchemy URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-api-"))
    url = args.db or f"sqlite:///{folder / 'api.sqlite3'}"
    secret = "bench-secret"
    plan, tokens = prepare(url, folder, args.size, args.clients, secret)
    port = free_port()
    env = {**os.environ, "PLAN_TRACKER_DATABASE_URL": url, "PLAN_TRACKER_TOKEN_SECRET": secret,
           "PLAN_TRACKER_DATA_DIR": str(folder / "var")}
    server = subprocess.Popen([sys.executable, "-m", "plan_tracker.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(base + "/api/v1/openapi.json", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        result = asyncio.run(load(base, plan, tokens, args.seconds))
        result["backend"] = url.split(":", 1)[0]
        print(json.dumps(result, ensure_ascii=False))
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()

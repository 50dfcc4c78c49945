"""Rate limiting of failed authentication, in memory, per server process.

A client (its address as the server sees it — run uvicorn with `--proxy-headers` behind a
reverse proxy) that fails authentication `max_failures` times within `window_s` seconds is
refused with 429 until the oldest of those failures leaves the window — even with a valid
token, so guessing cannot continue. Counters live in this process only: with several worker
processes each enforces its own limit (the effective limit is N × workers), and a restart
forgets them; a refused attempt costs no database write.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

MAX_CLIENTS = 10_000  # above this many tracked clients, expired entries are purged


class FailureLimiter:
    def __init__(self, max_failures: int, window_s: float, clock: Callable[[], float] = time.monotonic):
        self.max_failures = max_failures
        self.window_s = window_s
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> float | None:
        """Seconds until `client` may try again, or None if it is not blocked."""
        now = self.clock()
        with self._lock:
            times = self._failures.get(client)
            if not times:
                return None
            self._expire(times, now)
            if len(times) < self.max_failures:
                return None
            return max(0.0, times[0] + self.window_s - now)

    def record_failure(self, client: str) -> None:
        now = self.clock()
        with self._lock:
            if len(self._failures) > MAX_CLIENTS:
                for key in [k for k, v in self._failures.items() if not v or v[-1] <= now - self.window_s]:
                    del self._failures[key]
            times = self._failures.setdefault(client, deque())
            self._expire(times, now)
            times.append(now)

    def _expire(self, times: deque[float], now: float) -> None:
        while times and times[0] <= now - self.window_s:
            times.popleft()

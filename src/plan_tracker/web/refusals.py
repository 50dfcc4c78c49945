"""Bounded auditing of refusals (`auth.refused`: 403/404 of a signed-in caller; `auth.failed`:
a bad token), so that an attacker cannot fill the disk with audit events.

Per client, kind and token (a refused caller is signed in; failed ones are keyed by client
only), the first refusal of each minute is written in full; the others of that
minute are only counted, and the count is written as one `auth.refused.repeated` event once
the minute is over (at the next refusal after it, or when the server stops). Across all
clients at most `max_detailed_per_minute` refusals a minute are written in full (addresses
are cheap to rotate); beyond that they are counted under the client `*`. Counters live in
the server process, like the rate limiter's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Repeated:
    """Refusals counted but not written in full during one minute."""

    client: str
    kind: str
    token_prefix: str | None
    minute: int  # minutes since the epoch (UTC)
    count: int

    @property
    def payload(self) -> dict[str, object]:
        return {"client": self.client, "kind": self.kind, "token_prefix": self.token_prefix, "count": self.count,
                "minute": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(self.minute * 60))}


class RefusalLog:
    def __init__(self, max_detailed_per_minute: int = 600, clock: Callable[[], float] = time.time):
        self.max_detailed_per_minute = max_detailed_per_minute
        self.clock = clock
        self._minute = -1
        self._counts: dict[tuple[str, str, str | None], int] = {}  # (client, kind, token) -> refusals this minute
        self._lock = threading.Lock()

    def admit(self, client: str, kind: str, token_prefix: str | None = None) -> tuple[bool, list[Repeated]]:
        """(whether to write this refusal in full, the counts of finished minutes to write)."""
        minute = int(self.clock() // 60)
        with self._lock:
            finished = self._roll(minute)
            key = (client, kind, token_prefix)
            if key not in self._counts and len(self._counts) >= self.max_detailed_per_minute:
                key = ("*", kind, None)
            seen = self._counts.get(key, 0)
            self._counts[key] = seen + 1
            return seen == 0 and key[0] != "*", finished

    def flush(self) -> list[Repeated]:
        """Every count not yet written (the server is stopping)."""
        with self._lock:
            return self._roll(None)

    def _roll(self, minute: int | None) -> list[Repeated]:
        if minute == self._minute:
            return []
        finished = [Repeated(client, kind, prefix, self._minute, n - 1 if client != "*" else n)
                    for (client, kind, prefix), n in self._counts.items() if (n - 1 if client != "*" else n) > 0]
        self._counts = {}
        self._minute = minute if minute is not None else self._minute
        return finished

"""A rolling-window rate limit for robots ("at most 20 messages per minute per robot").

DingTalk throttles a robot for ten minutes after the 21st message in a minute, so waiting
a little on our side is far cheaper than tripping it. The clock and the sleeper are
injected so tests can run hundreds of sends without waiting.

The window lives in the channel object: it protects one process. Several processes
sharing a robot must be kept under the limit by the caller (e.g. one delivery worker).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

Clock = Callable[[], float]
Sleeper = Callable[[float], None]


class RollingWindowLimiter:
    def __init__(
        self,
        max_events: int,
        window_seconds: float = 60.0,
        *,
        clock: Clock = time.time,
        sleeper: Sleeper = time.sleep,
    ) -> None:
        if max_events < 1:
            raise ValueError("max_events must be at least 1")
        self.max_events = max_events
        self.window_seconds = window_seconds
        self._clock = clock
        self._sleeper = sleeper
        self._sent: deque[float] = deque()
        # Held while sleeping on purpose: threads sharing a robot must queue, not race.
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Block until one more event fits in the window, then count it."""
        with self._lock:
            while True:
                now = self._clock()
                while self._sent and self._sent[0] <= now - self.window_seconds:
                    self._sent.popleft()
                if len(self._sent) < self.max_events:
                    self._sent.append(now)
                    return
                self._sleeper(self._sent[0] + self.window_seconds - now)

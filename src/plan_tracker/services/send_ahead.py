"""Sending a batch one message at a time on a thread of its own, a few messages ahead of
their records.

An SMTP server takes a few milliseconds to answer each message; recording the message
`sent` takes about as long. Done in turn, each waits for the other. Here a sender thread
keeps the connection busy while the delivery thread records what went, in one transaction
for everything that arrived meanwhile. The sender is allowed `ahead` messages sent and not
yet recorded, which is the crash window's width: e-mail has a few (a resend carries the same
Message-ID, so mail clients fold it), a robot has one (a group chat shows every duplicate).

The sender stops early, handing the rest of the batch back unsent, when a message fails
with a channel fault, when the channel's circuit opens, or when the batch has run for
`budget_s` (a claim must not expire while its message is still queued).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from plan_tracker.channels import Channel, DeliveryError, Message, Receipt
from plan_tracker.channels.breaker import circuit_open


class _Carries(Protocol):
    @property
    def message(self) -> Message: ...


Item = TypeVar("Item", bound=_Carries)
Result = Receipt | DeliveryError


@dataclass(frozen=True)
class _Crashed:
    error: BaseException


_DONE = object()
GATHER_S = 0.05  # a slow server's message is recorded after this long, whatever else is to come


def _ends(entry: Any) -> bool:
    return entry is _DONE or isinstance(entry, _Crashed)


class SendAhead(Generic[Item]):
    """`with SendAhead(channel, items, ahead=…) as sender: for went in sender.results(): …
    sender.recorded(len(went))`; afterwards `sender.unsent` holds the items handed back."""

    def __init__(self, channel: Channel, items: Sequence[Item], *, ahead: int, budget_s: float) -> None:
        self._channel, self._items, self._budget_s = channel, items, budget_s
        self._room = threading.Semaphore(max(1, ahead))
        self._group = max(1, ahead // 2)  # the sender goes on with the other half meanwhile
        self._stop = threading.Event()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._send_all, name="delivery-sender", daemon=True)
        self.unsent: list[Item] = []

    def __enter__(self) -> SendAhead[Item]:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        # Normally the sender has finished; after an error here it stops at its next message.
        self._stop.set()
        for _ in range(len(self._items) + 1):
            self._room.release()
        self._thread.join()

    def results(self) -> Iterator[list[tuple[Item, Result]]]:
        """What the sender did, in order, in groups of whatever arrived since the last one,
        but at least half the window when it comes within GATHER_S: a recording transaction
        per message or two cost as much as sending them."""
        while True:
            arrived = [self._queue.get()]
            deadline = time.monotonic() + GATHER_S
            while not _ends(arrived[-1]):  # until an end arrives, every entry is a message sent
                wait = 0.0 if len(arrived) >= self._group else deadline - time.monotonic()
                try:
                    arrived.append(self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait())
                except queue.Empty:
                    break
            went = [entry for entry in arrived if isinstance(entry, tuple)]
            if went:
                yield went
            crashed = next((entry for entry in arrived if isinstance(entry, _Crashed)), None)
            if crashed is not None:
                raise crashed.error
            if any(entry is _DONE for entry in arrived):
                return

    def recorded(self, count: int) -> None:
        """`count` sent messages are recorded: the sender may send as many more."""
        for _ in range(count):
            self._room.release()

    def _send_all(self) -> None:
        started = time.monotonic()
        try:
            with self._session() as send:
                for position, item in enumerate(self._items):
                    self._room.acquire()
                    if self._stop.is_set() or circuit_open(self._channel) is not None \
                            or (position > 0 and time.monotonic() - started > self._budget_s):
                        self.unsent = list(self._items[position:])
                        break
                    self._queue.put((item, self._send_one(send, item.message)))
        except BaseException as exc:  # handed to the delivery thread, which raises it
            self._queue.put(_Crashed(exc))
        finally:
            self._queue.put(_DONE)

    def _send_one(self, send: Callable[[Message], Receipt], message: Message) -> Result:
        try:
            return send(message)
        except DeliveryError as exc:
            if exc.channel_fault:  # the channel itself is broken: nothing more goes through it
                self._stop.set()
            return exc

    def _session(self) -> AbstractContextManager[Callable[[Message], Receipt]]:
        session = getattr(self._channel, "session", None)
        return session() if session is not None else nullcontext(self._channel.send)

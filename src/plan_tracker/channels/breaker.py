"""A circuit breaker for one channel object, and so for one delivery run.

Delivery builds each channel once per run (`services.delivery.resolve_route`). When its
peer is unreachable — refused, reset, or hung past a timeout — every later message of
the run would wait out the same timeout: a mail server that accepts and never greets
cost 10 s per recipient, ten minutes for 60. After `threshold` consecutive unreachable
failures the breaker opens; the run then leaves the channel's remaining messages where
they are (not claimed, no attempt used) for the next run, and says so.

Any answer from the peer, even a refusal, closes the count again: the peer is alive.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from plan_tracker.channels.base import DeliveryError, Receipt


class Unreachable(DeliveryError):
    """Transient, and the peer did not answer at all (refused, reset, timed out): the kind
    of failure a circuit breaker counts."""


class CircuitBreaker:
    def __init__(self, threshold: int = 3) -> None:
        if threshold < 1:
            raise ValueError("the circuit breaker threshold must be at least 1")
        self.threshold = threshold
        self.failures = 0
        self.last_error: str | None = None

    @property
    def open(self) -> bool:
        return self.failures >= self.threshold

    def unreachable(self, error: str) -> None:
        self.failures += 1
        self.last_error = error

    def answered(self) -> None:
        self.failures = 0
        self.last_error = None

    def reason(self) -> str:
        return f"{self.failures} connection failures in a row, the last: {self.last_error}"


def guarded(breaker: CircuitBreaker, where: str, send: Callable[[], Receipt]) -> Receipt:
    """Run `send` unless the breaker is open, and tell the breaker how the peer behaved."""
    if breaker.open:  # not attempted: a delivery run holds such messages back before this
        raise DeliveryError(f"not attempted, {where} unreachable: {breaker.reason()}")
    try:
        receipt = send()
    except Unreachable as exc:
        breaker.unreachable(str(exc))
        raise
    except DeliveryError:
        breaker.answered()  # a refusal is an answer: the peer is there
        raise
    breaker.answered()
    return receipt


def circuit_open(channel: Any) -> str | None:
    """Why `channel` takes no more messages this run, or None when it does (or has no
    breaker: the file outbox)."""
    breaker = getattr(channel, "breaker", None)
    if isinstance(breaker, CircuitBreaker) and breaker.open:
        return breaker.reason()
    return None

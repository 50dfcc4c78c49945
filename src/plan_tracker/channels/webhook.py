"""A generic JSON webhook: for sites that route reminders into their own systems.

The body is `{"subject", "text", "recipient", "address", "key"}`; `key` is the message's
idempotency key, so a receiver can drop the duplicate a retry after a crash may bring.
Any 2xx is success; 5xx, 408, 429, timeouts and connection errors are transient; every
other status is permanent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from plan_tracker.channels.base import Message, Receipt
from plan_tracker.channels.breaker import CircuitBreaker, guarded
from plan_tracker.channels.http_delivery import http_client, post_json, redact_url

if TYPE_CHECKING:  # imported by the first send (channels.http_delivery), not with the channels
    import httpx


class WebhookChannel:
    def __init__(
        self,
        url: str,
        secret_header: str | None = None,
        secret: str | None = None,
        timeout: float = 10,
        client: httpx.Client | None = None,
        *,
        name: str = "webhook",
        breaker_threshold: int = 3,
    ) -> None:
        if (secret_header is None) != (secret is None):
            raise ValueError("secret_header and secret go together")
        self._url = url  # may carry a token in its query: kept out of __repr__
        self.secret_header = secret_header
        self._secret = secret
        self.timeout = timeout
        self._client = client
        self.name = name
        self.breaker = CircuitBreaker(breaker_threshold)  # a hung receiver: see channels.breaker

    def __repr__(self) -> str:
        secret = f", secret_header={self.secret_header!r}, secret='***'" if self.secret_header else ""
        return f"WebhookChannel(url={redact_url(self._url)!r}{secret}, name={self.name!r})"

    def send(self, message: Message) -> Receipt:
        return guarded(self.breaker, redact_url(self._url), lambda: self._send(message))

    def _send(self, message: Message) -> Receipt:
        payload = {
            "subject": message.subject,
            "text": message.text,
            "recipient": message.recipient_name,
            "address": message.address,
            "key": message.message_key,
        }
        headers = {self.secret_header: self._secret} if self.secret_header and self._secret else None
        with http_client(self._client, self.timeout) as client:
            response = post_json(
                client, self._url, payload, timeout=self.timeout, headers=headers, secrets=[self._secret]
            )
        # A receiver may name what it stored; otherwise the status line is the receipt.
        detail = response.headers.get("x-request-id") or f"HTTP {response.status_code}"
        return Receipt(channel=self.name, detail=detail)

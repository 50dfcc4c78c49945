"""DingTalk (钉钉) custom group robot.

What the robot API makes us do, beyond POSTing JSON (the shared parts are in `robot`):
- HTTP 200 is not success: the reply's `errcode` must be 0.
- "加签" security: `timestamp` (ms) and `sign` = urlencode(base64(HMAC-SHA256(secret,
  f"{timestamp}\\n{secret}"))) appended to the webhook URL, fresh for every request
  (DingTalk rejects a timestamp more than an hour off).
- At most 20 messages per robot per minute, or the robot is throttled for ten minutes:
  we wait instead.
- Content is capped (20,000 bytes here): a longer message goes as numbered parts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any, Literal
from urllib.parse import quote_plus

import httpx

from plan_tracker.channels.base import Message, Receipt
from plan_tracker.channels.http_delivery import http_client, redact_url
from plan_tracker.channels.ratelimit import RollingWindowLimiter
from plan_tracker.channels.robot import message_parts, send_parts

# The robot is misconfigured: every later message would fail the same way.
FAULT_CODES = frozenset({
    310000,  # keyword missing, signature mismatch or IP not in the allow list
    300001,  # access token invalid
    400013,  # the group was dissolved
    400101,  # access token does not exist
    400102,  # robot stopped
    400106,  # robot does not exist
})
# This message can never pass, but the robot is fine.
PERMANENT_CODES = frozenset({
    400105,  # unsupported message type
    430101, 430102, 430103, 430104,  # content refused (unsafe link, improper text/image/content)
})
# Known transient: 130101 "send too fast" / 410100 throttled, -1 system busy. Any code not
# listed above is treated as transient too (see `robot.post_to_robot`).

MsgType = Literal["text", "markdown"]


def sign_webhook_url(url: str, secret: str, timestamp_ms: int) -> str:
    """The webhook URL with DingTalk's `timestamp` and `sign` parameters appended."""
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode("utf-8"), to_sign, hashlib.sha256).digest()
    sign = quote_plus(base64.b64encode(digest).decode("ascii"))
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}timestamp={timestamp_ms}&sign={sign}"


class DingTalkChannel:
    def __init__(
        self,
        webhook_url: str,
        secret: str | None = None,
        *,
        clock: Callable[[], float] = time.time,
        sleeper: Callable[[float], None] = time.sleep,
        max_per_minute: int = 20,
        max_bytes: int = 20000,
        msgtype: MsgType = "text",
        timeout: float = 10,
        client: httpx.Client | None = None,
        name: str = "dingtalk",
    ) -> None:
        if msgtype not in ("text", "markdown"):
            raise ValueError(f"msgtype must be 'text' or 'markdown', not {msgtype!r}")
        self._webhook_url = webhook_url  # holds the access token: never in __repr__ or logs
        self._secret = secret
        self._clock = clock
        self._limiter = RollingWindowLimiter(max_per_minute, 60.0, clock=clock, sleeper=sleeper)
        self.max_bytes = max_bytes
        # Plain text by default: Message.text is plain, and DingTalk markdown would need
        # its line breaks and special characters rewritten to render the same.
        self.msgtype = msgtype
        self.timeout = timeout
        self._client = client
        self.name = name

    def __repr__(self) -> str:
        signed = ", secret='***'" if self._secret else ""
        return (
            f"DingTalkChannel(webhook_url={redact_url(self._webhook_url)!r}{signed}, "
            f"msgtype={self.msgtype!r}, name={self.name!r})"
        )

    def parts(self, message: Message) -> list[str]:
        lead = "#### " if self.msgtype == "markdown" else ""
        return message_parts(message.subject, message.text, self.max_bytes, lead=lead)

    def send(self, message: Message) -> Receipt:
        parts = self.parts(message)

        def payload(content: str, number: int, total: int) -> dict[str, Any]:
            if self.msgtype == "text":
                return {"msgtype": "text", "text": {"content": content}}
            title = message.subject if total == 1 else f"{message.subject} ({number}/{total})"
            return {"msgtype": "markdown", "markdown": {"title": title, "text": content}}

        with http_client(self._client, self.timeout) as client:
            send_parts(
                client,
                parts,
                limiter=self._limiter,
                url_for=self._signed_url,
                payload_for=payload,
                timeout=self.timeout,
                permanent_codes=PERMANENT_CODES,
                fault_codes=FAULT_CODES,
                secrets=[self._secret],
            )
        return Receipt(channel=self.name, detail=f"{len(parts)} part(s) to {redact_url(self._webhook_url)}")

    def _signed_url(self) -> str:
        if not self._secret:
            return self._webhook_url
        return sign_webhook_url(self._webhook_url, self._secret, int(self._clock() * 1000))

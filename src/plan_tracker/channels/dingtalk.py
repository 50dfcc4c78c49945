"""DingTalk (钉钉) custom group robot.

What the robot API makes us do, beyond POSTing JSON (the shared parts are in `robot`):
- HTTP 200 is not success: the reply's `errcode` must be 0.
- "加签" security: `timestamp` (ms) and `sign` = urlencode(base64(HMAC-SHA256(secret,
  f"{timestamp}\\n{secret}"))) appended to the webhook URL, fresh for every request
  (DingTalk rejects a timestamp more than an hour off).
- At most 20 messages per robot per minute, or the robot is throttled for ten minutes
  (自定义机器人接入, open.dingtalk.com/document/group/custom-robot-access: "每个机器人每分钟
  最多发送20条消息到群里，如果超过20条，会限流10分钟"): we wait instead.
- The whole request BODY is capped at 20,000 bytes, not just the text: DingTalk answers
  errcode 460101 "description: body 大小不合法;solution:请保持大小在 20000bytes 以内;"
  (earlier: "message too long, exceed 20000 bytes"; before that 101002 "message is too
  long") — reported in feiyu563/PrometheusAlert#318, timonwong/prometheus-webhook-
  dingtalk#30 and #222, Le0nsec/SecCrawler#12. The JSON envelope, the markdown title and
  the escaping of every line break count, so a 20,000-byte text made a 20,492-byte body.
  A longer message goes as numbered parts, cut between items.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote_plus

from plan_tracker.channels.base import Message, Receipt
from plan_tracker.channels.breaker import CircuitBreaker, guarded
from plan_tracker.channels.http_delivery import http_client, redact_url
from plan_tracker.channels.ratelimit import RollingWindowLimiter
from plan_tracker.channels.robot import (
    ErrorCodes,
    Layout,
    Request,
    Target,
    plan_requests,
    send_message,
)

if TYPE_CHECKING:  # imported by the first send (channels.http_delivery), not with the channels
    import httpx

MAX_BODY_BYTES = 20_000  # the documented cap on the whole request body (see above)

CODES = ErrorCodes(
    # The robot is misconfigured: every later message would fail the same way.
    fault=frozenset({
        310000,  # keyword missing, signature mismatch or IP not in the allow list
        300001,  # access token invalid
        400013,  # the group was dissolved
        400101,  # access token does not exist
        400102,  # robot stopped
        400106,  # robot does not exist
    }),
    # This message can never pass, but the robot is fine.
    permanent=frozenset({
        400105,  # unsupported message type
        430101, 430102, 430103, 430104,  # content refused (unsafe link, improper text/image/content)
    }),
    # Refused for its size: split smaller once, then permanent (never retried until dead).
    size=frozenset({460101, 101002}),
)
# Known transient: 130101 "send too fast" / 410100 throttled, -1 system busy. Any code not
# listed above is treated as transient too (see `robot.post_to_robot`).
FAULT_CODES, PERMANENT_CODES, SIZE_CODES = CODES.fault, CODES.permanent, CODES.size

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
        max_bytes: int = MAX_BODY_BYTES,
        msgtype: MsgType = "text",
        timeout: float = 10,
        client: httpx.Client | None = None,
        name: str = "dingtalk",
        breaker_threshold: int = 3,
    ) -> None:
        if msgtype not in ("text", "markdown"):
            raise ValueError(f"msgtype must be 'text' or 'markdown', not {msgtype!r}")
        self._webhook_url = webhook_url  # holds the access token: never in __repr__ or logs
        self._secret = secret
        self._clock = clock
        self._limiter = RollingWindowLimiter(max_per_minute, 60.0, clock=clock, sleeper=sleeper)
        self.max_bytes = min(max_bytes, MAX_BODY_BYTES)  # of the whole request body
        # Plain text by default: Message.text is plain, and DingTalk markdown would need
        # its line breaks and special characters rewritten to render the same.
        self.msgtype = msgtype
        self.timeout = timeout
        self._client = client
        self.name = name
        self.breaker = CircuitBreaker(breaker_threshold)  # a hung robot: see channels.breaker

    def __repr__(self) -> str:
        signed = ", secret='***'" if self._secret else ""
        return (
            f"DingTalkChannel(webhook_url={redact_url(self._webhook_url)!r}{signed}, "
            f"msgtype={self.msgtype!r}, name={self.name!r})"
        )

    def layout(self, subject: str) -> Layout:
        def payload(content: str, label: str) -> dict[str, Any]:
            if self.msgtype == "text":
                return {"msgtype": "text", "text": {"content": content}}
            title = f"{subject} ({label})" if label else subject
            return {"msgtype": "markdown", "markdown": {"title": title, "text": content}}

        lead = "#### " if self.msgtype == "markdown" else ""
        return Layout(max_bytes=self.max_bytes, payload=payload, whole_body=True, lead=lead)

    def parts(self, message: Message) -> list[Request]:
        """The requests `send` would make (when none is refused for its size)."""
        subject = " ".join(message.subject.splitlines())
        return plan_requests(self.layout(subject), message.subject, message.text)

    def send(self, message: Message) -> Receipt:
        return guarded(self.breaker, redact_url(self._webhook_url), lambda: self._send(message))

    def _send(self, message: Message) -> Receipt:
        subject = " ".join(message.subject.splitlines())
        with http_client(self._client, self.timeout) as client:
            target = Target(client, self._limiter, self._signed_url, self.timeout, CODES, (self._secret,))
            sent = send_message(target, self.layout(subject), message.subject, message.text)
        return Receipt(channel=self.name, detail=(
            f"{sent.requests} part(s), largest body {sent.largest_body} bytes, to {redact_url(self._webhook_url)}"))

    def _signed_url(self) -> str:
        if not self._secret:
            return self._webhook_url
        return sign_webhook_url(self._webhook_url, self._secret, int(self._clock() * 1000))

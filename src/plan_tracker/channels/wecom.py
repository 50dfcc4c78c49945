"""WeCom (企业微信) group robot (群机器人), webhook `.../cgi-bin/webhook/send?key=...`.

Like DingTalk (the shared parts are in `robot`): HTTP 200 is not success until `errcode`
is 0, and at most 20 messages per robot per minute ("每个机器人发送的消息不能超过20条/分钟").
The content is capped in UTF-8 bytes — markdown "最长不超过4096个字节", text "最长不超过
2048个字节，必须是utf8编码" (群机器人配置说明, developer.work.weixin.qq.com/document/path/
91770) — so a longer message goes as numbered parts, cut between items. The cap is on
the content as WeCom reads it (after JSON decoding), not on the request body.
The webhook `key` is the only credential, so the URL never appears in reprs or logs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

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

MAX_BYTES = {"markdown": 4096, "text": 2048}  # WeCom's documented content limits

# Codes as WeCom's robot answers them (errmsg ends "more info at
# https://open.work.weixin.qq.com/devtool/query?e=<code>"):
CODES = ErrorCodes(
    # 93000 "invalid webhook url": a wrong or deleted key; no message can pass.
    fault=frozenset({93000}),
    permanent=frozenset({40008}),  # invalid message type
    # 40058 "markdown.content exceed max length 4096. invalid Request Parameter"
    # (dromara/domain-admin#82): split smaller once, then permanent.
    size=frozenset({40058}),
)
# Transient: 45009 "api freq out of limit" (the limiter keeps us under it; if another sender
# shares the robot, the next run retries), -1 system busy, and any code not listed above.
FAULT_CODES, PERMANENT_CODES, SIZE_CODES = CODES.fault, CODES.permanent, CODES.size

MsgType = Literal["text", "markdown"]


class WeComChannel:
    def __init__(
        self,
        webhook_url: str,
        *,
        msgtype: MsgType = "markdown",
        max_bytes: int | None = None,
        clock: Callable[[], float] = time.time,
        sleeper: Callable[[float], None] = time.sleep,
        max_per_minute: int = 20,
        timeout: float = 10,
        client: httpx.Client | None = None,
        name: str = "wecom",
        breaker_threshold: int = 3,
    ) -> None:
        if msgtype not in MAX_BYTES:
            raise ValueError(f"msgtype must be 'text' or 'markdown', not {msgtype!r}")
        self._webhook_url = webhook_url  # the key in it is the credential
        # Markdown by default: twice the room of text, and WeCom shows plain lines as
        # written, so plain-text reminders read the same with a bold heading.
        self.msgtype = msgtype
        self.max_bytes = min(max_bytes or MAX_BYTES[msgtype], MAX_BYTES[msgtype])
        self._limiter = RollingWindowLimiter(max_per_minute, 60.0, clock=clock, sleeper=sleeper)
        self.timeout = timeout
        self._client = client
        self.name = name
        self.breaker = CircuitBreaker(breaker_threshold)  # a hung robot: see channels.breaker

    def __repr__(self) -> str:
        return (
            f"WeComChannel(webhook_url={redact_url(self._webhook_url)!r}, "
            f"msgtype={self.msgtype!r}, name={self.name!r})"
        )

    def layout(self) -> Layout:
        def payload(content: str, label: str) -> dict[str, Any]:
            return {"msgtype": self.msgtype, self.msgtype: {"content": content}}

        lead = "### " if self.msgtype == "markdown" else ""
        return Layout(max_bytes=self.max_bytes, payload=payload, whole_body=False, lead=lead)

    def parts(self, message: Message) -> list[Request]:
        """The requests `send` would make (when none is refused for its size)."""
        return plan_requests(self.layout(), message.subject, message.text)

    def send(self, message: Message) -> Receipt:
        return guarded(self.breaker, redact_url(self._webhook_url), lambda: self._send(message))

    def _send(self, message: Message) -> Receipt:
        with http_client(self._client, self.timeout) as client:
            target = Target(client, self._limiter, lambda: self._webhook_url, self.timeout, CODES)
            sent = send_message(target, self.layout(), message.subject, message.text)
        return Receipt(channel=self.name, detail=(
            f"{sent.requests} part(s), largest body {sent.largest_body} bytes, to {redact_url(self._webhook_url)}"))

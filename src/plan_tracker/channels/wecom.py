"""WeCom (企业微信) group robot (群机器人), webhook `.../cgi-bin/webhook/send?key=...`.

Like DingTalk (the shared parts are in `robot`): HTTP 200 is not success until `errcode`
is 0, at most 20 messages per robot per minute, and the content is capped in UTF-8 bytes
— 4,096 for markdown, 2,048 for text — so a longer message goes as numbered parts.
The webhook `key` is the only credential, so the URL never appears in reprs or logs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

import httpx

from plan_tracker.channels.base import Message, Receipt
from plan_tracker.channels.http_delivery import http_client, redact_url
from plan_tracker.channels.ratelimit import RollingWindowLimiter
from plan_tracker.channels.robot import message_parts, send_parts

MAX_BYTES = {"markdown": 4096, "text": 2048}  # WeCom's documented content limits

FAULT_CODES = frozenset({93000})  # invalid webhook URL (wrong or deleted key)
PERMANENT_CODES = frozenset({
    40008,  # invalid message type
    40058,  # invalid parameter: the body itself is wrong, resending it cannot help
})
# Known transient: 45009 "api freq out of limit", -1 system busy; unknown codes as well.

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

    def __repr__(self) -> str:
        return (
            f"WeComChannel(webhook_url={redact_url(self._webhook_url)!r}, "
            f"msgtype={self.msgtype!r}, name={self.name!r})"
        )

    def parts(self, message: Message) -> list[str]:
        lead = "### " if self.msgtype == "markdown" else ""
        return message_parts(message.subject, message.text, self.max_bytes, lead=lead)

    def send(self, message: Message) -> Receipt:
        parts = self.parts(message)

        def payload(content: str, number: int, total: int) -> dict[str, Any]:
            return {"msgtype": self.msgtype, self.msgtype: {"content": content}}

        with http_client(self._client, self.timeout) as client:
            send_parts(
                client,
                parts,
                limiter=self._limiter,
                url_for=lambda: self._webhook_url,
                payload_for=payload,
                timeout=self.timeout,
                permanent_codes=PERMANENT_CODES,
                fault_codes=FAULT_CODES,
            )
        return Receipt(channel=self.name, detail=f"{len(parts)} part(s) to {redact_url(self._webhook_url)}")

"""Peer-limit figures for RELIABILITY.md (issue 18, findings 2 and 7), against local peers.

    python -m bench.peer_limits [--recipients 60] [--timeout 0.5] [--defaults]

- hung peer: seconds for N recipients against a TCP server that accepts and never greets,
  the way a delivery run sends (a recipient whose channel's circuit is open is left for the
  next run). `--no-breaker` is the old behaviour: one timeout for everything, no breaker.
- robot bodies: requests and the largest body for a long 通报 (300 overdue items) through
  DingTalk (text and markdown) and WeCom markdown, against a server that refuses what the
  real ones refuse (DingTalk: body > 20,000 bytes, errcode 460101; WeCom: content > 4,096).
"""

from __future__ import annotations

import argparse
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

from plan_tracker.channels import DeliveryError, DingTalkChannel, Message, SmtpChannel, WeComChannel
from plan_tracker.channels.breaker import circuit_open

SUBJECT = "【通报】逾期未完成工作情况（截至2018-10-31）"


def tongbao(count: int) -> str:
    """A 通报 in the rendered template's shape: one block of lines per item, blank-line separated."""
    head = f"通报（截至2018-10-31）：{count} 项工作逾期未完成，涉及 30 个单位。\n本次为首次通报。\n\n"
    body = "".join(
        f"{n}.【问责】对执法队伍进行轮训并建立\"执法人员\"台账（第{n}项）\n"
        f"   责任单位：第{n % 30 + 1}镇人民政府　期间：2018年第三季度\n"
        f"   完成时限：2018-10-01　已逾期 22 个工作日\n"
        f"   单位反馈：进行中，进度 40%（2018-10-20 报送）；情况说明：材料见 \\\\share\\督查\\{n}\n\n"
        for n in range(1, count + 1))
    return head + body + "区政府法制办\n2018-10-31\n"


@contextmanager
def hung_server() -> Iterator[tuple[int, list[socket.socket]]]:
    listener = socket.create_server(("127.0.0.1", 0), backlog=128)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield int(listener.getsockname()[1]), held
    finally:
        listener.close()
        for conn in held:
            conn.close()


def hung_peer(recipients: int, greeting: float, command: float, threshold: int) -> dict[str, Any]:
    with hung_server() as (port, held):
        channel = SmtpChannel("127.0.0.1", port, greeting_timeout=greeting, timeout=command,
                              breaker_threshold=threshold)
        failed = deferred = 0
        started = time.monotonic()
        for n in range(recipients):
            if circuit_open(channel) is not None:
                deferred += 1
                continue
            try:
                channel.send(Message(recipient_name=f"联络员{n}", address=f"u{n}@example.org", subject=SUBJECT,
                                     text="正文", message_key=f"bench/{n}"))
            except DeliveryError:
                failed += 1
        seconds = time.monotonic() - started
        return {"recipients": recipients, "greeting_timeout_s": greeting, "breaker_threshold": threshold,
                "seconds": round(seconds, 2), "attempted": failed, "deferred": deferred, "connections": len(held)}


class _Robot(BaseHTTPRequestHandler):
    sizes: ClassVar[list[int]] = []  # per channel measured, reset between them
    refused = 0

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.loads(raw)
        if "key=" in self.path:  # WeCom: the content is capped, 4,096 bytes for markdown
            too_big = len(body[body["msgtype"]]["content"].encode()) > 4096
            refusal = {"errcode": 40058, "errmsg": "markdown.content exceed max length 4096"}
        else:  # DingTalk: the whole body
            too_big = len(raw) > 20_000
            refusal = {"errcode": 460101, "errmsg": "description: body 大小不合法;solution:请保持大小在 20000bytes 以内;"}
        if too_big:
            type(self).refused += 1
        else:
            type(self).sizes.append(len(raw))
        data = json.dumps(refusal if too_big else {"errcode": 0, "errmsg": "ok"}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def robot_bodies(items: int) -> dict[str, Any]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Robot)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    text = tongbao(items)
    message = Message(recipient_name="领导小组", address="robot", subject=SUBJECT, text=text, message_key="bench/tb")
    found: dict[str, Any] = {"items": items, "text_bytes": len(text.encode())}
    channels = {
        "dingtalk_text": DingTalkChannel(f"{base}/robot/send?access_token=T", "S", sleeper=lambda s: None),
        "dingtalk_markdown": DingTalkChannel(f"{base}/robot/send?access_token=T", "S", msgtype="markdown",
                                             sleeper=lambda s: None),
        "wecom_markdown": WeComChannel(f"{base}/cgi-bin/webhook/send?key=K", sleeper=lambda s: None),
    }
    try:
        for name, channel in channels.items():
            _Robot.sizes, _Robot.refused = [], 0
            try:
                channel.send(message)
                outcome = "delivered"
            except DeliveryError as exc:
                outcome = f"failed: {exc}"[:120]
            found[name] = {"parts": len(_Robot.sizes), "largest_body": max(_Robot.sizes, default=0),
                           "refused": _Robot.refused, "outcome": outcome}
    finally:
        server.shutdown()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=60)
    parser.add_argument("--timeout", type=float, default=0.5, help="greeting timeout for the hung-peer runs")
    parser.add_argument("--defaults", action="store_true", help="also time the shipped defaults (10 s greeting)")
    parser.add_argument("--items", type=int, default=300)
    args = parser.parse_args()
    t = args.timeout
    rows = {
        "hung_peer_no_breaker": hung_peer(args.recipients, t, t, threshold=10**6),  # the old behaviour
        "hung_peer_breaker": hung_peer(args.recipients, t, 30, threshold=3),
    }
    if args.defaults:
        rows["hung_peer_defaults"] = hung_peer(args.recipients, 10, 30, threshold=3)
    rows["robots"] = robot_bodies(args.items)
    print(json.dumps(rows, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()

"""The DingTalk robot channel against a local HTTP server playing DingTalk."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import logging
from typing import TYPE_CHECKING

import pytest

from plan_tracker.channels import DeliveryError, DingTalkChannel, Message

if TYPE_CHECKING:
    from tests.channels.conftest import FakeClock, HttpServer

TOKEN_PATH = "/robot/send?access_token=DT-TOKEN-0123456789"
SECRET = "SEC0123456789abcdef-dingtalk-secret"


def robot(server: HttpServer, clock: FakeClock, **options: object) -> DingTalkChannel:
    return DingTalkChannel(
        server.url(TOKEN_PATH), SECRET, clock=clock.time, sleeper=clock.sleep, timeout=5, **options  # type: ignore[arg-type]
    )


def test_dingtalk_sends_a_text_message(http_server: HttpServer, clock: FakeClock, message: Message) -> None:
    receipt = robot(http_server, clock).send(message)

    [request] = http_server.requests
    assert request.path == "/robot/send"
    assert request.query["access_token"] == ["DT-TOKEN-0123456789"]
    assert request.json == {"msgtype": "text", "text": {"content": f"{message.subject}\n\n{message.text}"}}
    assert receipt.channel == "dingtalk" and receipt.detail.startswith("1 part(s)")
    assert "DT-TOKEN" not in receipt.detail  # receipts are stored: no token in them


def test_dingtalk_markdown_carries_a_title(http_server: HttpServer, clock: FakeClock, message: Message) -> None:
    robot(http_server, clock, msgtype="markdown").send(message)
    body = http_server.requests[0].json
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["title"] == message.subject
    assert body["markdown"]["text"].startswith(f"#### {message.subject}\n\n")


def test_dingtalk_signature_verifies_with_the_secret(http_server: HttpServer, clock: FakeClock, message: Message) -> None:
    robot(http_server, clock).send(message)

    query = http_server.requests[0].query  # parse_qs has already url-decoded the sign
    timestamp = query["timestamp"][0]
    assert timestamp == str(int(clock.now * 1000))  # milliseconds, from the injected clock
    expected = base64.b64encode(
        hmac.new(SECRET.encode(), f"{timestamp}\n{SECRET}".encode(), hashlib.sha256).digest()
    ).decode()
    assert query["sign"] == [expected]


def test_dingtalk_without_a_secret_sends_no_signature(http_server: HttpServer, message: Message) -> None:
    DingTalkChannel(http_server.url(TOKEN_PATH), None).send(message)
    assert set(http_server.requests[0].query) == {"access_token"}


def test_dingtalk_http_200_with_errcode_is_not_success(http_server: HttpServer, clock: FakeClock, message: Message) -> None:
    # 310000: keyword, signature or IP check failed — the robot answers HTTP 200 regardless.
    http_server.reply = lambda request: (200, {"errcode": 310000, "errmsg": "sign not match"})
    with pytest.raises(DeliveryError) as caught:
        robot(http_server, clock).send(message)
    assert caught.value.permanent and caught.value.channel_fault
    assert "310000" in str(caught.value)


def test_dingtalk_invalid_token_errcode_is_permanent(http_server: HttpServer, clock: FakeClock, message: Message) -> None:
    http_server.reply = lambda request: (200, {"errcode": 300001, "errmsg": "token is not exist"})
    with pytest.raises(DeliveryError) as caught:
        robot(http_server, clock).send(message)
    assert caught.value.permanent


@pytest.mark.parametrize("errcode", [130101, 410100, -1, 987654])  # too fast, throttled, busy, unknown
def test_dingtalk_throttling_and_unknown_errcodes_are_transient(
    http_server: HttpServer, clock: FakeClock, message: Message, errcode: int
) -> None:
    http_server.reply = lambda request: (200, {"errcode": errcode, "errmsg": "send too fast"})
    with pytest.raises(DeliveryError) as caught:
        robot(http_server, clock).send(message)
    assert not caught.value.permanent


def test_dingtalk_http_500_is_transient(http_server: HttpServer, clock: FakeClock, message: Message) -> None:
    http_server.reply = lambda request: (500, b"<html>Internal Server Error</html>")
    with pytest.raises(DeliveryError) as caught:
        robot(http_server, clock).send(message)
    assert not caught.value.permanent


def test_dingtalk_unreadable_200_reply_is_transient(http_server: HttpServer, clock: FakeClock, message: Message) -> None:
    # A captive proxy's page answers 200 too; it proves nothing was delivered.
    http_server.reply = lambda request: (200, b"<html>please log in</html>")
    with pytest.raises(DeliveryError) as caught:
        robot(http_server, clock).send(message)
    assert not caught.value.permanent


def test_dingtalk_connection_refused_is_transient(closed_port: int, clock: FakeClock, message: Message) -> None:
    channel = DingTalkChannel(f"http://127.0.0.1:{closed_port}{TOKEN_PATH}", SECRET, clock=clock.time, timeout=2)
    with pytest.raises(DeliveryError) as caught:
        channel.send(message)
    assert not caught.value.permanent


def test_dingtalk_long_message_goes_as_numbered_parts_in_order(
    http_server: HttpServer, clock: FakeClock, message: Message
) -> None:
    # 50,000 bytes of numbered Chinese lines, the shape of a long grouped reminder.
    text = ""
    while len(text.encode()) < 50_000:
        text += f"{len(text):06d}. 对执法队伍进行轮训（2018年第一季度）已逾期，请尽快反馈。\n"
    long_message = dataclasses.replace(message, text=text)

    receipt = robot(http_server, clock).send(long_message)

    contents = [request.json["text"]["content"] for request in http_server.requests]
    total = len(contents)
    assert total >= 3 and receipt.detail.startswith(f"{total} part(s)")
    bodies = []
    for number, content in enumerate(contents, start=1):
        assert len(content.encode("utf-8")) <= 20_000
        header = f"{message.subject} ({number}/{total})\n\n"
        assert content.startswith(header)
        bodies.append(content[len(header):])
    assert "".join(bodies) == text  # nothing lost, nothing reordered
    assert all(body.endswith("\n") for body in bodies[:-1])  # cut at line boundaries


def test_dingtalk_waits_before_the_21st_message_in_a_minute(
    http_server: HttpServer, clock: FakeClock, message: Message
) -> None:
    sent_before_wait: list[int] = []
    clock.on_sleep = lambda seconds: sent_before_wait.append(len(http_server.requests))
    channel = robot(http_server, clock)

    for n in range(25):
        channel.send(dataclasses.replace(message, message_key=f"k{n}"))
        clock.now += 0.5  # each send takes half a second

    assert len(http_server.requests) == 25
    assert sent_before_wait == [20]  # one wait, right before the 21st
    assert clock.sleeps[0] == pytest.approx(60 - 20 * 0.5)  # until the 1st leaves the window


def test_dingtalk_failed_later_part_names_the_part(http_server: HttpServer, clock: FakeClock, message: Message) -> None:
    http_server.replies((200, {"errcode": 0, "errmsg": "ok"}), (200, {"errcode": 130101, "errmsg": "send too fast"}))
    long_message = dataclasses.replace(message, text="一行文字。\n" * 3000)  # ~48 KB: 3 parts
    with pytest.raises(DeliveryError) as caught:
        robot(http_server, clock).send(long_message)
    assert not caught.value.permanent
    assert str(caught.value).startswith("part 2/3")
    assert len(http_server.requests) == 2  # stops at the first failure


def test_dingtalk_never_shows_token_or_secret(
    http_server: HttpServer, clock: FakeClock, message: Message, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    channel = robot(http_server, clock)
    channel.send(message)
    http_server.reply = lambda request: (200, {"errcode": 310000, "errmsg": f"sign not match {SECRET}"})
    with pytest.raises(DeliveryError) as caught:
        channel.send(message)

    shown = " ".join([repr(channel), str(caught.value), caplog.text])
    assert "DT-TOKEN" not in shown and SECRET not in shown
    assert "/robot/send" in repr(channel)

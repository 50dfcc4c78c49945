"""The WeCom group robot channel against a local HTTP server playing WeCom."""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING

import pytest

from plan_tracker.channels import DeliveryError, Message, WeComChannel

if TYPE_CHECKING:
    from tests.channels.conftest import FakeClock, HttpServer

KEY_PATH = "/cgi-bin/webhook/send?key=693a91f6-WECOM-KEY-4bc4"


def robot(server: HttpServer, clock: FakeClock, **options: object) -> WeComChannel:
    return WeComChannel(server.url(KEY_PATH), clock=clock.time, sleeper=clock.sleep, timeout=5, **options)  # type: ignore[arg-type]


def test_wecom_sends_markdown_by_default(http_server: HttpServer, clock: FakeClock, message: Message) -> None:
    receipt = robot(http_server, clock).send(message)

    [request] = http_server.requests
    assert request.query["key"] == ["693a91f6-WECOM-KEY-4bc4"]
    assert request.json == {"msgtype": "markdown", "markdown": {"content": f"### {message.subject}\n\n{message.text}"}}
    assert receipt.channel == "wecom" and "WECOM-KEY" not in receipt.detail


def test_wecom_sends_text_when_asked(http_server: HttpServer, clock: FakeClock, message: Message) -> None:
    robot(http_server, clock, msgtype="text").send(message)
    assert http_server.requests[0].json == {"msgtype": "text", "text": {"content": f"{message.subject}\n\n{message.text}"}}


@pytest.mark.parametrize("msgtype,limit", [("markdown", 4096), ("text", 2048)])
def test_wecom_splits_at_its_documented_byte_limits(
    http_server: HttpServer, clock: FakeClock, message: Message, msgtype: str, limit: int
) -> None:
    text = "请各单位于本周五前报送轮训情况。\n" * 400  # ~19 KB of three-byte characters
    robot(http_server, clock, msgtype=msgtype).send(dataclasses.replace(message, text=text))

    contents = [request.json[msgtype]["content"] for request in http_server.requests]
    assert len(contents) >= 19_000 // limit
    assert all(len(content.encode()) <= limit for content in contents)
    assert contents[-1].splitlines()[0].endswith(f"({len(contents)}/{len(contents)})")


def test_wecom_max_bytes_cannot_exceed_the_platform_limit() -> None:
    assert WeComChannel("http://127.0.0.1/x", msgtype="text", max_bytes=9999).max_bytes == 2048
    assert WeComChannel("http://127.0.0.1/x", max_bytes=1000).max_bytes == 1000


def test_wecom_http_200_with_errcode_is_not_success(http_server: HttpServer, clock: FakeClock, message: Message) -> None:
    http_server.reply = lambda request: (200, {"errcode": 93000, "errmsg": "invalid webhook url"})
    with pytest.raises(DeliveryError) as caught:
        robot(http_server, clock).send(message)
    assert caught.value.permanent and caught.value.channel_fault


def test_wecom_invalid_parameter_is_permanent_for_the_message(
    http_server: HttpServer, clock: FakeClock, message: Message
) -> None:
    http_server.reply = lambda request: (200, {"errcode": 40058, "errmsg": "invalid parameter"})
    with pytest.raises(DeliveryError) as caught:
        robot(http_server, clock).send(message)
    assert caught.value.permanent and not caught.value.channel_fault


@pytest.mark.parametrize("errcode", [45009, -1, 123456])  # freq out of limit, busy, unknown
def test_wecom_rate_limit_and_unknown_errcodes_are_transient(
    http_server: HttpServer, clock: FakeClock, message: Message, errcode: int
) -> None:
    http_server.reply = lambda request: (200, {"errcode": errcode, "errmsg": "api freq out of limit"})
    with pytest.raises(DeliveryError) as caught:
        robot(http_server, clock).send(message)
    assert not caught.value.permanent


def test_wecom_http_500_is_transient(http_server: HttpServer, clock: FakeClock, message: Message) -> None:
    http_server.reply = lambda request: (500, {"error": "boom"})
    with pytest.raises(DeliveryError) as caught:
        robot(http_server, clock).send(message)
    assert not caught.value.permanent


def test_wecom_waits_before_the_21st_message_in_a_minute(
    http_server: HttpServer, clock: FakeClock, message: Message
) -> None:
    sent_before_wait: list[int] = []
    clock.on_sleep = lambda seconds: sent_before_wait.append(len(http_server.requests))
    channel = robot(http_server, clock)
    for n in range(21):
        channel.send(dataclasses.replace(message, message_key=f"k{n}"))
    assert sent_before_wait == [20]


def test_wecom_never_shows_its_key(
    http_server: HttpServer, clock: FakeClock, message: Message, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    channel = robot(http_server, clock)
    channel.send(message)
    http_server.reply = lambda request: (200, {"errcode": 93000, "errmsg": "invalid webhook url"})
    with pytest.raises(DeliveryError) as caught:
        channel.send(message)
    shown = " ".join([repr(channel), str(caught.value), caplog.text])
    assert "WECOM-KEY" not in shown
    assert "/cgi-bin/webhook/send" in repr(channel)

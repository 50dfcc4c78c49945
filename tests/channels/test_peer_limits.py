"""The robots' documented size limits and error codes, against a local HTTP server that
answers the way DingTalk and WeCom do (issue 18, finding 2).

DingTalk refuses a request BODY over 20,000 bytes with errcode 460101 ("body 大小不合法;
请保持大小在 20000bytes 以内"); WeCom refuses markdown content over 4,096 bytes with errcode
40058 ("markdown.content exceed max length 4096"). The servers here enforce exactly that,
so a test passes only if every request the channel makes is within the limit.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from plan_tracker.channels import DeliveryError, DingTalkChannel, Message, WeComChannel

if TYPE_CHECKING:
    from tests.channels.conftest import FakeClock
    from tests.conftest import HttpServer, HungServer, Recorded

DINGTALK_TOO_LARGE = {"errcode": 460101, "errmsg": "description: body 大小不合法;solution:请保持大小在 20000bytes 以内;"}
WECOM_TOO_LONG = {"errcode": 40058, "errmsg": (
    "markdown.content exceed max length 4096. invalid Request Parameter, hint: [1704540159128593240839785], "
    "from ip: 127.0.0.1, more info at https://open.work.weixin.qq.com/devtool/query?e=40058")}
OK = {"errcode": 0, "errmsg": "ok"}


def tongbao(count: int) -> str:
    """A leading-group 通报 in the shape `reminder.zh.txt.j2` renders: blocks of lines, one
    per overdue item, separated by blank lines; notes with quotes and backslashes, which
    JSON escapes (and so count twice in a body)."""
    lines = [f"通报（截至2018-10-31）：{count} 项工作逾期未完成，涉及 30 个单位。\n本次为首次通报。\n\n"]
    for n in range(1, count + 1):
        lines.append(
            f"{n}.【问责】对执法队伍进行轮训并建立\"执法人员\"台账（第{n}项）\n"
            f"   责任单位：第{n % 30 + 1}镇人民政府　期间：2018年第三季度\n"
            f"   完成时限：2018-10-01　已逾期 22 个工作日\n"
            f"   单位反馈：进行中，进度 40%（2018-10-20 报送）；情况说明：材料见 \\\\share\\督查\\{n}\n\n")
    lines.append("区政府法制办\n2018-10-31\n")
    return "".join(lines)


def refusing_over(limit: int, measure: Callable[[Recorded], int], refusal: dict[str, Any]) -> Callable[[Recorded], Any]:
    return lambda request: (200, refusal) if measure(request) > limit else (200, OK)


def body_size(request: Recorded) -> int:
    return len(request.body)


def accepted(server: HttpServer, limit: int, measure: Callable[[Recorded], int]) -> list[Recorded]:
    return [r for r in server.requests if measure(r) <= limit]


def assert_cut_between_items(text: str, chunks: list[str]) -> None:
    """The chunks give back the text, and every cut falls between two items (after the
    blank line that ends one), never inside one."""
    assert "".join(chunks) == text
    item_ends = {0, len(text)} | {i + 2 for i in range(len(text)) if text.startswith("\n\n", i)}
    offset = 0
    for chunk in chunks:
        offset += len(chunk)
        assert offset in item_ends, f"an item was torn at offset {offset}"


def strip_header(content: str) -> str:
    return content.split("\n\n", 1)[1]


def dingtalk(server: HttpServer, clock: FakeClock, **options: Any) -> DingTalkChannel:
    return DingTalkChannel(server.url("/robot/send?access_token=DT-TOKEN-0123456789"), "SEC-0123456789",
                           clock=clock.time, sleeper=clock.sleep, timeout=5, **options)


def wecom(server: HttpServer, clock: FakeClock, **options: Any) -> WeComChannel:
    return WeComChannel(server.url("/cgi-bin/webhook/send?key=WECOM-KEY-0123456789"),
                        clock=clock.time, sleeper=clock.sleep, timeout=5, **options)


def dingtalk_content(request: Recorded) -> str:
    body = request.json
    return str(body["text"]["content"] if body["msgtype"] == "text" else body["markdown"]["text"])


# --------------------------------------------------------------------------- DingTalk


@pytest.mark.parametrize("msgtype", ["text", "markdown"])
def test_dingtalk_long_tongbao_goes_in_bodies_of_at_most_20000_bytes_cut_between_items(
    http_server: HttpServer, clock: FakeClock, message: Message, msgtype: str
) -> None:
    text = tongbao(300)  # ≈ 95 KB of text
    http_server.reply = refusing_over(20_000, body_size, DINGTALK_TOO_LARGE)

    receipt = dingtalk(http_server, clock, msgtype=msgtype).send(dataclasses.replace(message, text=text))

    sizes = [len(r.body) for r in http_server.requests]
    assert max(sizes) <= 20_000  # nothing was refused: the whole body counts, not the text
    contents = [dingtalk_content(r) for r in http_server.requests]
    assert_cut_between_items(text, [strip_header(c) for c in contents])
    assert receipt.detail.startswith(f"{len(sizes)} part(s), largest body {max(sizes)} bytes")


def test_dingtalk_part_refused_for_its_size_is_split_smaller_once_and_delivered(
    http_server: HttpServer, clock: FakeClock, message: Message
) -> None:
    # A stricter gateway than documented (12,000 bytes): the 20,000-byte parts are refused
    # with 460101 and each is split once into parts of at most 10,000 bytes.
    text = tongbao(150)
    http_server.reply = refusing_over(12_000, body_size, DINGTALK_TOO_LARGE)

    receipt = dingtalk(http_server, clock).send(dataclasses.replace(message, text=text))

    delivered = accepted(http_server, 12_000, body_size)
    refused = len(http_server.requests) - len(delivered)
    assert refused >= 2  # every full part was refused once, none twice
    pieces = [r for r in delivered if "-" in dingtalk_content(r).splitlines()[0].rsplit("(", 1)[-1]]
    assert len(pieces) >= 2 * refused and all(len(r.body) <= 10_000 for r in pieces)
    assert_cut_between_items(text, [strip_header(dingtalk_content(r)) for r in delivered])
    assert receipt.detail.startswith(f"{len(delivered)} part(s)")
    assert " (1-1/" in dingtalk_content(delivered[0]).splitlines()[0]


def test_dingtalk_size_refusal_after_splitting_once_is_permanent(
    http_server: HttpServer, clock: FakeClock, message: Message
) -> None:
    http_server.reply = lambda request: (200, DINGTALK_TOO_LARGE)
    with pytest.raises(DeliveryError) as caught:
        dingtalk(http_server, clock).send(dataclasses.replace(message, text=tongbao(40)))  # ≈ 13 KB: one part
    assert caught.value.permanent and not caught.value.channel_fault  # the robot is fine
    assert "460101" in str(caught.value) and "split" in str(caught.value)
    assert len(http_server.requests) == 2  # the part, then the first of its halves: no more


# --------------------------------------------------------------------------- WeCom


def wecom_content_size(request: Recorded) -> int:
    body = request.json
    return len(body[body["msgtype"]]["content"].encode("utf-8"))


def test_wecom_long_tongbao_markdown_stays_within_4096_bytes_cut_between_items(
    http_server: HttpServer, clock: FakeClock, message: Message
) -> None:
    text = tongbao(60)
    http_server.reply = refusing_over(4096, wecom_content_size, WECOM_TOO_LONG)

    receipt = wecom(http_server, clock).send(dataclasses.replace(message, text=text))

    assert max(wecom_content_size(r) for r in http_server.requests) <= 4096
    contents = [r.json["markdown"]["content"] for r in http_server.requests]
    assert all(c.startswith(f"### {message.subject}") for c in contents)
    assert_cut_between_items(text, [strip_header(c) for c in contents])
    assert receipt.detail.startswith(f"{len(contents)} part(s)")


def test_wecom_content_refused_as_too_long_is_split_smaller_once_and_delivered(
    http_server: HttpServer, clock: FakeClock, message: Message
) -> None:
    text = tongbao(30)
    http_server.reply = refusing_over(3000, wecom_content_size, WECOM_TOO_LONG)

    wecom(http_server, clock).send(dataclasses.replace(message, text=text))

    delivered = accepted(http_server, 3000, wecom_content_size)
    assert len(delivered) < len(http_server.requests)  # some were refused, then re-split
    assert_cut_between_items(text, [strip_header(r.json["markdown"]["content"]) for r in delivered])


@pytest.mark.parametrize(("reply", "permanent", "fault", "requests"), [
    # 93000 "invalid webhook url": the key is wrong or deleted — no message can pass.
    ({"errcode": 93000, "errmsg": "invalid webhook url, hint: [1755605200056773468916791], from ip: "
      "127.0.0.1, more info at https://open.work.weixin.qq.com/devtool/query?e=93000"}, True, True, 1),
    # 45009 "api freq out of limit": someone else used the robot's 20 a minute; retry later.
    ({"errcode": 45009, "errmsg": "api freq out of limit, hint: [1773643642077182456917975], "
      "more info at https://open.work.weixin.qq.com/devtool/query?e=45009"}, False, False, 1),
    # 40058 for size, again after one split: permanent for this message, the robot is fine.
    (WECOM_TOO_LONG, True, False, 2),
    ({"errcode": -1, "errmsg": "system busy"}, False, False, 1),
])
def test_wecom_documented_errcodes_are_sorted_by_what_a_retry_can_do(
    http_server: HttpServer, clock: FakeClock, message: Message, reply: dict[str, Any], permanent: bool,
    fault: bool, requests: int
) -> None:
    http_server.reply = lambda request: (200, reply)
    with pytest.raises(DeliveryError) as caught:
        wecom(http_server, clock).send(dataclasses.replace(message, text=tongbao(8)))
    assert (caught.value.permanent, caught.value.channel_fault) == (permanent, fault)
    assert len(http_server.requests) == requests
    assert "WECOM-KEY" not in str(caught.value)


def test_robot_parts_keep_the_rate_limit_of_20_a_minute(
    http_server: HttpServer, clock: FakeClock, message: Message
) -> None:
    # Every request counts, parts included: a 25-part message waits before its 21st part.
    sent_before_wait: list[int] = []
    clock.on_sleep = lambda seconds: sent_before_wait.append(len(http_server.requests))
    wecom(http_server, clock).send(dataclasses.replace(message, text=tongbao(300)))
    assert len(http_server.requests) > 20 and sent_before_wait[0] == 20


# --------------------------------------------------------------------------- hung robots


@pytest.mark.parametrize("kind", ["dingtalk", "wecom", "webhook"])
def test_a_hung_robot_or_webhook_trips_the_breaker_after_three_timeouts(
    hung_server: HungServer, clock: FakeClock, message: Message, kind: str
) -> None:
    from plan_tracker.channels import build_channel
    from plan_tracker.channels.breaker import circuit_open

    url = f"http://127.0.0.1:{hung_server.port}/send?key=SECRET-KEY-0123456789"
    channel = build_channel(kind, url=url, timeout="0.3")
    failures = []
    started = time.monotonic()
    for n in range(10):
        with pytest.raises(DeliveryError) as caught:
            channel.send(dataclasses.replace(message, message_key=f"k{n}"))
        failures.append(caught.value)
    assert time.monotonic() - started < 5  # 3 timeouts, then nothing is tried
    assert len(hung_server.accepted) == 3
    assert not any(f.permanent for f in failures)
    assert all(str(f).startswith("not attempted") for f in failures[3:])
    reason = circuit_open(channel)
    assert reason is not None and "SECRET-KEY" not in reason

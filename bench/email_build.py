"""Building one delivered message's e-mail bytes (issue 17): µs per message.

    python -m bench.email_build [--n 2000] [--profile]

A representative message: a Chinese subject and display name, ~8 KB of text, ~15 KB of
HTML, a Reply-To, and a 7 KB XLSX attachment with a Chinese file name; prints one JSON line
with the best of five rounds (µs per message) with and without the attachment.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import os
import pstats
import time
from collections.abc import Callable

from plan_tracker.channels import Attachment, Message, email_format

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SENDER = "区政府法制办 <duban@example.org>"
WHEN = dt.datetime(2018, 10, 15, 1, 0, tzinfo=dt.UTC)


def sample(attached: bool) -> Message:
    line = "贵单位承担的“对执法队伍进行轮训”（2018年第一季度）已逾期 2 个工作日，请尽快反馈。\n"
    text = "张三同志：\n\n" + line * 80  # ~8 KB of UTF-8
    html = "<table>" + "".join(f"<tr><td>{i}</td><td>{line.strip()}</td></tr>" for i in range(130)) + "</table>"
    form = (Attachment("县1-对执法队伍进行轮训-报送表.xlsx", os.urandom(7 * 1024), XLSX),) if attached else ()
    return Message(recipient_name="张三", address="zhangsan@example.org",
                   subject="【催办】对执法队伍进行轮训（2018-Q1）已逾期 2 个工作日", text=text, html=html,
                   message_key="jingzhou-2018/capability.training/town-a/2018-Q1/urge/0",
                   plan_id="jingzhou-2018", reply_to="区政府法制办 <reply@example.org>", attachments=form)


def build(message: Message) -> bytes:
    functions = vars(email_format)
    if "email_bytes" in functions:
        return functions["email_bytes"](message, sender=SENDER, date=WHEN)  # type: ignore[no-any-return]
    from email import policy  # before issue 17's e-mail writer (f60e290 and earlier)
    return functions["build_email"](message, sender=SENDER, date=WHEN).as_bytes(policy=policy.SMTP)  # type: ignore[no-any-return]


def per_message_us(make: Callable[[Message], bytes], message: Message, n: int) -> float:
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(n):
            make(message)
        best = min(best, time.perf_counter() - start)
    return best / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    plain, attached = sample(False), sample(True)
    print(json.dumps({"bytes": len(build(attached)),
                      "us_per_message": round(per_message_us(build, plain, args.n), 1),
                      "us_per_message_with_attachment": round(per_message_us(build, attached, args.n), 1)}))
    if args.profile:
        with cProfile.Profile() as profile:
            for _ in range(args.n):
                build(attached)
        pstats.Stats(profile).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()

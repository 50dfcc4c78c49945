"""The hand-tuned limit of a night's delivery to the file outbox, beside which `deliver` is
measured (as `limit` is beside `evaluate`): what this machine does when the same guarantees
are kept by the shortest code, with none of the product's generality.

The same work as `services.delivery.deliver` to the file outbox without reply forms, on the
same store (`bench.delivery.prepare`), in one process and one `sqlite3` connection:

1. claim every due row in one UPDATE (one transaction);
2. read the claimed rows with their items in one SELECT, in message order;
3. render each recipient's message with f-strings (text and an HTML table, the fields
   escaped, the levels in the catalogue's words);
4. freeze the messages (one INSERT per message, under its claim) in one transaction, before
   anything is written, as the product does;
5. write the files in groups of 256 with the product's own `FileOutboxChannel.send_group`
   (its MIME bytes by `email_bytes`, 0.1 ms a message; each file `fsync`ed by 8 threads,
   renamed, the folder `fsync`ed once): already as short as that step gets;
6. record every row `sent`, pointing at its message, in one UPDATE and roll the reminders up
   (the product's SQL).

What it leaves out is what a product must have and the limit need not: claim tokens per
recipient (a crash here resends everything), batches bounded in time, routes and channels,
audiences and roles (every row is listed as its recipient's contact would read it), units'
words, forms, failures. So the ratio ours / limit is an upper bound on what better code
could win here; the limit's own rate is what this machine allows.

`deliver_limit_split` runs the same limit in two processes at once, as the night's delivery
stage runs (`deliver_file_stage`): each claims, renders, freezes, writes and records every
other recipient due (in key order, as `services.delivery.split_run` deals them), the
processes started and their imports done before the clock starts, the reminders rolled up
once when both are done. It is the yardstick for the stage's rate.

    python -m bench.delivery_limit STORE OUTBOX PLAN NOW AS_OF   # one share: its recipients on stdin
"""

from __future__ import annotations

import datetime as dt
import html
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.cpu import CpuClock, per_message_ms
from plan_tracker.domain.vocabulary import level_word

GROUP = 256
TD = 'style="padding:4px 8px;border-bottom:1px solid #e3e6ea;vertical-align:top"'

DUE = "state IN ('pending', 'failed') AND (next_attempt_at IS NULL OR next_attempt_at <= :now)"
CLAIM = f"""
UPDATE delivery SET state = 'sending', claim = recipient_key, claimed_at = :now, attempts = attempts + 1
WHERE plan_id = :plan AND {DUE} AND recipient_key IN (SELECT value FROM json_each(:keys))
"""
DUE_KEYS = f"SELECT DISTINCT recipient_key FROM delivery WHERE plan_id = :plan AND {DUE} ORDER BY recipient_key"
CLAIMED = """
SELECT d.recipient_key, d.id, r.level, r.overdue_wd, o.period, o.due, t.title, u.name
FROM delivery d JOIN reminder r ON r.id = d.reminder_id JOIN obligation o ON o.id = r.obligation_id
JOIN task t ON t.plan_id = o.plan_id AND t.id = o.task_id JOIN unit u ON u.plan_id = o.plan_id AND u.id = o.unit_id
WHERE d.plan_id = :plan AND d.state = 'sending' AND d.claim IN (SELECT value FROM json_each(:keys))
ORDER BY d.recipient_key, r.position DESC, o.due, o.task_id, o.unit_id, d.id
"""


def deliver_limit(store: Path, outbox: Path, plan_id: str, now: dt.datetime, as_of: dt.date,
                  share: list[str] | None = None) -> dict[str, Any]:
    """The limit's delivery of the recipients in `share` (one process's part of a split
    run); with none, of every recipient due, the reminders rolled up."""
    # imported before the clock starts, as `deliver`'s are
    from plan_tracker.channels import FileOutboxChannel, Message
    from plan_tracker.store.evaluation_sql import ROLL_UP_REMINDERS

    clock, started = CpuClock(), time.perf_counter()
    con = sqlite3.connect(store, isolation_level=None, timeout=30)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    stamp = now.replace(tzinfo=None).isoformat(" ")
    whole_run = share is None
    keys = json.dumps(due_keys(con, plan_id, stamp) if share is None else share)
    con.execute("BEGIN IMMEDIATE")
    con.execute(CLAIM, {"plan": plan_id, "now": stamp, "keys": keys})
    con.execute("COMMIT")
    recipients = {key: (name, address) for key, name, address in
                  con.execute("SELECT key, name, address FROM recipient WHERE plan_id = ?", (plan_id,))}
    by_recipient: dict[str, list[tuple[Any, ...]]] = {}
    for row in con.execute(CLAIMED, {"plan": plan_id, "keys": keys}):
        by_recipient.setdefault(row[0], []).append(row)
    messages = [_message(Message, plan_id, key, recipients[key], rows, as_of) for key, rows in by_recipient.items()]
    con.execute("BEGIN IMMEDIATE")
    for key, message in zip(by_recipient, messages, strict=True):
        con.execute(
            "INSERT INTO delivery_message (plan_id, recipient_key, message_key, as_of, subject, text, html, created_at,"
            " claim) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (plan_id, key, message.message_key, as_of.isoformat(), message.subject, message.text, message.html,
             stamp, key))
    con.execute("COMMIT")
    channel = FileOutboxChannel(outbox)
    for start in range(0, len(messages), GROUP):
        channel.send_group(messages[start:start + GROUP])
    con.execute("BEGIN IMMEDIATE")
    con.execute("UPDATE delivery SET state = 'sent', sent_at = :now, receipt = 'file',"
                " message_id = (SELECT max(m.id) FROM delivery_message m WHERE m.claim = delivery.claim)"
                " WHERE plan_id = :plan AND state = 'sending' AND claim IN (SELECT value FROM json_each(:keys))",
                {"now": stamp, "plan": plan_id, "keys": keys})
    if whole_run:  # a split run's reminders are rolled up once, when every share is done
        con.execute(ROLL_UP_REMINDERS, {"plan": plan_id})
    con.execute("COMMIT")
    con.close()
    seconds, cpu_seconds = time.perf_counter() - started, clock.seconds()
    return {"step": "deliver_file_limit", "seconds": round(seconds, 3), "messages": len(messages),
            "deliveries": sum(len(rows) for rows in by_recipient.values()),
            "messages_per_s": round(len(messages) / seconds, 1),
            "cpu_ms_per_message": per_message_ms(cpu_seconds, len(messages))}


def due_keys(con: sqlite3.Connection, plan_id: str, stamp: str) -> list[str]:
    """The recipients due, in key order."""
    return [key for key, in con.execute(DUE_KEYS, {"plan": plan_id, "now": stamp})]


def _message(message_type: Any, plan_id: str, key: str, recipient: tuple[str, str], rows: list[tuple[Any, ...]],
             as_of: dt.date) -> Any:
    name, address = recipient
    lines, cells = [], []
    for n, (_, _, level, overdue, period, due, title, unit) in enumerate(rows, 1):
        word = level_word(level, "zh")
        late = f"　已逾期 {overdue} 个工作日" if overdue > 0 else ""
        red = f"<br>已逾期 {overdue} 个工作日" if overdue > 0 else ""
        lines.append(f"{n}.【{word}】{title}\n   责任单位：{unit}　期间：{period}\n   完成时限：{due}{late}\n   单位反馈：尚未报送\n")
        cells.append(f"<tr><td {TD}>{n}</td><td {TD}>{word}</td><td {TD}>{html.escape(title)}</td>"
                     f"<td {TD}>{html.escape(unit)}</td><td {TD}>{html.escape(period)}</td><td {TD}>{due}"
                     f"{red}</td><td {TD}>尚未报送</td></tr>")
    subject = f"【督查督办】{name}：{len(rows)} 项工作请抓紧办理"
    text = f"{name}：\n\n下列 {len(rows)} 项工作请抓紧办理并报送办理情况：\n\n" + "\n".join(lines) + f"\n{as_of}\n"
    body = (f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{html.escape(subject)}</title>'
            f"</head><body><p>{html.escape(name)}：</p><table>{''.join(cells)}</table><p>{as_of}</p></body></html>")
    return message_type(recipient_name=name, address=address, subject=subject, text=text, html=body,
                        message_key=f"limit-{plan_id}-{key}", plan_id=plan_id)


def deliver_limit_split(store: Path, outbox: Path, plan_id: str, now: dt.datetime, as_of: dt.date,
                        processes: int = 2) -> dict[str, Any]:
    """The limit in `processes` processes at once (see the module's text); the clock runs
    from the go to the reminders' roll-up after the last share."""
    from plan_tracker.store.evaluation_sql import ROLL_UP_REMINDERS

    workers = [subprocess.Popen([sys.executable, "-m", "bench.delivery_limit", str(store), str(outbox),
                                 plan_id, now.isoformat(), as_of.isoformat()],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[1])
               for _ in range(processes)]
    for worker in workers:  # each says it has imported what it needs
        if worker.stdout is None or worker.stdout.readline().strip() != "ready":
            raise RuntimeError("a limit process did not start")
    clock = CpuClock([worker.pid for worker in workers])  # their imports before the go not counted
    started = time.perf_counter()
    con = sqlite3.connect(store, isolation_level=None, timeout=30)
    due = due_keys(con, plan_id, now.replace(tzinfo=None).isoformat(" "))  # once for all, as `split_run` reads
    for index, worker in enumerate(workers):
        assert worker.stdin is not None
        worker.stdin.write(json.dumps(due[index::processes]) + "\n")
        worker.stdin.close()
    answers = [worker.stdout.read() if worker.stdout is not None else "" for worker in workers]
    for worker in workers:
        worker.wait(300)
    con.execute("BEGIN IMMEDIATE")
    con.execute(ROLL_UP_REMINDERS, {"plan": plan_id})
    con.execute("COMMIT")
    con.close()
    seconds, cpu_seconds = time.perf_counter() - started, clock.seconds()
    if any(worker.returncode for worker in workers):
        raise RuntimeError("a limit process failed")
    shares = [json.loads(answer.strip().splitlines()[-1]) for answer in answers]
    messages = sum(share["messages"] for share in shares)
    return {"step": "deliver_file_limit_split", "processes": processes, "seconds": round(seconds, 3),
            "messages": messages, "deliveries": sum(share["deliveries"] for share in shares),
            "messages_per_s": round(messages / seconds, 1),
            "cpu_ms_per_message": per_message_ms(cpu_seconds, messages)}


def _share_process() -> None:
    """One share of `deliver_limit_split`: ready once imported, then the share on a go."""
    from plan_tracker.channels import FileOutboxChannel, Message  # noqa: F401  (imported before the clock)
    from plan_tracker.store.evaluation_sql import ROLL_UP_REMINDERS  # noqa: F401

    store, outbox, plan_id, now, as_of = sys.argv[1:6]
    print("ready", flush=True)
    share = json.loads(sys.stdin.readline())  # the go: this process's recipients
    print(json.dumps(deliver_limit(Path(store), Path(outbox), plan_id, dt.datetime.fromisoformat(now),
                                   dt.date.fromisoformat(as_of), share)), flush=True)


if __name__ == "__main__":
    _share_process()

"""The file outbox: one .eml per message, atomic, idempotent by message_key, confined."""

from __future__ import annotations

import dataclasses
import datetime as dt
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

from plan_tracker.channels import FileOutboxChannel, Message


def parse(path: Path):  # type: ignore[no-untyped-def]
    return BytesParser(policy=policy.default).parsebytes(path.read_bytes())


def test_file_outbox_writes_a_parseable_eml_with_the_chinese_subject(tmp_path: Path, message: Message) -> None:
    receipt = FileOutboxChannel(tmp_path / "outbox").send(message)

    path = Path(receipt.detail)
    assert receipt.channel == "file"
    assert path.parent == tmp_path / "outbox" and path.suffix == ".eml"
    email = parse(path)
    assert email["Subject"] == message.subject
    assert email["To"].addresses[0].display_name == "张三"
    assert email["To"].addresses[0].addr_spec == "zhangsan@example.org"
    assert email["Date"] is not None and email["Message-ID"].startswith("<")
    assert email.get_content().rstrip("\n") == message.text
    # RFC 5322 on disk: CRLF line ends and an ASCII-only header block (Subject is encoded).
    head = path.read_bytes().split(b"\r\n\r\n", 1)[0]
    assert head.isascii() and b"\r\n" in head


def test_file_outbox_same_key_twice_gives_one_identical_file(tmp_path: Path, message: Message) -> None:
    # The second send happens an hour later: the file must still be the first one, byte for byte.
    times = iter([dt.datetime(2018, 4, 9, 0, 30, tzinfo=dt.UTC), dt.datetime(2018, 4, 9, 1, 30, tzinfo=dt.UTC)])
    channel = FileOutboxChannel(tmp_path, clock=lambda: next(times))

    first = channel.send(message)
    content = Path(first.detail).read_bytes()
    second = channel.send(message)

    assert first == second
    assert [p.name for p in tmp_path.iterdir()] == [Path(first.detail).name]
    assert Path(second.detail).read_bytes() == content


def test_file_outbox_different_keys_give_different_files(tmp_path: Path, message: Message) -> None:
    channel = FileOutboxChannel(tmp_path)
    # "a/b" and "a_b" sanitise to the same readable name; the digest keeps them apart.
    keys = ["a/b", "a_b", "a:b", message.message_key]
    paths = {channel.send(dataclasses.replace(message, message_key=key)).detail for key in keys}
    assert len(paths) == len(keys)


@pytest.mark.parametrize(
    "key",
    ["../../etc/passwd", "/etc/passwd", "..", ".", "", "a\x00b", "..\\..\\windows\\win.ini", "督办/../../x", "x" * 5000],
)
def test_file_outbox_path_like_keys_stay_inside_the_folder(tmp_path: Path, message: Message, key: str) -> None:
    folder = tmp_path / "outbox"
    receipt = FileOutboxChannel(folder).send(dataclasses.replace(message, message_key=key))

    path = Path(receipt.detail)
    assert path.resolve().parent == folder.resolve()
    assert len(path.name.encode()) < 255
    assert not path.name.startswith(".")  # no hidden files, no '..'
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == [path]
    assert parse(path)["Subject"] == message.subject


def test_file_outbox_leaves_no_temporary_files(tmp_path: Path, message: Message) -> None:
    channel = FileOutboxChannel(tmp_path)
    for n in range(3):
        channel.send(dataclasses.replace(message, message_key=f"k{n}"))
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".eml"] * 3
    assert not any(p.name.startswith(".tmp-") for p in tmp_path.iterdir())


def test_file_outbox_keeps_the_html_alternative(tmp_path: Path, message: Message) -> None:
    receipt = FileOutboxChannel(tmp_path).send(dataclasses.replace(message, html="<p>请尽快反馈</p>"))
    email = parse(Path(receipt.detail))
    assert email.get_body(preferencelist=("plain",)).get_content().rstrip("\n") == message.text
    assert "请尽快反馈" in email.get_body(preferencelist=("html",)).get_content()


def test_file_outbox_writes_nothing_until_asked(tmp_path: Path) -> None:
    FileOutboxChannel(tmp_path / "outbox")
    assert not (tmp_path / "outbox").exists()


def test_a_batch_is_written_as_files_a_resend_leaves_existing_ones_alone_and_a_bad_message_fails_alone(
        tmp_path: Path, message: Message) -> None:
    from plan_tracker.channels import DeliveryError

    outbox = FileOutboxChannel(tmp_path / "outbox")
    first = dataclasses.replace(message, message_key="batch-1")
    already = outbox.path_for(first)
    outbox.send(first)
    before = (already.stat().st_ino, already.read_bytes())
    batch = [first, dataclasses.replace(message, message_key="batch-2"),
             dataclasses.replace(message, message_key="batch-3", address="not an address"),
             dataclasses.replace(message, message_key="batch-4")]
    seen: list[set[str]] = []

    results = outbox.send_group(batch, written=lambda: seen.append({p.name for p in outbox.folder.iterdir()}))

    assert [type(r).__name__ for r in results] == ["Receipt", "Receipt", "DeliveryError", "Receipt"]
    assert isinstance(results[2], DeliveryError) and results[2].permanent
    assert (already.stat().st_ino, already.read_bytes()) == before  # the resend wrote nothing
    names = {p.name for p in outbox.folder.iterdir()}
    assert names == {outbox.path_for(m).name for m in (batch[0], batch[1], batch[3])}  # no temporary file left
    assert all(parse(outbox.path_for(m))["Subject"] == message.subject for m in (batch[1], batch[3]))
    # when `written` runs, the new messages are only temporary files: none is in place yet
    assert len(seen) == 1 and outbox.path_for(batch[1]).name not in seen[0]
    assert sum(1 for name in seen[0] if name.startswith(".tmp-")) == 2
    assert {oct(outbox.path_for(m).stat().st_mode & 0o777) for m in (batch[1], batch[3])} == {"0o600"}


def test_a_killed_batchs_stale_temporary_files_are_swept_and_a_live_writers_are_kept(
    tmp_path: Path, message: Message
) -> None:
    import os
    import time

    outbox = FileOutboxChannel(tmp_path / "outbox")
    outbox.folder.mkdir()
    stale, live = outbox.folder / ".tmp-killed.eml", outbox.folder / ".tmp-writing.eml"
    stale.write_bytes(b"half a message")
    live.write_bytes(b"being written")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    (receipt,) = outbox.send_group([message])
    assert not isinstance(receipt, Exception)
    assert not stale.exists() and live.exists()
    assert [p.name for p in outbox.folder.glob("*.eml") if not p.name.startswith(".")] == [
        Path(receipt.detail).name]


def test_a_file_the_disk_fails_to_flush_fails_its_message_alone_and_leaves_nothing_behind(
        tmp_path: Path, message: Message, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from plan_tracker.channels import DeliveryError

    real_fsync = os.fsync

    def failing_fsync(fd: int) -> None:  # the disk refuses the file addressed to boom@…
        if os.path.isfile(f"/proc/self/fd/{fd}") and b"boom@example.org" in os.pread(fd, 1 << 16, 0):
            raise OSError(5, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    outbox = FileOutboxChannel(tmp_path / "outbox")
    batch = [dataclasses.replace(message, message_key=f"disk-{n}", address=address)
             for n, address in enumerate(["a@example.org", "boom@example.org", "b@example.org"])]

    results = outbox.send_group(batch)

    assert [type(r).__name__ for r in results] == ["Receipt", "DeliveryError", "Receipt"]
    assert isinstance(results[1], DeliveryError) and not results[1].permanent  # retried later
    assert "Input/output error" in str(results[1])
    assert sorted(p.name for p in outbox.folder.iterdir()) == sorted(outbox.path_for(m).name for m in (batch[0], batch[2]))

"""Real mail servers for the reply-by-mail tests: Debian's dovecot IMAP server, started by
the test on a free port with a throwaway configuration and mail folder (plain login from a
passwd file; not the system service), and an aiosmtpd SMTP server that delivers every
accepted message into the recipient's dovecot mailbox by IMAP APPEND.

Every address in `ADDRESSES` is a dovecot user (its password is `PASSWORD`); a message to
any other address is refused at RCPT, as a real server would."""

from __future__ import annotations

import datetime as dt
import imaplib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope
from sqlalchemy import Engine

from plan_tracker.services.plans import apply_plan
from plan_tracker.settings import Settings

from ..conftest import free_port
from ..nightly.conftest import PLAN_YAML as NIGHTLY_PLAN

DOVECOT = "/usr/sbin/dovecot"
PASSWORD = "mail-test-password"
REPLY = "reply@office.example"
PLAN_ID = "national-day"
# The nightly tests' plan; 乙镇 may also answer from its office's shared address.
PLAN_YAML = NIGHTLY_PLAN.replace(
    "contact: {name: 钱七, email: town-b@example.org}",
    "contact: {name: 钱七, email: town-b@example.org}, also_from: [town-b-office@example.org]")
OTHER_PLAN_YAML = PLAN_YAML.replace("id: national-day", "id: other-plan").replace("国庆节前后测试计划", "另一个计划")
ADDRESSES = (REPLY, "legal@example.org", "legal-head@example.org", "town-a@example.org", "town-a-head@example.org",
             "town-b@example.org", "town-b-office@example.org", "lg@example.org", "stranger@example.net")
OCT9 = dt.date(2018, 10, 9)
SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def at(day: dt.date, clock: dt.time) -> dt.datetime:
    return dt.datetime.combine(day, clock, tzinfo=SHANGHAI).astimezone(dt.UTC)


CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


@dataclass
class Dovecot:
    port: int
    root: Path

    def url(self, user: str = REPLY) -> str:
        return f"imap://{user.replace('@', '%40')}:{PASSWORD}@127.0.0.1:{self.port}/INBOX?plain"

    def client(self, user: str) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        client.login(user, PASSWORD)
        return client

    def append(self, user: str, raw: bytes) -> None:
        client = self.client(user)
        try:
            status, _ = client.append("INBOX", None, None, raw)
            assert status == "OK"
        finally:
            client.logout()

    def messages(self, user: str, folder: str = "INBOX") -> list[EmailMessage]:
        client = self.client(user)
        try:
            status, _ = client.select(f'"{folder}"', readonly=True)
            if status != "OK":
                return []
            _, data = client.uid("SEARCH", None, "ALL")
            found = []
            for uid in data[0].split():
                _, parts = client.uid("FETCH", uid, "(BODY.PEEK[])")
                found.append(message_from_bytes(parts[0][1], policy=policy.default))
            return found
        finally:
            client.logout()

    def count(self, user: str, folder: str = "INBOX") -> int:
        """Messages in a folder, without downloading them."""
        client = self.client(user)
        try:
            status, data = client.select(f'"{folder}"', readonly=True)
            return int(data[0]) if status == "OK" else 0
        finally:
            client.logout()

    def empty(self, user: str) -> None:
        client = self.client(user)
        try:
            _, listed = client.list()
            for line in listed:
                name = line.decode().rsplit(' "." ', 1)[-1].strip('"') if isinstance(line, bytes) else ""
                if name and name != "INBOX":
                    client.delete(f'"{name}"')
            _, exists = client.select("INBOX")
            if int(exists[0]):
                client.store("1:*", "+FLAGS", "(\\Deleted)")
                client.expunge()
        finally:
            client.logout()

    def flags(self, user: str, folder: str) -> list[str]:
        client = self.client(user)
        try:
            client.select(f'"{folder}"', readonly=True)
            _, data = client.fetch("1:*", "(FLAGS)")
            return [item.decode() for item in data if item]
        finally:
            client.logout()


def _mail_owner() -> tuple[int, int]:
    """Dovecot will not run mail processes as root: as root, the mail belongs to nobody."""
    if os.getuid() != 0:
        return os.getuid(), os.getgid()
    nobody = pwd.getpwnam("nobody")
    return nobody.pw_uid, nobody.pw_gid


@pytest.fixture(scope="module")
def dovecot_server() -> Iterator[Dovecot]:
    """One dovecot per test module (it starts in about 0.1 s; stopping takes a second)."""
    if not Path(DOVECOT).exists():
        if os.environ.get("CI"):
            pytest.fail("dovecot is not installed: run `make system-deps` (Debian's dovecot-imapd)")
        pytest.skip("dovecot is not installed: run `make system-deps` (Debian's dovecot-imapd)")
    root = Path(tempfile.mkdtemp(prefix="plan-tracker-dovecot-"))
    uid, gid = _mail_owner()
    root.chmod(0o755)  # the mail processes (nobody) walk into it
    for name in ("run", "state", "mail", "home"):
        (root / name).mkdir()
    for name in ("mail", "home"):
        os.chown(root / name, uid, gid)
    (root / "passwd").write_text("".join(f"{a}:{{PLAIN}}{PASSWORD}\n" for a in ADDRESSES), encoding="utf-8")
    port = free_port()
    (root / "dovecot.conf").write_text(CONFIG.format(root=root, uid=uid, gid=gid, port=port), encoding="utf-8")
    process = subprocess.Popen([DOVECOT, "-F", "-c", str(root / "dovecot.conf")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    server = Dovecot(port, root)
    try:
        _wait_for(server, process)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def dovecot(dovecot_server: Dovecot) -> Dovecot:
    """The module's dovecot with every mailbox empty: each test starts from clean mailboxes."""
    for user in ADDRESSES:
        dovecot_server.empty(user)
    return dovecot_server


def _wait_for(server: Dovecot, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dovecot exited: {process.stderr.read().decode() if process.stderr else ''}")
        try:
            server.client(REPLY).logout()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("dovecot did not answer within 10 s")


class RelayHandler:
    """Accepts mail for the dovecot users and APPENDs it into each recipient's INBOX."""

    def __init__(self, server: Dovecot) -> None:
        self.server = server
        self.delivered: list[tuple[str, bytes]] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if address.lower() not in ADDRESSES:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address.lower())
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        for rcpt in envelope.rcpt_tos:
            self.server.append(rcpt, raw)
            self.delivered.append((rcpt, raw))
        return "250 delivered"


@dataclass
class Relay:
    port: int
    handler: RelayHandler
    sent: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def relay(dovecot_server: Dovecot) -> Iterator[Relay]:
    handler = RelayHandler(dovecot_server)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, data_size_limit=64 * 1024 * 1024)
    controller.start()
    try:
        yield Relay(port, handler)
    finally:
        controller.stop()


@pytest.fixture
def mail_settings(tmp_path: Path, dovecot: Dovecot, relay: Relay) -> Settings:
    return Settings(data_dir=tmp_path / "var", smtp_host="127.0.0.1", smtp_port=relay.port,
                    smtp_sender="督查办 <duban@office.example>", reply_address=REPLY,
                    imap_url=dovecot.url(), token_secret="k9-Xq2-mail-tests-7Lp4-Zr8w-Vb3n-Hs6t-Jd1c")


@pytest.fixture
def applied(engine: Engine, tmp_path: Path) -> Engine:
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN_YAML, encoding="utf-8")
    apply_plan(engine, path)
    return engine

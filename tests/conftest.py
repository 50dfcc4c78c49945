"""Shared fixtures: a migrated store on SQLite and on the real local PostgreSQL.

PostgreSQL is not optional: if it cannot be reached the tests fail (CI must not go green
by skipping half the matrix). Each session creates its own database and drops it after.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from plan_tracker.store.db import make_engine, migrate

ROOT = Path(__file__).resolve().parent.parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files that take minutes start first, in the order collected: the slow ones (a year of
    nights, crash sweeps) and those that wait on a Prefect server (heartbeats, leases); then
    the others, most tests first (pytest-xdist's own order, which the Makefile turns off for
    this one). With
    `--dist loadfile` a long file that started last kept one worker busy after the others
    were done: minutes of a run on these 2-core machines. A file's tests stay together, so
    its module fixtures are built once."""
    def file_of(item: pytest.Item) -> str:
        return item.nodeid.split("::")[0]

    tests: dict[str, int] = {}
    waits: set[str] = set()
    for item in items:
        tests[file_of(item)] = tests.get(file_of(item), 0) + 1
        if item.get_closest_marker("slow") or item.get_closest_marker("prefect"):
            waits.add(file_of(item))
    first = {file_of(item): n for n, item in reversed(list(enumerate(items)))}
    items.sort(key=lambda item: (0, 0, first[file_of(item)]) if file_of(item) in waits
               else (1, -tests[file_of(item)], first[file_of(item)]))
FOUNDING_PLAN = ROOT / "src" / "plan_tracker" / "examples" / "plans" / "jingzhou-2018.yaml"


@pytest.fixture(scope="session")
def founding_plan() -> Path:
    return FOUNDING_PLAN
PG_ADMIN_URL = os.environ.get(
    "PLAN_TRACKER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def new_pg_database(prefix: str, *, driver: str | None = None) -> tuple[str, Callable[[], None]]:
    """A new, empty PostgreSQL database named `<prefix>_<random>`: its URL (with `driver`,
    e.g. `postgresql+asyncpg`, if given) and the function that drops it. Fails the test,
    never skips it, when PostgreSQL cannot be reached."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # pragma: no cover - the environment is broken
        admin.dispose()
        pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is required for the tests: {exc}")
    url = make_url(PG_ADMIN_URL).set(database=name)
    if driver:
        url = url.set(drivername=driver)

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url.render_as_string(hide_password=False), drop


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    url, drop = new_pg_database("pt_test")
    try:
        yield url
    finally:
        drop()


@pytest.fixture(scope="session")
def pg_engine(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    migrate(engine)
    yield engine
    engine.dispose()


def _truncate_pg(engine: Engine) -> None:
    with engine.begin() as conn:
        tables = [r[0] for r in conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"))]
        if tables:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A clean, migrated database URL on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
        engine = make_engine(url)
        migrate(engine)
        engine.dispose()
        return url
    engine = request.getfixturevalue("pg_engine")
    _truncate_pg(engine)
    return str(engine.url.render_as_string(hide_password=False))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def cli_env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Point the CLI (in-process or subprocess) at the test database and a temp data dir."""
    from plan_tracker.settings import get_settings
    from plan_tracker.store.db import engine_for

    env = {"PLAN_TRACKER_DATABASE_URL": db_url, "PLAN_TRACKER_DATA_DIR": str(tmp_path / "var")}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    engine_for.cache_clear()
    yield env
    get_settings.cache_clear()
    engine_for.cache_clear()


# Real local servers: an aiosmtpd SMTP server and a threaded HTTP server that plays webhook
# receiver, DingTalk and WeCom. No mocks of smtplib or httpx: real sockets, real framing.
# --------------------------------------------------------------------------- helpers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def closed_port() -> int:
    """A port nothing listens on: connecting is refused at once."""
    return free_port()


# --------------------------------------------------------------------------- SMTP


class RecordingHandler:
    """An aiosmtpd handler that keeps what it accepts and can be told to refuse."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.peers: list[Any] = []  # each accepted message's client (host, port): its connection
        self.rcpt_reply: str | None = None  # e.g. "550 5.1.1 no such user"
        self.data_reply: str | None = None  # e.g. "451 4.3.0 try again later"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Envelope, address: str, rcpt_options: list[str]) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        if self.data_reply:
            return self.data_reply
        self.envelopes.append(envelope)
        self.peers.append(session.peer)
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    handler: RecordingHandler
    port: int
    host: str = "127.0.0.1"


SMTP_USER = "duban"
SMTP_PASSWORD = "s3cret-smtp-password"


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        SMTP_USER.encode(),
        SMTP_PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_credentials() -> tuple[str, str]:
    """The (username, password) the test SMTP server accepts."""
    return SMTP_USER, SMTP_PASSWORD


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server on 127.0.0.1 accepting AUTH (without TLS, for the test only)."""
    yield from _smtp_server()


@pytest.fixture
def ascii_smtp_server() -> Iterator[SmtpServer]:
    """The same server without SMTPUTF8 (no internationalized addresses), as many are."""
    yield from _smtp_server(enable_SMTPUTF8=False)


def _smtp_server(**options: Any) -> Iterator[SmtpServer]:
    handler = RecordingHandler()
    port = free_port()
    controller = Controller(
        handler, hostname="127.0.0.1", port=port, authenticator=_authenticator, auth_require_tls=False, **options
    )
    controller.start()
    try:
        yield SmtpServer(handler=handler, port=port)
    finally:
        controller.stop()


@dataclass
class HungServer:
    """A TCP server that accepts every connection and never says a word (no SMTP greeting)."""

    port: int
    accepted: list[socket.socket] = field(default_factory=list)
    host: str = "127.0.0.1"


@pytest.fixture
def hung_server() -> Iterator[HungServer]:
    listener = socket.create_server(("127.0.0.1", 0), backlog=128)
    server = HungServer(port=int(listener.getsockname()[1]))
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            server.accepted.append(conn)  # held open, silent, until the test ends

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()
        for conn in server.accepted:  # a client still waiting sees the connection close
            conn.close()


# --------------------------------------------------------------------------- HTTP


@dataclass
class Recorded:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


Reply = tuple[int, Any]  # (HTTP status, JSON-able body or raw bytes)


@dataclass
class HttpServer:
    port: int
    requests: list[Recorded] = field(default_factory=list)
    # Decides each reply; the default is a robot's success answer.
    reply: Callable[[Recorded], Reply] = lambda request: (200, {"errcode": 0, "errmsg": "ok"})
    delay: float = 0.0

    def url(self, path: str = "/robot/send?access_token=TOKEN-abc123") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def replies(self, *answers: Reply) -> None:
        """Answer the next requests in turn; the last answer repeats."""
        queue = list(answers)
        self.reply = lambda request: queue.pop(0) if len(queue) > 1 else queue[0]


def _handler_for(app: HttpServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            parts = urlsplit(self.path)
            recorded = Recorded(
                path=parts.path,
                query=parse_qs(parts.query),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=self.rfile.read(length),
            )
            app.requests.append(recorded)
            if app.delay:
                time.sleep(app.delay)
            status, body = app.reply(recorded)
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (the timeout tests): nothing to answer

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

    return Handler


@pytest.fixture
def http_server() -> Iterator[HttpServer]:
    app = HttpServer(port=0)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(app))
    server.daemon_threads = True  # a deliberately slow handler must not block teardown
    app.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield app
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --------------------------------------------------------------------------- channels


class RecordingFactory:
    """A channel factory for `deliver(..., factory=)`: the real channels, with every message
    key sent counted, thread-safe (a fake only in the counting)."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, kind: str, options: dict[str, Any]) -> Any:
        from plan_tracker.channels import build_channel

        channel = build_channel(kind, **options)
        recorder = self

        class Wrapped:
            name = channel.name

            def send(self, message: Any) -> Any:
                receipt = channel.send(message)
                with recorder.lock:
                    recorder.sent.append(message.message_key)
                return receipt

        return Wrapped()


@pytest.fixture
def recording() -> type[RecordingFactory]:
    """`recording()` makes a new recording channel factory."""
    return RecordingFactory


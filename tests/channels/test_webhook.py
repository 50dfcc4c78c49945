"""The generic JSON webhook against a real local HTTP server."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import httpx
import pytest

from plan_tracker.channels import DeliveryError, Message, WebhookChannel

if TYPE_CHECKING:
    from tests.channels.conftest import HttpServer

HOOK_PATH = "/hooks/plan-tracker?token=URL-TOKEN-777"


def test_webhook_posts_the_message_as_json(http_server: HttpServer, message: Message) -> None:
    http_server.reply = lambda request: (202, {"accepted": True})
    channel = WebhookChannel(http_server.url(HOOK_PATH), secret_header="X-Hook-Secret", secret="shh-123")

    receipt = channel.send(message)

    [request] = http_server.requests
    assert request.json == {
        "subject": message.subject,
        "text": message.text,
        "recipient": "张三",
        "address": "zhangsan@example.org",
        "key": message.message_key,
    }
    assert request.headers["x-hook-secret"] == "shh-123"
    assert request.headers["content-type"] == "application/json"
    assert receipt.channel == "webhook" and receipt.detail == "HTTP 202"


def test_webhook_uses_an_injected_client(http_server: HttpServer, message: Message) -> None:
    with httpx.Client() as client:
        WebhookChannel(http_server.url(HOOK_PATH), client=client).send(message)
        assert not client.is_closed  # the caller owns it
    assert len(http_server.requests) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 408, 429])
def test_webhook_server_errors_and_throttling_are_transient(http_server: HttpServer, message: Message, status: int) -> None:
    http_server.reply = lambda request: (status, {"error": "later"})
    with pytest.raises(DeliveryError) as caught:
        WebhookChannel(http_server.url(HOOK_PATH)).send(message)
    assert not caught.value.permanent
    assert str(status) in str(caught.value)


@pytest.mark.parametrize("status,fault", [(400, False), (422, False), (401, True), (403, True), (404, True)])
def test_webhook_client_errors_are_permanent(http_server: HttpServer, message: Message, status: int, fault: bool) -> None:
    http_server.reply = lambda request: (status, {"error": "no"})
    with pytest.raises(DeliveryError) as caught:
        WebhookChannel(http_server.url(HOOK_PATH)).send(message)
    assert caught.value.permanent
    assert caught.value.channel_fault is fault  # a wrong URL or secret breaks every message


def test_webhook_timeout_is_transient(http_server: HttpServer, message: Message) -> None:
    http_server.delay = 1.0
    with pytest.raises(DeliveryError) as caught:
        WebhookChannel(http_server.url(HOOK_PATH), timeout=0.2).send(message)
    assert not caught.value.permanent
    assert "timed out" in str(caught.value)


def test_webhook_connection_refused_is_transient(closed_port: int, message: Message) -> None:
    with pytest.raises(DeliveryError) as caught:
        WebhookChannel(f"http://127.0.0.1:{closed_port}{HOOK_PATH}", timeout=2).send(message)
    assert not caught.value.permanent


def test_webhook_never_shows_its_secret_or_url_token(
    http_server: HttpServer, closed_port: int, message: Message, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # The receiver echoes the secret back in its error body: that must be scrubbed too.
    http_server.reply = lambda request: (400, {"error": "bad secret shh-123 for URL-TOKEN-777"})
    channel = WebhookChannel(http_server.url(HOOK_PATH), secret_header="X-Hook-Secret", secret="shh-123")
    unreachable = WebhookChannel(f"http://127.0.0.1:{closed_port}{HOOK_PATH}", "X-Hook-Secret", "shh-123")

    errors = []
    for ch in (channel, unreachable):
        with pytest.raises(DeliveryError) as caught:
            ch.send(message)
        errors.append(str(caught.value))
    shown = " ".join([repr(channel), repr(unreachable), *errors, caplog.text])
    assert "shh-123" not in shown and "URL-TOKEN-777" not in shown
    assert "/hooks/plan-tracker" in repr(channel)
    assert "HTTP Request: POST" in caplog.text  # httpx's own request log was checked too


def test_webhook_secret_needs_its_header() -> None:
    with pytest.raises(ValueError):
        WebhookChannel("http://127.0.0.1/hook", secret="lonely")

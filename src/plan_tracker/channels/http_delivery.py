"""POSTing JSON to a webhook and sorting failures into transient and permanent.

Shared by the webhook and robot channels so that they classify HTTP the same way. Robot
webhook URLs carry their credential in the query string (`access_token=`, `key=`), so
every message built here names the URL with its query removed, and exception text is
scrubbed of the secrets before it can reach a log or the database.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from plan_tracker.channels.base import DeliveryError
from plan_tracker.channels.breaker import Unreachable

if TYPE_CHECKING:  # httpx is imported by the first robot or webhook send, not with the channels:
    import httpx  # a night to the file outbox or SMTP never loads it (about 55 ms)

logger = logging.getLogger(__name__)

# Retrying can help: the request timed out (408) or we were told to slow down (429).
_TRANSIENT_4XX = frozenset({408, 429})
# The URL or credential is wrong: no message can get through this channel as configured.
_CHANNEL_FAULTS = frozenset({401, 403, 404, 410})


def redact_url(url: str) -> str:
    """The URL without user info and query: safe to show in reprs, logs and errors."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    query = "…" if parts.query else ""
    return urlunsplit((parts.scheme, host, parts.path, query, ""))


def url_secrets(url: str) -> list[str]:
    """The values in a URL that must never be shown (query values, password)."""
    parts = urlsplit(url)
    found = [value for _, value in parse_qsl(parts.query) if value]
    if parts.password:
        found.append(parts.password)
    return found


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    for secret in secrets:
        # Values of a few characters (`?v=1`) are not credentials, and blanking every
        # "1" would make the message unreadable.
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


class _HideQueryStrings(logging.Filter):
    """httpx logs every request URL at INFO, and robot URLs carry their token in the query."""

    def filter(self, record: logging.LogRecord) -> bool:
        import httpx  # loaded already: this filter sits on httpx's own logger

        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_url(str(arg)) if isinstance(arg, httpx.URL) else arg for arg in record.args
            )
        return True


_HIDE_QUERY_STRINGS = _HideQueryStrings()


def guard_httpx_logs() -> None:
    """Keep robot tokens out of httpx's own request log (idempotent; done on first send,
    not at import). It hides the query of every URL httpx logs in this process: a query
    is where credentials hide, and the path and host are kept for diagnosis."""
    httpx_logger = logging.getLogger("httpx")
    if _HIDE_QUERY_STRINGS not in httpx_logger.filters:
        httpx_logger.addFilter(_HIDE_QUERY_STRINGS)


def classify_status(status: int) -> DeliveryError | None:
    """None for 2xx; otherwise the error to raise (5xx, 408, 429 transient; others permanent)."""
    if 200 <= status < 300:
        return None
    transient = status >= 500 or status in _TRANSIENT_4XX
    return DeliveryError(
        f"HTTP {status}", permanent=not transient, channel_fault=status in _CHANNEL_FAULTS
    )


@contextmanager
def http_client(client: httpx.Client | None, timeout: float) -> Iterator[httpx.Client]:
    """The injected client, or a short-lived one per send so nothing is left open."""
    import httpx

    if client is not None:
        yield client
        return
    with httpx.Client(timeout=timeout) as own:
        yield own


def post_json(
    client: httpx.Client,
    url: str,
    payload: Mapping[str, Any] | bytes,
    *,
    timeout: float,
    headers: Mapping[str, str] | None = None,
    secrets: Iterable[str | None] = (),
) -> httpx.Response:
    """POST and return a 2xx response, or raise a classified DeliveryError.

    `payload` is a JSON-able mapping, or a body already serialised as JSON (a robot that
    measured its size sends exactly the bytes it measured)."""
    import httpx

    guard_httpx_logs()
    shown = redact_url(url)
    hidden = [*url_secrets(url), *secrets]
    try:
        if isinstance(payload, bytes):
            sent = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
            response = client.post(url, content=payload, headers=sent, timeout=timeout)
        else:
            response = client.post(url, json=payload, headers=headers, timeout=timeout)
    except httpx.TimeoutException as exc:
        # `from None`: the chained httpx error carries the request and its secret URL.
        raise Unreachable(f"timed out posting to {shown}: {type(exc).__name__}") from None
    except httpx.TransportError as exc:  # connection refused or reset, DNS
        detail = scrub(str(exc), hidden)
        raise Unreachable(f"could not post to {shown}: {type(exc).__name__}: {detail}") from None
    except httpx.HTTPError as exc:  # anything else httpx raises (a malformed URL, a protocol error)
        detail = scrub(str(exc), hidden)
        raise DeliveryError(f"could not post to {shown}: {type(exc).__name__}: {detail}") from None
    error = classify_status(response.status_code)
    if error is not None:
        body = scrub(response.text[:200], hidden)
        logger.info("POST %s failed: HTTP %s", shown, response.status_code)
        raise DeliveryError(
            f"{error} from {shown}: {body}", permanent=error.permanent, channel_fault=error.channel_fault
        )
    logger.debug("POST %s: HTTP %s", shown, response.status_code)
    return response

"""What DingTalk and WeCom group robots share: errcode replies, rate limits, parts.

Both answer HTTP 200 with a JSON `errcode` (0 is success), both allow 20 messages per
robot per minute, and both cap a request in bytes, so a long message goes as numbered
parts. The robot modules supply only their `Layout` (payload shape and byte cap) and
their error-code tables.

Sizes are measured on the bytes actually sent: the body is serialised here (compact JSON,
UTF-8, non-ASCII unescaped) and posted as is, so what was counted is what goes out.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from plan_tracker.channels.base import DeliveryError
from plan_tracker.channels.breaker import Unreachable
from plan_tracker.channels.http_delivery import post_json, redact_url, scrub, url_secrets
from plan_tracker.channels.ratelimit import RollingWindowLimiter
from plan_tracker.channels.splitting import split_chunks, utf8_len

if TYPE_CHECKING:  # imported by the first send (channels.http_delivery), not with the channels
    import httpx

logger = logging.getLogger(__name__)

Payload = Callable[[str, str], Mapping[str, Any]]  # (content, label "" or "2/3") -> JSON payload


class TooLarge(DeliveryError):
    """The robot refused a request for its size. Resending the same bytes cannot help, so it
    is permanent; `send_parts` splits the refused part smaller once before giving up."""

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=True)


@dataclass(frozen=True)
class Layout:
    """How one robot lays a message out in requests.

    `whole_body`: the cap is on the whole request body (DingTalk) rather than on the
    content alone (WeCom). `lead` goes before the subject (a markdown heading mark).
    """

    max_bytes: int
    payload: Payload
    whole_body: bool
    lead: str = ""


@dataclass(frozen=True)
class Request:
    label: str  # "" for a single part, "2/3" for the second of three, "2-1/3" once re-split
    chunk: str  # the slice of the message text this request carries
    body: bytes  # exactly what is POSTed


@dataclass(frozen=True)
class Sent:
    """What a send did, for the receipt: requests made and the largest body among them."""

    requests: int
    largest_body: int


def encode(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def json_len(text: str) -> int:
    """Bytes `text` takes inside a JSON string (newlines become `\\n`, quotes `\\"`):
    the escape is per character, so this adds up over concatenation as splitting needs."""
    return utf8_len(json.dumps(text, ensure_ascii=False)) - 2


def plan_requests(layout: Layout, subject: str, text: str, *, max_bytes: int | None = None,
                  label: Callable[[int, int], str] | None = None) -> list[Request]:
    """The requests carrying `text`, each within the layout's cap (or `max_bytes`), cut
    between items. A subject so long that nothing fits beside it is a permanent error."""
    limit = layout.max_bytes if max_bytes is None else max_bytes
    label = label or _label
    subject = " ".join(subject.splitlines())

    def header(tag: str) -> str:
        return f"{layout.lead}{subject}{f' ({tag})' if tag else ''}\n\n"

    def body(chunk: str, tag: str) -> bytes:
        return encode(layout.payload(header(tag) + chunk, tag))

    if layout.whole_body:
        fixed, measure = (lambda i, n: len(body("", label(i, n)))), json_len
    else:
        fixed, measure = (lambda i, n: utf8_len(header(label(i, n)))), utf8_len
    try:
        chunks = split_chunks(text, limit, fixed, measure)
    except ValueError as exc:
        raise DeliveryError(f"cannot fit message: {exc}", permanent=True) from None
    total = len(chunks)
    requests = [Request(label(i, total), chunk, body(chunk, label(i, total))) for i, chunk in enumerate(chunks, 1)]
    for request in requests:  # the measure above must agree with the bytes: check, not trust
        size = len(request.body) if layout.whole_body else utf8_len(header(request.label) + request.chunk)
        if size > limit:  # pragma: no cover - a bug in the measure, never the peer's fault
            raise DeliveryError(f"part {request.label} is {size} bytes, over {limit}", permanent=True)
    return requests


def _label(number: int, total: int) -> str:
    return f"{number}/{total}" if total > 1 else ""


def post_to_robot(
    client: httpx.Client,
    url: str,
    body: bytes,
    *,
    timeout: float,
    codes: ErrorCodes,
    secrets: Iterable[str | None] = (),
) -> None:
    """POST to a chat robot, where HTTP 200 alone means nothing: `errcode` must be 0.

    A code in `codes.permanent` cannot succeed on retry (and one in `codes.fault` means the
    robot itself is misconfigured); one in `codes.size` is a refusal for size (`TooLarge`);
    any other nonzero code is treated as transient, because a robot platform invents new
    codes faster than we learn them and losing a reminder to an unknown code is worse than
    retrying it.
    """
    hidden = [*url_secrets(url), *secrets]
    shown = redact_url(url)
    response = post_json(client, url, body, timeout=timeout, secrets=hidden)
    try:
        data = response.json()
        code, reason = int(data["errcode"]), scrub(str(data.get("errmsg", "")), hidden)
    except (ValueError, KeyError, TypeError):
        # A proxy's error page or a truncated body: the robot may well be fine next time.
        text = scrub(response.text[:100], hidden)
        raise DeliveryError(f"unreadable reply from {shown}: {text!r}") from None
    if code == 0:
        return
    logger.info("robot %s refused a message: errcode %s %s", shown, code, reason)
    what = f"robot {shown} answered errcode {code}: {reason}"
    if code in codes.size:
        raise TooLarge(f"{what} ({len(body)} bytes)")
    raise DeliveryError(
        what, permanent=code in codes.permanent or code in codes.fault, channel_fault=code in codes.fault
    )


@dataclass(frozen=True)
class ErrorCodes:
    """A robot's documented `errcode`s, sorted by what a retry can do."""

    fault: frozenset[int]  # the robot is misconfigured: every later message would fail
    permanent: frozenset[int]  # this message can never pass, the robot is fine
    size: frozenset[int]  # refused for its size: split smaller once, then permanent


@dataclass(frozen=True)
class Target:
    """Where and how a robot's requests go."""

    client: httpx.Client
    limiter: RollingWindowLimiter
    url_for: Callable[[], str]  # called per request, after the wait: a fresh signature
    timeout: float
    codes: ErrorCodes
    secrets: tuple[str | None, ...] = ()


def send_message(target: Target, layout: Layout, subject: str, text: str) -> Sent:
    """Send `text` as numbered parts in order, each within the rate limit; stop at the
    first failure.

    A part refused for its size is split once into parts of at most half the cap and
    those are sent instead; a refusal of one of those is permanent (no retry until dead).
    A failure after some parts went out fails the whole message; its retry sends every
    part again, so readers may see the first parts twice — the documented duplicate window.
    """
    requests = plan_requests(layout, subject, text)
    total = len(requests)
    count, largest = 0, 0
    for number, request in enumerate(requests, start=1):
        try:
            _post(target, request)
            sent = [request]
        except TooLarge as exc:
            logger.info("part %s/%s refused for its size: splitting it smaller once", number, total)
            sent = _resend_smaller(target, layout, subject, request, number, total, exc)
        except DeliveryError as exc:
            raise _in_part(exc, number, total) from None
        count += len(sent)
        largest = max([largest, *(len(r.body) for r in sent)])
    return Sent(count, largest)


def _resend_smaller(target: Target, layout: Layout, subject: str, refused: Request, number: int,
                    total: int, first: TooLarge) -> list[Request]:
    half = layout.max_bytes // 2

    def label(piece: int, pieces: int) -> str:
        return f"{number}-{piece}/{total}" if total > 1 else f"{piece}/{pieces}"

    pieces = plan_requests(layout, subject, refused.chunk, max_bytes=half, label=label)
    for request in pieces:
        try:
            _post(target, request)
        except TooLarge as exc:
            raise DeliveryError(
                f"part {number}/{total} refused for its size ({len(refused.body)} bytes: {first}) and again "
                f"when split into {len(pieces)} parts of at most {half} bytes: {exc}", permanent=True,
            ) from None
        except DeliveryError as exc:
            raise _in_part(exc, number, total) from None
    return pieces


def _post(target: Target, request: Request) -> None:
    target.limiter.acquire()
    post_to_robot(target.client, target.url_for(), request.body, timeout=target.timeout,
                  codes=target.codes, secrets=target.secrets)


def _in_part(exc: DeliveryError, number: int, total: int) -> DeliveryError:
    if total == 1:
        return exc
    what = f"part {number}/{total}: {exc}"
    if isinstance(exc, Unreachable):  # still the breaker's business
        return Unreachable(what)
    return DeliveryError(what, permanent=exc.permanent, channel_fault=exc.channel_fault)

"""What DingTalk and WeCom group robots share: errcode replies, rate limits, parts.

Both answer HTTP 200 with a JSON `errcode` (0 is success), both allow 20 messages per
robot per minute, and both cap the content in bytes, so a long message goes as numbered
parts. The robot modules supply only their URL, payload shape and error-code tables.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import httpx

from plan_tracker.channels.base import DeliveryError
from plan_tracker.channels.http_delivery import post_json, redact_url, scrub, url_secrets
from plan_tracker.channels.ratelimit import RollingWindowLimiter
from plan_tracker.channels.splitting import split_text

logger = logging.getLogger(__name__)


def post_to_robot(
    client: httpx.Client,
    url: str,
    payload: Mapping[str, Any],
    *,
    timeout: float,
    permanent_codes: frozenset[int],
    fault_codes: frozenset[int],
    secrets: Iterable[str | None] = (),
) -> None:
    """POST to a chat robot, where HTTP 200 alone means nothing: `errcode` must be 0.

    A code in `permanent_codes` cannot succeed on retry (and one in `fault_codes` means
    the robot itself is misconfigured); any other nonzero code is treated as transient,
    because a robot platform invents new codes faster than we learn them and losing a
    reminder to an unknown code is worse than retrying it.
    """
    hidden = [*url_secrets(url), *secrets]
    shown = redact_url(url)
    response = post_json(client, url, payload, timeout=timeout, secrets=hidden)
    try:
        data = response.json()
        code, reason = int(data["errcode"]), scrub(str(data.get("errmsg", "")), hidden)
    except (ValueError, KeyError, TypeError):
        # A proxy's error page or a truncated body: the robot may well be fine next time.
        body = scrub(response.text[:100], hidden)
        raise DeliveryError(f"unreadable reply from {shown}: {body!r}") from None
    if code == 0:
        return
    logger.info("robot %s refused a message: errcode %s %s", shown, code, reason)
    raise DeliveryError(
        f"robot {shown} answered errcode {code}: {reason}",
        permanent=code in permanent_codes or code in fault_codes,
        channel_fault=code in fault_codes,
    )


def send_parts(
    client: httpx.Client,
    parts: Sequence[str],
    *,
    limiter: RollingWindowLimiter,
    url_for: Callable[[], str],
    payload_for: Callable[[str, int, int], Mapping[str, Any]],
    timeout: float,
    permanent_codes: frozenset[int],
    fault_codes: frozenset[int],
    secrets: Iterable[str | None] = (),
) -> None:
    """Send each part in order, each within the rate limit; stop at the first failure.

    `url_for` is called per request, after the wait, so a signed URL carries a fresh
    timestamp. `payload_for(content, number, total)` builds one request body.
    A failure after some parts went out fails the whole message; its retry sends every
    part again, so readers may see the first parts twice — the documented duplicate window.
    """
    hidden = list(secrets)
    total = len(parts)
    for number, content in enumerate(parts, start=1):
        limiter.acquire()
        try:
            post_to_robot(
                client,
                url_for(),
                payload_for(content, number, total),
                timeout=timeout,
                permanent_codes=permanent_codes,
                fault_codes=fault_codes,
                secrets=hidden,
            )
        except DeliveryError as exc:
            if total == 1:
                raise
            raise DeliveryError(
                f"part {number}/{total}: {exc}", permanent=exc.permanent, channel_fault=exc.channel_fault
            ) from None


def message_parts(subject: str, text: str, max_bytes: int, *, lead: str = "") -> list[str]:
    """The content of each request: the subject on top, numbered "(1/3)" when split.

    `lead` goes before the subject (e.g. a markdown heading mark). A subject so long that
    nothing fits beside it is a permanent error: resending cannot make it shorter.
    """
    subject = " ".join(subject.splitlines())

    def header(number: int, total: int) -> str:
        counter = f" ({number}/{total})" if total > 1 else ""
        return f"{lead}{subject}{counter}\n\n"

    try:
        return split_text(text, max_bytes, header)
    except ValueError as exc:
        raise DeliveryError(f"cannot fit message: {exc}", permanent=True) from None

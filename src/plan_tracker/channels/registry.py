"""Building a channel from configuration: `build_channel("dingtalk", url=..., secret=...)`.

Settings arrive as strings from the environment (`PLAN_TRACKER_ROBOTS` holds
`{"name": {"kind": ..., "url": ..., "secret": ...}}`) or as pydantic `SecretStr`, so
known numeric and boolean settings are converted here, and secrets are unwrapped here
only, right before they reach the channel.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from plan_tracker.channels.base import Channel
from plan_tracker.channels.dingtalk import DingTalkChannel
from plan_tracker.channels.file_outbox import FileOutboxChannel
from plan_tracker.channels.smtp import SmtpChannel
from plan_tracker.channels.webhook import WebhookChannel
from plan_tracker.channels.wecom import WeComChannel

_FACTORIES: dict[str, Callable[..., Channel]] = {
    "file": FileOutboxChannel,
    "smtp": SmtpChannel,
    "webhook": WebhookChannel,
    "dingtalk": DingTalkChannel,
    "wecom": WeComChannel,
}
KINDS = tuple(_FACTORIES)


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off", ""}:
            return False
        raise ValueError(f"not a yes/no value: {value!r}")
    return bool(value)


_CONVERT: dict[str, Callable[[Any], Any]] = {
    "port": int,
    "timeout": float,
    "connect_timeout": float,
    "greeting_timeout": float,
    "breaker_threshold": int,
    "max_per_minute": int,
    "max_bytes": int,
    "starttls": _as_bool,
    "ssl": _as_bool,
    "folder": Path,
}
# The robots setting says `url`; the robot channels call it `webhook_url`.
_ALIASES = {"dingtalk": {"url": "webhook_url"}, "wecom": {"url": "webhook_url"}}


def _reveal(value: Any) -> Any:
    # pydantic's SecretStr, without importing pydantic into the channels.
    reveal = getattr(value, "get_secret_value", None)
    return reveal() if callable(reveal) else value


def build_channel(kind: str, /, **settings: Any) -> Channel:
    """A channel of `kind` (file, smtp, webhook, dingtalk, wecom) built from `settings`.

    `kind` is positional-only so a robot's settings dict, which has its own `kind` key,
    can be passed whole: `build_channel(robot["kind"], **robot)`. Settings left unset
    (None) take the channel's default. Raises ValueError for an unknown kind or setting.
    """
    factory = _FACTORIES.get(kind)
    if factory is None:
        raise ValueError(f"unknown channel kind {kind!r}; expected one of {', '.join(KINDS)}")
    stated = settings.pop("kind", kind)
    if stated != kind:
        raise ValueError(f"settings say kind {stated!r} but {kind!r} was asked for")
    aliases = _ALIASES.get(kind, {})
    arguments: dict[str, Any] = {}
    for key, value in settings.items():
        if value is None:
            continue
        key = aliases.get(key, key)
        value = _reveal(value)
        try:
            arguments[key] = _CONVERT[key](value) if key in _CONVERT else value
        except (TypeError, ValueError):
            raise ValueError(f"{kind} channel: bad value for {key}") from None  # value may be secret
    try:
        return factory(**arguments)
    except TypeError as exc:  # an unknown or missing setting; names only, never values
        raise ValueError(f"{kind} channel: {exc}") from None

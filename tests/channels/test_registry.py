"""Building channels from settings, and what every channel must never show."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from plan_tracker.channels import (
    KINDS,
    Channel,
    DingTalkChannel,
    FileOutboxChannel,
    SmtpChannel,
    WebhookChannel,
    WeComChannel,
    build_channel,
)

SECRETS = ("smtp-pw-9f8e7d", "hook-secret-5a4b", "dt-token-1c2d3e", "dt-sign-secret-7f", "wecom-key-0a0b")


def every_channel(tmp_path: Path) -> list[Channel]:
    return [
        build_channel("file", folder=str(tmp_path)),
        build_channel("smtp", host="smtp.example.org", port="587", sender="pt@example.org",
                      username="duban", password=SecretStr("smtp-pw-9f8e7d"), starttls="true"),
        build_channel("webhook", url="https://hooks.example.org/in?sig=hook-secret-5a4b",
                      secret_header="X-Secret", secret="hook-secret-5a4b"),
        build_channel("dingtalk", url="https://oapi.dingtalk.com/robot/send?access_token=dt-token-1c2d3e",
                      secret="dt-sign-secret-7f", max_per_minute="10"),
        build_channel("wecom", webhook_url="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=wecom-key-0a0b"),
    ]


def test_build_channel_makes_every_kind(tmp_path: Path) -> None:
    channels = every_channel(tmp_path)
    assert [type(c) for c in channels] == [
        FileOutboxChannel, SmtpChannel, WebhookChannel, DingTalkChannel, WeComChannel
    ]
    assert [c.name for c in channels] == list(KINDS)
    assert all(isinstance(c, Channel) for c in channels)


def test_build_channel_converts_settings_given_as_strings(tmp_path: Path) -> None:
    smtp = build_channel("smtp", host="h", port="465", ssl="yes", timeout="2.5")
    assert isinstance(smtp, SmtpChannel)
    assert (smtp.port, smtp.ssl, smtp.starttls, smtp.timeout) == (465, True, False, 2.5)
    outbox = build_channel("file", folder=str(tmp_path))
    assert isinstance(outbox, FileOutboxChannel) and outbox.folder == tmp_path


def test_build_channel_accepts_a_robot_entry_whole() -> None:
    # The shape of PLAN_TRACKER_ROBOTS entries: the kind travels inside the settings.
    entry = {"kind": "dingtalk", "url": "https://oapi.dingtalk.com/robot/send?access_token=t", "secret": "s"}
    channel = build_channel(entry["kind"], name="dingtalk:legal-office", **entry)
    assert isinstance(channel, DingTalkChannel) and channel.name == "dingtalk:legal-office"


def test_build_channel_leaves_unset_settings_at_their_defaults() -> None:
    channel = build_channel("smtp", host="h", port=None, username=None)
    assert isinstance(channel, SmtpChannel) and channel.port == 25 and channel.username is None


def test_build_channel_refuses_an_unknown_kind() -> None:
    with pytest.raises(ValueError, match="sms"):
        build_channel("sms", url="x")


def test_build_channel_refuses_a_kind_that_contradicts_the_settings() -> None:
    with pytest.raises(ValueError, match="wecom"):
        build_channel("dingtalk", kind="wecom", url="https://x/y?key=secret-k")


def test_build_channel_errors_name_the_setting_but_not_its_value() -> None:
    with pytest.raises(ValueError) as unknown:
        build_channel("wecom", webhook_url="https://x/y?key=secret-k", colour="red")
    assert "colour" in str(unknown.value) and "secret-k" not in str(unknown.value)
    with pytest.raises(ValueError) as bad:
        build_channel("smtp", host="h", port="secret-port")
    assert "port" in str(bad.value) and "secret-port" not in str(bad.value)


def test_no_channel_repr_shows_a_password_secret_or_robot_token(tmp_path: Path) -> None:
    shown = " ".join(repr(channel) for channel in every_channel(tmp_path))
    for secret in SECRETS:
        assert secret not in shown
    assert "oapi.dingtalk.com" in shown and "qyapi.weixin.qq.com" in shown  # still useful

"""Notification channels: one module per channel, one small interface (`Channel.send`).

Nothing connects at import or construction; each `send` opens what it needs.
"""

from plan_tracker.channels.base import Attachment, Channel, DeliveryError, Message, Receipt
from plan_tracker.channels.dingtalk import DingTalkChannel
from plan_tracker.channels.file_outbox import FileOutboxChannel
from plan_tracker.channels.registry import KINDS, build_channel
from plan_tracker.channels.smtp import SmtpChannel
from plan_tracker.channels.splitting import split_text
from plan_tracker.channels.webhook import WebhookChannel
from plan_tracker.channels.wecom import WeComChannel

__all__ = [
    "KINDS",
    "Attachment",
    "Channel",
    "DeliveryError",
    "DingTalkChannel",
    "FileOutboxChannel",
    "Message",
    "Receipt",
    "SmtpChannel",
    "WeComChannel",
    "WebhookChannel",
    "build_channel",
    "split_text",
]

"""Where the bot posts an outcome: the Slack channel, thread and message behind the service's reply-to.

The service stores a reply-to text (on a dataset, a launch group, a sweep, and in ``dataset.checked``
events) and never reads it; this module is the only one that writes or reads its format: compact
JSON, ``{"channel":"C1","thread_ts":"1.2","message_ts":"1.3"}``, absent parts left out. Migration
0008 builds the same text from the columns it replaced. A text this module cannot read (not written by
this bot, or by a newer one) reads as None, logged: the bot then posts nothing for that record rather
than crash. Pure. (Written "reply-to" in prose: no text in bot/ names an API field.)
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, replace

log = logging.getLogger(__name__)

# A Slack id (C…, D…, G…, U…) or message timestamp, as the service's columns held them (migration 0008).
_PART = re.compile(r"^[A-Za-z0-9._-]{1,32}$")
_KEYS = ("channel", "thread_ts", "message_ts")


@dataclass(frozen=True, slots=True)
class ReplyTo:
    """A Slack conversation (``channel``), the thread in it (``thread_ts``, None: the channel itself)
    and the message the bot keeps up to date there (``message_ts``, None until it is posted)."""

    channel: str
    thread_ts: str | None = None
    message_ts: str | None = None

    def encode(self) -> str:
        parts = {key: getattr(self, key) for key in _KEYS if getattr(self, key)}
        return json.dumps(parts, separators=(",", ":"))

    def with_message(self, message_ts: str) -> ReplyTo:
        return replace(self, message_ts=message_ts)


def encode(channel: str | None, thread_ts: str | None = None, message_ts: str | None = None) -> str | None:
    """The reply-to text to send for a Slack place; None without a channel (nowhere to post)."""
    if not channel:
        return None
    return ReplyTo(channel, thread_ts or None, message_ts or None).encode()


def decode(text: str | None, *, subject: str = "") -> ReplyTo | None:
    """The place ``text`` names; None when it names none, or cannot be read (logged, with ``subject``
    naming the record, so the row is skipped, not the bot stopped)."""
    if not text:
        return None
    try:
        parts = json.loads(text)
    except ValueError:
        parts = None
    if (
        isinstance(parts, dict)
        and set(parts) <= set(_KEYS)
        and all(isinstance(value, str) and _PART.match(value) for value in parts.values())
        and "channel" in parts
    ):
        return ReplyTo(parts["channel"], parts.get("thread_ts"), parts.get("message_ts"))
    # Its length only: the text is the service's stored data, and says nothing a log reader needs.
    log.warning("unreadable reply-to skipped", extra={"subject": subject, "length": len(text)})
    return None

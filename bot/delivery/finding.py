"""Finding what an earlier attempt already posted: every post carries its event's id (a card, its launch's
or sweep's id) in Slack message metadata, and a retried event is looked for in its thread, or the
channel, before it is posted again (https://docs.slack.dev/messaging/message-metadata).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from slack_sdk import WebClient

# Message metadata: {event_type, event_payload}.
EVENT_METADATA = "tunebot_event"  # a post that delivers event ``event_payload.event_id``
CARD_METADATA = "tunebot_launch_card"  # the card of launch ``event_payload.group_id`` (or sweep_id)
LOOKUP_PAGES = 10  # conversations.replies/history pages of 200 searched for an earlier post


def find_message(
    slack: WebClient, channel: str, thread: str | None, kind: str, key: str, value: Any
) -> str | None:
    """The ts of the message in ``thread`` (or the channel) whose metadata is ``kind`` with ``key`` =
    ``value``; None when there is none."""
    for message in _messages(slack, channel, thread):
        metadata = message.get("metadata") or {}
        if metadata.get("event_type") == kind and (metadata.get("event_payload") or {}).get(key) == value:
            return str(message["ts"])
    return None


def _messages(slack: WebClient, channel: str, thread: str | None) -> Iterator[Mapping[str, Any]]:
    cursor: str | None = None
    for _ in range(LOOKUP_PAGES):
        kwargs: dict[str, Any] = {"channel": channel, "include_all_metadata": True, "limit": 200}
        if cursor:
            kwargs["cursor"] = cursor
        if thread:
            answer = slack.conversations_replies(ts=thread, **kwargs)
        else:
            answer = slack.conversations_history(**kwargs)
        yield from answer.get("messages") or []
        cursor = (answer.get("response_metadata") or {}).get("next_cursor")
        if not answer.get("has_more") or not cursor:
            return

"""Putting things into Slack on its pacing, each once: an event's post (skipped when an earlier attempt
made it), a card (found again after a crash) updated in place only when what it shows changed, and the
PNG charts uploaded into a thread.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from slack_sdk import WebClient

from bot.delivery.finding import CARD_METADATA, EVENT_METADATA, find_message
from bot.delivery.pacing import Pacer
from services.api.schemas import EventOut

log = logging.getLogger(__name__)


def card_content(text: str, card: list[Any]) -> str:
    """What a card shows, comparable: an update is sent only when this changes."""
    return json.dumps([text, card], sort_keys=True)


class Poster:
    """Slack's calls for delivery: posts paced per channel, updates on their own budget."""

    def __init__(self, slack: WebClient, pacer: Pacer, updates: Pacer) -> None:
        self.slack = slack
        self.pacer = pacer
        self.updates = updates
        self._shown: dict[tuple[str, str], str] = {}  # (channel, ts) -> the card content last shown

    def post_once(self, event: EventOut, **message: Any) -> bool:
        """Post ``message`` for ``event`` unless an earlier attempt did; True when posted now."""
        channel, thread = str(message["channel"]), message.get("thread_ts")
        if event.attempts > 1 and find_message(
            self.slack, channel, thread, EVENT_METADATA, "event_id", event.id
        ):
            log.info("event already in Slack", extra={"event_id": event.id})
            return False
        metadata = {"event_type": EVENT_METADATA, "event_payload": {"event_id": event.id}}
        self.pacer.wait(channel)
        self.slack.chat_postMessage(**message, metadata=metadata)
        return True

    def post_card(
        self,
        first: EventOut,
        owner: tuple[str, str],
        *,
        channel: str,
        thread: str | None,
        text: str,
        card: list[Any],
        content: str,
    ) -> str:
        """The ts of the card of ``owner`` (key, id), posted now unless an earlier attempt of ``first``
        posted it before dying; ``content`` is what it shows, for ``update_card``."""
        key, value = owner
        if first.attempts > 1:
            ts = find_message(self.slack, channel, thread, CARD_METADATA, key, value)
            if ts is not None:
                return ts
        metadata = {"event_type": CARD_METADATA, "event_payload": {key: value}}
        self.pacer.wait(channel)
        posted = self.slack.chat_postMessage(
            channel=channel, thread_ts=thread, text=text, blocks=card, metadata=metadata
        )
        ts = str(posted["ts"])
        self._shown[(channel, ts)] = content
        return ts

    def update_card(self, channel: str, ts: str, *, text: str, card: list[Any], content: str) -> None:
        """Show ``card`` in place, unless the message already shows ``content``."""
        if self._shown.get((channel, ts)) == content:
            return
        self.updates.wait("chat.update")
        self.slack.chat_update(channel=channel, ts=ts, text=text, blocks=card)
        self._shown[(channel, ts)] = content

    def chart(
        self, channel: str, thread: str, png: bytes | None, payload: Mapping[str, Any], what: str
    ) -> None:
        """Upload ``png`` (when there is one) named after the launch or dataset in ``payload``."""
        if png is None:
            return
        name = str(payload.get("name") or payload.get("group_id"))
        self.upload_png(channel, thread, png, f"{name}-{what.replace(' ', '-')}.png", f"{name}: {what}")

    def upload_png(self, channel: str, thread: str, png: bytes, filename: str, title: str) -> None:
        """Into the thread, not inside blocks: Slack often refuses uploaded images in Block Kit."""
        self.pacer.wait(channel)
        self.slack.files_upload_v2(
            channel=channel, thread_ts=thread, content=png, filename=filename, title=title
        )

"""A sweep in Slack: its parent message, updated in place as its jobs move and when it ends, and its
verdict and learning-curve chart in its thread, once, at its end.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot import blocks
from bot.delivery.posting import Poster, card_content
from services.api.schemas import EventOut
from services.client import ServiceClient


class SweepDelivery:
    def __init__(self, service: ServiceClient, poster: Poster) -> None:
        self.service = service
        self.poster = poster

    def deliver(self, event: EventOut) -> None:
        """A sweep's card, updated in place; its verdict and chart in its thread, once, at its end."""
        payload = event.payload
        sweep = self.service.get_sweep(str(payload["sweep_id"]))
        channel = sweep.get("slack_channel")
        if not channel:
            return  # started outside Slack (CLI, API)
        parent = self._parent(sweep, event)
        text = blocks.event_text(event)
        if event.type == "sweep.finished":
            verdict = blocks.verdict_blocks(sweep)
            if self.poster.post_once(event, channel=channel, thread_ts=parent, text=text, blocks=verdict):
                chart = self.service.sweep_chart(sweep["id"]) if sweep.get("verdict") else None
                self.poster.chart(channel, parent, chart, {"name": sweep["dataset_name"]}, "learning curve")
        elif event.type == "sweep.cancelled":
            self.poster.post_once(event, channel=channel, thread_ts=parent, text=text)
        if event.type != "sweep.created":
            self._update_card(self.service.get_sweep(sweep["id"]), parent)

    def show_progress(self, sweep_id: str) -> None:
        """One of the sweep's jobs moved: its parent message shows each size's job at its stage now (an
        update only when that changed). Before the parent is posted there is nothing to update: it is
        posted showing the stages as they are then."""
        sweep = self.service.get_sweep(sweep_id)
        if sweep.get("slack_channel") and sweep.get("slack_message_ts"):
            self._update_card(sweep, str(sweep["slack_message_ts"]))

    def _parent(self, sweep: Mapping[str, Any], first: EventOut) -> str:
        """The sweep's parent message: posted on its first event (once, even across a crash), then kept."""
        if sweep.get("slack_message_ts"):
            return str(sweep["slack_message_ts"])
        channel = str(sweep["slack_channel"])
        card, text = blocks.sweep_parent_blocks(sweep), blocks.sweep_text(sweep)
        ts = self.poster.post_card(
            first,
            ("sweep_id", sweep["id"]),
            channel=channel,
            thread=None,
            text=text,
            card=card,
            content=card_content(text, card),
        )
        self.service.set_sweep_message(sweep["id"], slack_channel=channel, slack_message_ts=ts)
        return ts

    def _update_card(self, sweep: Mapping[str, Any], ts: str) -> None:
        card, text = blocks.sweep_parent_blocks(sweep), blocks.sweep_text(sweep)
        self.poster.update_card(
            str(sweep["slack_channel"]), ts, text=text, card=card, content=card_content(text, card)
        )

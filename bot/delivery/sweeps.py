"""A sweep in Slack: its parent message, updated in place as its jobs move and when it ends, and its
verdict and learning-curve chart in its thread, once, at its end.
"""

from __future__ import annotations

from bot import blocks
from bot.delivery.posting import Poster, card_content
from bot.reply_to import ReplyTo, decode
from services.api.schemas import EventOut, SweepOut
from services.client import ServiceClient


class SweepDelivery:
    def __init__(self, service: ServiceClient, poster: Poster) -> None:
        self.service = service
        self.poster = poster

    def deliver(self, event: EventOut) -> None:
        """A sweep's card, updated in place; its verdict and chart in its thread, once, at its end."""
        payload = event.payload
        sweep = self.service.get_sweep(str(payload["sweep_id"]))
        where = decode(sweep.reply_to, subject=f"sweep {sweep.id}")
        if where is None:
            return  # started outside Slack (CLI, API), or unreadable (logged)
        channel = where.channel
        parent = self._parent(sweep, where, event)
        text = blocks.event_text(event)
        if event.type == "sweep.finished":
            verdict = blocks.verdict_blocks(sweep)
            if self.poster.post_once(event, channel=channel, thread_ts=parent, text=text, blocks=verdict):
                chart = self.service.sweep_chart(sweep.id) if sweep.verdict else None
                self.poster.chart(channel, parent, chart, {"name": sweep.dataset_name}, "learning curve")
        elif event.type == "sweep.cancelled":
            self.poster.post_once(event, channel=channel, thread_ts=parent, text=text)
        if event.type != "sweep.created":
            self._update_card(self.service.get_sweep(sweep.id), channel, parent)

    def show_progress(self, sweep_id: str) -> None:
        """One of the sweep's jobs moved: its parent message shows each size's job at its stage now (an
        update only when that changed). Before the parent is posted there is nothing to update: it is
        posted showing the stages as they are then."""
        sweep = self.service.get_sweep(sweep_id)
        where = decode(sweep.reply_to, subject=f"sweep {sweep.id}")
        if where is not None and where.message_ts:
            self._update_card(sweep, where.channel, where.message_ts)

    def _parent(self, sweep: SweepOut, where: ReplyTo, first: EventOut) -> str:
        """The sweep's parent message: posted on its first event (once, even across a crash), then kept."""
        if where.message_ts:
            return where.message_ts
        card, text = blocks.sweep_parent_blocks(sweep), blocks.sweep_text(sweep)
        ts = self.poster.post_card(
            first,
            ("sweep_id", sweep.id),
            channel=where.channel,
            thread=None,
            text=text,
            card=card,
            content=card_content(text, card),
        )
        self.service.set_sweep_message(sweep.id, where.with_message(ts).encode())
        return ts

    def _update_card(self, sweep: SweepOut, channel: str, ts: str) -> None:
        card, text = blocks.sweep_parent_blocks(sweep), blocks.sweep_text(sweep)
        self.poster.update_card(channel, ts, text=text, card=card, content=card_content(text, card))

"""A launch in Slack: its card, posted on its first event and updated in place once per batch when what
it shows changed, and its story (with charts and galleries) in the card's thread, in event order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

from slack_sdk.errors import SlackApiError

from bot import blocks
from bot.delivery.posting import Poster, card_content
from bot.delivery.refusals import attempt, postpone
from bot.delivery.sweeps import SweepDelivery
from bot.reply_to import ReplyTo, decode
from services.api.schemas import EventOut, GroupOut, JobStatus
from services.client import ServiceClient, ServiceError

log = logging.getLogger(__name__)


def by_launch(events: Sequence[EventOut]) -> Iterator[list[EventOut]]:
    """The batch split by launch, each launch's events in event order, launches by their first event."""
    launches: dict[str, list[EventOut]] = {}
    for event in events:
        group_id = event.payload.get("group_id")
        key = f"group:{group_id}" if group_id and event.type != "dataset.checked" else f"event:{event.id}"
        launches.setdefault(key, []).append(event)
    yield from launches.values()


class LaunchDelivery:
    def __init__(
        self, service: ServiceClient, poster: Poster, sweeps: SweepDelivery, homes_to_refresh: set[str]
    ) -> None:
        self.service = service
        self.poster = poster
        self.sweeps = sweeps
        self.homes_to_refresh = homes_to_refresh  # whose App Home shows a job that moved this pass

    def deliver(self, events: Sequence[EventOut], delivered: list[EventOut]) -> None:
        """Deliver one launch's events in order, appending to ``delivered`` those Slack now has (or
        refused for good), up to the first one Slack refused for now."""
        group_id = str(events[0].payload["group_id"])
        group = self.service.get_group(group_id)
        if group.sweep_id:
            # One size of a sweep: its jobs' stages show in the sweep's parent message, not a card of its own.
            shown = attempt(events[-1], partial(self.sweeps.show_progress, group.sweep_id))
            delivered.extend(events if shown else events[:-1])
            return
        where = decode(group.reply_to, subject=f"launch group {group.id}")
        if where is None:
            delivered.extend(events)  # launched outside Slack (CLI, API), or unreadable: nobody to tell
            return
        self.homes_to_refresh.add(group.requested_by)
        try:
            parent = self._parent(group, where, events[0])
        except SlackApiError as error:
            if not postpone(events[0], error):
                delivered.extend(events)  # the card is refused for good: its thread goes with it
            return
        # A launch from a report has its card in the report's thread, and its story next to it there.
        thread = where.thread_ts or parent
        for event in events:
            if not attempt(event, partial(self._thread_post, event, group, where.channel, thread)):
                break  # the rest of the launch waits too, so the thread keeps event order
            delivered.append(event)
        if delivered:
            last = delivered.pop()  # acknowledged once the card shows it: a failed update retries it
            try:
                self._update_card(self.service.get_group(group_id), where.channel, parent)
            except SlackApiError as error:
                if postpone(last, error):
                    return  # its retry finds its post already there and updates the card
            delivered.append(last)

    # --- the card ---------------------------------------------------------------------------------------

    def _parent(self, group: GroupOut, where: ReplyTo, first: EventOut) -> str:
        """The launch's card: posted on its first event (once, even across a crash), then kept."""
        if where.message_ts:
            return where.message_ts
        ts = self.poster.post_card(
            first,
            ("group_id", group.id),
            channel=where.channel,
            thread=where.thread_ts,  # a launch from a report: its card goes in the report's thread
            text=blocks.group_text(group),
            card=blocks.group_card(group, datetime.now(UTC)),
            content=card_content(blocks.group_text(group), blocks.group_card(group)),
        )
        # The API records a group's message through any of its jobs.
        self.service.set_job_message(group.jobs[0].id, where.with_message(ts).encode())
        return ts

    def _update_card(self, group: GroupOut, channel: str, ts: str) -> None:
        """Show the launch as it is now, unless the card already shows exactly that."""
        # Compared without the running clock: an update only when the launch changed, showing the clock then.
        self.poster.update_card(
            channel,
            ts,
            text=blocks.group_text(group),
            card=blocks.group_card(group, datetime.now(UTC)),
            content=card_content(blocks.group_text(group), blocks.group_card(group)),
        )

    # --- the thread -------------------------------------------------------------------------------------

    def _thread_post(self, event: EventOut, group: GroupOut, channel: str, parent: str) -> None:
        payload = event.payload
        text = blocks.event_text(event, requested_by=group.requested_by)
        new = self.poster.post_once(
            event, channel=channel, thread_ts=parent, text=text, **self._extra(event, group)
        )
        chart = partial(self.poster.chart, channel, parent)
        if event.type == "group.compared" and group.comparison:
            if new:
                group_id = str(payload["group_id"])
                chart(self.service.group_comparison_chart(group_id), payload, "comparison")
                chart(self.service.group_loss_curves(group_id), payload, "loss curves")
                chart(self._gallery(self.service.group_gallery, group_id), payload, "examples")
        elif event.type == "job.completed" and new:
            chart(self.service.job_loss_curve(payload["job_id"]), payload, "loss curve")
        elif event.type == "evaluation.completed" and new and _single_and_scored(group, payload):
            chart(self._gallery(self.service.job_gallery, str(payload["job_id"])), payload, "examples")

    @staticmethod
    def _extra(event: EventOut, group: GroupOut) -> dict[str, Any]:
        if event.type == "group.compared" and group.comparison:
            return {"blocks": blocks.comparison_blocks(group.comparison)}
        return {}

    def _gallery(self, fetch: Callable[[str, str], bytes | None], owner_id: str) -> bytes | None:
        """The example gallery in one image; a thread without it beats an event stuck on it."""
        try:
            return fetch(owner_id, "all")
        except ServiceError as error:
            log.warning("gallery unavailable", extra={"owner": owner_id, "code": error.code})
            return None


def _single_and_scored(group: GroupOut, payload: Mapping[str, Any]) -> bool:
    """One job, just finished by its evaluation (a pair's gallery comes with its comparison)."""
    return payload.get("status") == JobStatus.DONE and len(group.jobs) == 1

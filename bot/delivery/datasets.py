"""A dataset check in Slack: its report, with its launch buttons, in the thread of the shared file."""

from __future__ import annotations

from bot import blocks
from bot.delivery.posting import Poster
from services.api.schemas import EventOut
from services.client import ServiceClient


def deliver_report(service: ServiceClient, poster: Poster, event: EventOut) -> None:
    """The check's report in the thread of the shared file, with its launch buttons."""
    payload = event.payload
    channel, thread = payload.get("slack_channel"), payload.get("slack_thread_ts")
    if event.type != "dataset.checked" or not channel:
        return  # nothing to tell, or registered outside Slack
    dataset = service.get_dataset(payload["dataset_id"])
    report = blocks.dataset_report_blocks(dataset, blocks.dataset_costs(dataset))
    text = blocks.event_text(event)
    poster.post_once(event, channel=channel, thread_ts=thread, text=text, blocks=report)

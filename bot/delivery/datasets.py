"""A dataset check in Slack: its report, with its launch buttons, in the thread of the shared file."""

from __future__ import annotations

from bot import blocks
from bot.delivery.posting import Poster
from bot.reply_to import decode
from services.api.schemas import EventOut
from services.client import ServiceClient


def deliver_report(service: ServiceClient, poster: Poster, event: EventOut) -> None:
    """The check's report in the thread of the shared file, with its launch buttons."""
    payload = event.payload
    if event.type != "dataset.checked":
        return  # nothing to tell
    where = decode(payload.get("reply_to"), subject=f"dataset {payload.get('dataset_id')}")
    if where is None:
        return  # registered outside Slack, or unreadable (logged)
    dataset = service.get_dataset(payload["dataset_id"])
    report = blocks.dataset_report_blocks(dataset, blocks.dataset_costs(dataset))
    text = blocks.event_text(event)
    poster.post_once(event, channel=where.channel, thread_ts=where.thread_ts, text=text, blocks=report)

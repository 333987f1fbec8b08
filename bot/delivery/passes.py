"""A delivery pass: claim a batch of the service's events, deliver it launch by launch (a sweep's or a
dataset check's events one by one), acknowledge what Slack accepted, then refresh the App Home of each
person whose jobs moved.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from slack_sdk import WebClient

from bot import home
from bot.delivery.datasets import deliver_report
from bot.delivery.launches import LaunchDelivery, by_launch
from bot.delivery.pacing import Pacer, update_pacer
from bot.delivery.posting import Poster
from bot.delivery.refusals import SlackDown, attempt
from bot.delivery.sweeps import SweepDelivery
from services.api.schemas import EventOut
from services.client import ServiceClient


class Delivery:
    def __init__(
        self,
        service: ServiceClient,
        slack: WebClient,
        consumer: str,
        *,
        lease_seconds: float = 60.0,
        batch: int = 20,
        pacer: Pacer | None = None,
        updates: Pacer | None = None,
    ) -> None:
        self.service = service
        self.slack = slack
        self.consumer = consumer
        self.lease_seconds = lease_seconds
        self.batch = batch
        self.homes_to_refresh: set[str] = set()  # whose App Home shows a job that moved this pass
        self.poster = Poster(slack, pacer or Pacer(), updates or update_pacer())
        self.sweeps = SweepDelivery(service, self.poster)
        self.launches = LaunchDelivery(service, self.poster, self.sweeps, self.homes_to_refresh)

    def run_once(self) -> int:
        """Claim a batch, deliver it launch by launch, acknowledge what Slack accepted. Returns how many
        were acknowledged."""
        events = self.service.claim_events(self.consumer, self.batch, self.lease_seconds)
        delivered = 0
        for launch_events in by_launch(events):
            try:
                done = self._deliver_launch(launch_events)
            except SlackDown as down:
                for event in down.delivered:
                    self.service.ack_event(event.id, self.consumer)
                raise
            for event in done:
                self.service.ack_event(event.id, self.consumer)
                delivered += 1
        # Once per pass and person, however many of their jobs moved: views.publish is Tier 4.
        while self.homes_to_refresh:
            home.publish_home(self.service, self.slack, self.homes_to_refresh.pop())
        return delivered

    def deliver(self, event: EventOut) -> None:
        """Deliver one event (without acknowledging it)."""
        self._deliver_launch([event])

    def upload_png(self, channel: str, thread: str, png: bytes, filename: str, title: str) -> None:
        """Into the thread, not inside blocks: Slack often refuses uploaded images in Block Kit."""
        self.poster.upload_png(channel, thread, png, filename, title)

    def _deliver_launch(self, events: Sequence[EventOut]) -> list[EventOut]:
        """Deliver the events of one launch, in order; returns those Slack now has (or refused for good):
        the events up to the first one Slack refused for now. Raises ``SlackDown``."""
        delivered: list[EventOut] = []
        try:
            self._deliver_into(events, delivered)
        except SlackDown as down:
            down.delivered = delivered
            raise
        except OSError as error:  # refused, reset or timed out: Slack is unreachable
            raise SlackDown(type(error).__name__, delivered) from None
        return delivered

    def _deliver_into(self, events: Sequence[EventOut], delivered: list[EventOut]) -> None:
        if events[0].type.startswith("sweep."):
            for event in events:
                if attempt(event, partial(self.sweeps.deliver, event)):
                    delivered.append(event)
            return
        if events[0].type == "dataset.checked" or not events[0].payload.get("group_id"):
            for event in events:
                if attempt(event, partial(deliver_report, self.service, self.poster, event)):
                    delivered.append(event)
            return
        self.launches.deliver(events, delivered)

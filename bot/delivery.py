"""Delivery of the service's events to Slack: one parent message per launch, updated in place, and the
story of each job in its thread.

At least once: an event is claimed with a lease, posted, and acknowledged only after Slack accepted
the post. A crash in between lets the lease expire and the event is posted again (a repeat, never a
loss). 429s are retried after Retry-After by the WebClient's retry handler; posts to one channel are
paced so a burst of events does not run into the limit.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import blocks
from services.client import ServiceClient, ServiceError

log = logging.getLogger(__name__)

# Slack errors no retry will cure: post nothing and acknowledge, or the event blocks the queue forever.
PERMANENT = {"channel_not_found", "not_in_channel", "is_archived", "invalid_blocks", "msg_too_long"}
MAX_ATTEMPTS = 10


class Pacer:
    """At most one post per ``interval`` seconds per channel (Slack allows about one a second)."""

    def __init__(
        self,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = interval
        self._clock = clock
        self._sleep = sleep
        self._last: dict[str, float] = {}

    def wait(self, channel: str) -> None:
        last = self._last.get(channel)
        if last is not None:
            delay = last + self.interval - self._clock()
            if delay > 0:
                self._sleep(delay)
        self._last[channel] = self._clock()


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
    ) -> None:
        self.service = service
        self.slack = slack
        self.consumer = consumer
        self.lease_seconds = lease_seconds
        self.batch = batch
        self.pacer = pacer or Pacer()

    def run_once(self) -> int:
        """Claim a batch, deliver each event, acknowledge what Slack accepted. Returns how many were acked."""
        events = self.service.claim_events(self.consumer, self.batch, self.lease_seconds)
        delivered = 0
        for event in events:
            try:
                self.deliver(event)
            except SlackApiError as error:
                code = str(error.response.get("error"))
                if code not in PERMANENT and event.get("attempts", 1) < MAX_ATTEMPTS:
                    log.warning("delivery postponed", extra={"event_id": event["id"], "error": code})
                    continue  # the lease expires and the event comes back
                log.error("event dropped: Slack refused it", extra={"event_id": event["id"], "error": code})
            self.service.ack_event(event["id"], self.consumer)
            delivered += 1
        return delivered

    def deliver(self, event: Mapping[str, Any]) -> None:
        payload = event.get("payload") or {}
        if event["type"] == "dataset.checked":
            self._dataset_report(payload)
            return
        group_id = payload.get("group_id")
        if not group_id:
            return
        group = self.service.get_group(group_id)
        channel = group.get("slack_channel")
        if not channel:
            return  # launched outside Slack (CLI, API): nobody to tell
        parent = self._parent(group)
        text = self._text(event, group)
        if event["type"] == "group.compared" and group.get("comparison"):
            comparison = blocks.comparison_blocks(group["comparison"])
            self._post(channel=channel, thread_ts=parent, text=text, blocks=comparison)
            self._png(channel, parent, self.service.group_comparison_chart(group_id), payload, "comparison")
            self._png(channel, parent, self.service.group_loss_curves(group_id), payload, "loss curves")
            return
        self._post(channel=channel, thread_ts=parent, text=text)
        if event["type"] == "job.completed":
            self._png(channel, parent, self.service.job_loss_curve(payload["job_id"]), payload, "loss curve")

    def _dataset_report(self, payload: Mapping[str, Any]) -> None:
        """The check's report in the thread of the shared file, with its launch buttons."""
        channel, thread = payload.get("slack_channel"), payload.get("slack_thread_ts")
        if not channel:
            return  # registered outside Slack
        dataset = self.service.get_dataset(payload["dataset_id"])
        report = blocks.dataset_report_blocks(dataset, blocks.dataset_costs(dataset))
        self._post(
            channel=channel,
            thread_ts=thread,
            text=blocks.event_text(
                {"type": "dataset.checked", "subject_id": dataset["id"], "payload": payload}
            ),
            blocks=report,
        )

    def _text(self, event: Mapping[str, Any], group: Mapping[str, Any]) -> str:
        payload = dict(event.get("payload") or {})
        payload.setdefault("requested_by", group.get("requested_by"))
        return blocks.event_text({**event, "payload": payload})

    def _parent(self, group: Mapping[str, Any]) -> str:
        """The launch's parent message: posted on its first event, updated in place on every later one."""
        channel = group["slack_channel"]
        card = blocks.group_card(group)
        if group.get("slack_message_ts"):
            self.pacer.wait(channel)
            self.slack.chat_update(
                channel=channel, ts=group["slack_message_ts"], text=blocks.group_text(group), blocks=card
            )
            return str(group["slack_message_ts"])
        response = self._post(channel=channel, text=blocks.group_text(group), blocks=card)
        ts = str(response["ts"])
        # The API records a group's message through any of its jobs.
        self.service.set_job_message(group["jobs"][0]["id"], slack_channel=channel, slack_message_ts=ts)
        return ts

    def _post(self, **message: Any) -> Any:
        self.pacer.wait(message["channel"])
        return self.slack.chat_postMessage(**message)

    def _png(
        self, channel: str, thread: str, png: bytes | None, payload: Mapping[str, Any], what: str
    ) -> None:
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


class DeliveryLoop:
    """The background thread of ``Delivery``: runs until stopped, backs off when the service is down."""

    def __init__(self, delivery: Delivery, idle_seconds: float = 2.0) -> None:
        self.delivery = delivery
        self.idle_seconds = idle_seconds
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="slack-delivery", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        delay = self.idle_seconds
        while not self._stopping.is_set():
            try:
                delivered = self.delivery.run_once()
                delay = self.idle_seconds
            except ServiceError as error:
                log.warning("events unavailable", extra={"code": error.code, "retry_seconds": delay})
                delivered = 0
                delay = min(delay * 2, 60.0)
            except Exception:
                log.exception("delivery pass failed")
                delivered = 0
            if not delivered:
                self._stopping.wait(delay)

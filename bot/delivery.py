"""Delivery of the service's events to Slack: one card per launch, updated in place, and the story of each
job in the card's thread.

- In step: a claimed batch is delivered launch by launch; a launch's thread gets its events in event
  order, then its card is updated once, and only when its content changed. An event Slack refuses for now
  holds back the later events of its launch, so the thread never skips ahead.
- Exactly once: an event is acknowledged only after Slack accepted its post, and every post carries the
  event's id in Slack message metadata. An event claimed again (its first consumer crashed between the
  post and the acknowledgement) is looked for in the thread (``conversations.replies`` with
  ``include_all_metadata``) before it is posted: a crash neither loses nor repeats a post. A launch's
  card carries its group id the same way. (Charts are file uploads after their post, which carry no
  metadata: a crash between a post and its chart's upload leaves the thread without that chart.)
- Slack's limits: posts to one channel are paced to about one a second (Slack's per-channel limit),
  ``chat.update`` to Tier 3 (50 a minute) on its own budget; a 429 is retried after its Retry-After by the
  WebClient's retry handler (bot.app.web_client).
- Slack down (unreachable, 5xx, rate-limited past the retries): the pass stops, nothing is dropped or
  counted against an event, and the loop tries again with backoff (up to a minute); when Slack answers
  again the backlog goes out once, in order.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import blocks, home
from services.api.schemas import EventOut, GroupOut, JobStatus
from services.client import ServiceClient, ServiceError

log = logging.getLogger(__name__)

# Slack errors no retry will cure: post nothing and acknowledge, or the event blocks the queue forever.
PERMANENT = {"channel_not_found", "not_in_channel", "is_archived", "invalid_blocks", "msg_too_long"}
MAX_ATTEMPTS = 10  # for other errors of one event; Slack's own failures never count against an event
# Slack's answers when the failure is its own (https://docs.slack.dev/reference/methods/chat.postMessage):
TRANSIENT = {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
# Message metadata (https://docs.slack.dev/messaging/message-metadata): {event_type, event_payload}.
EVENT_METADATA = "tunebot_event"  # a post that delivers event ``event_payload.event_id``
CARD_METADATA = "tunebot_launch_card"  # the card of launch ``event_payload.group_id``
Event = EventOut
LOOKUP_PAGES = 10  # conversations.replies/history pages of 200 searched for an earlier post


class Pacer:
    """At most ``burst`` calls at once per key, then one per ``interval`` seconds (a token bucket)."""

    def __init__(
        self,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        burst: int = 1,
    ) -> None:
        self.interval = interval
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens: dict[str, tuple[float, float]] = {}  # key -> (tokens, when counted)

    def wait(self, key: str) -> None:
        if self.interval <= 0:
            return
        now = self._clock()
        tokens, stamp = self._tokens.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - stamp) / self.interval)
        if tokens < 1:
            self._sleep((1 - tokens) * self.interval)
            now, tokens = self._clock(), 1.0
        self._tokens[key] = (tokens - 1, now)


def update_pacer() -> Pacer:
    """chat.update is Tier 3: 50 a minute per workspace, short bursts allowed."""
    return Pacer(60 / 50, burst=10)


class SlackDown(Exception):
    """Slack cannot be reached, or answers with its own failure (5xx) or a rate limit the client's retries
    did not outlast: the pass stops and nothing is dropped; the loop tries again later."""

    def __init__(self, reason: str, delivered: list[Event] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delivered = delivered or []  # what the pass had delivered before Slack went away


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
        self.pacer = pacer or Pacer()
        self.homes_to_refresh: set[str] = set()  # whose App Home shows a job that moved this pass
        self.updates = updates or update_pacer()
        self._cards: dict[tuple[str, str], str] = {}  # (channel, ts) -> the card content last shown

    def run_once(self) -> int:
        """Claim a batch, deliver it launch by launch, acknowledge what Slack accepted. Returns how many
        were acknowledged."""
        events = self.service.claim_events(self.consumer, self.batch, self.lease_seconds)
        delivered = 0
        for launch_events in _by_launch(events):
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

    def deliver(self, event: Event) -> None:
        """Deliver one event (without acknowledging it)."""
        self._deliver_launch([event])

    # --- one launch's events ------------------------------------------------------------------------

    def _deliver_launch(self, events: Sequence[Event]) -> list[Event]:
        """Deliver the events of one launch, in order; returns those Slack now has (or refused for good):
        the events up to the first one Slack refused for now. Raises ``SlackDown``."""
        delivered: list[Event] = []
        try:
            self._deliver_into(events, delivered)
        except SlackDown as down:
            down.delivered = delivered
            raise
        except OSError as error:  # refused, reset or timed out: Slack is unreachable
            raise SlackDown(type(error).__name__, delivered) from None
        return delivered

    def _deliver_into(self, events: Sequence[Event], delivered: list[Event]) -> None:
        if events[0].type.startswith("sweep."):
            for event in events:
                if self._attempt(event, partial(self._sweep, event)):
                    delivered.append(event)
            return
        group_id = events[0].payload.get("group_id")
        if events[0].type == "dataset.checked" or not group_id:
            for event in events:
                if self._attempt(event, partial(self._dataset_report, event)):
                    delivered.append(event)
            return
        group = self.service.get_group(group_id)
        if not group.slack_channel:
            delivered.extend(events)  # launched outside Slack (CLI, API): nobody to tell
            return
        self.homes_to_refresh.add(group.requested_by)
        try:
            parent = self._parent(group, events[0])
        except SlackApiError as error:
            if not self._postpone(events[0], error):
                delivered.extend(events)  # the card is refused for good: its thread goes with it
            return
        # A launch from a report has its card in the report's thread, and its story next to it there.
        thread = group.slack_thread_ts or parent
        for event in events:
            if not self._attempt(event, partial(self._thread_post, event, group, thread)):
                break  # the rest of the launch waits too, so the thread keeps event order
            delivered.append(event)
        if delivered:
            last = delivered.pop()  # acknowledged once the card shows it: a failed update retries it
            try:
                self._update_card(self.service.get_group(group_id), parent)
            except SlackApiError as error:
                if self._postpone(last, error):
                    return  # its retry finds its post already there and updates the card
            delivered.append(last)

    def _attempt(self, event: Event, post: Callable[[], None]) -> bool:
        """False when Slack refused ``event`` for now (it waits for the next pass); True when it was
        posted, or refused for good (then it is dropped)."""
        try:
            post()
        except SlackApiError as error:
            return not self._postpone(event, error)
        return True

    def _postpone(self, event: Event, error: SlackApiError) -> bool:
        """True when ``event`` waits for the next pass; False when it is dropped (logged). Raises
        ``SlackDown`` when the failure is Slack's own, never counting it against the event."""
        code = str(error.response.get("error"))
        if error.response.status_code >= 500 or error.response.status_code == 429 or code in TRANSIENT:
            raise SlackDown(code)
        if code not in PERMANENT and event.attempts < MAX_ATTEMPTS:
            log.warning("delivery postponed", extra={"event_id": event.id, "error": code})
            return True
        log.error("event dropped: Slack refused it", extra={"event_id": event.id, "error": code})
        return False

    def _thread_post(self, event: Event, group: GroupOut, parent: str) -> None:
        payload = event.payload
        channel = str(group.slack_channel)
        text = self._text(event, group)
        new = self._post_once(
            event, channel=channel, thread_ts=parent, text=text, **self._extra(event, group)
        )
        if event.type == "group.compared" and group.comparison:
            if new:
                group_id = str(payload["group_id"])
                self._png(
                    channel, parent, self.service.group_comparison_chart(group_id), payload, "comparison"
                )
                self._png(channel, parent, self.service.group_loss_curves(group_id), payload, "loss curves")
                gallery = self._gallery(self.service.group_gallery, group_id)
                self._png(channel, parent, gallery, payload, "examples")
        elif event.type == "job.completed" and new:
            self._png(channel, parent, self.service.job_loss_curve(payload["job_id"]), payload, "loss curve")
        elif event.type == "evaluation.completed" and new and self._single_and_scored(group, payload):
            gallery = self._gallery(self.service.job_gallery, str(payload["job_id"]))
            self._png(channel, parent, gallery, payload, "examples")

    @staticmethod
    def _single_and_scored(group: GroupOut, payload: Mapping[str, Any]) -> bool:
        """One job, just finished by its evaluation (a pair's gallery comes with its comparison)."""
        return payload.get("status") == JobStatus.DONE and len(group.jobs) == 1

    def _gallery(self, fetch: Callable[[str, str], bytes | None], owner_id: str) -> bytes | None:
        """The example gallery in one image; a thread without it beats an event stuck on it."""
        try:
            return fetch(owner_id, "all")
        except ServiceError as error:
            log.warning("gallery unavailable", extra={"owner": owner_id, "code": error.code})
            return None

    # --- a sweep ----------------------------------------------------------------------------------------

    def _sweep(self, event: Event) -> None:
        """A sweep's card, updated in place; its verdict and chart in its thread, once, at its end."""
        payload = event.payload
        sweep = self.service.get_sweep(str(payload["sweep_id"]))
        channel = sweep.get("slack_channel")
        if not channel:
            return  # started outside Slack (CLI, API)
        parent = self._sweep_parent(sweep, event)
        text = blocks.event_text(event)
        if event.type == "sweep.finished":
            verdict = blocks.verdict_blocks(sweep)
            if self._post_once(event, channel=channel, thread_ts=parent, text=text, blocks=verdict):
                chart = self.service.sweep_chart(sweep["id"]) if sweep.get("verdict") else None
                self._png(channel, parent, chart, {"name": sweep["dataset_name"]}, "learning curve")
        elif event.type == "sweep.cancelled":
            self._post_once(event, channel=channel, thread_ts=parent, text=text)
        if event.type != "sweep.created":
            self._update_sweep_card(self.service.get_sweep(sweep["id"]), parent)

    def _sweep_parent(self, sweep: Mapping[str, Any], first: Event) -> str:
        if sweep.get("slack_message_ts"):
            return str(sweep["slack_message_ts"])
        channel = str(sweep["slack_channel"])
        card, text = blocks.sweep_parent_blocks(sweep), blocks.sweep_text(sweep)
        metadata = {"event_type": CARD_METADATA, "event_payload": {"sweep_id": sweep["id"]}}
        ts = None
        if first.attempts > 1:  # an earlier attempt may have posted it before dying
            ts = self._find(channel, None, CARD_METADATA, "sweep_id", sweep["id"])
        if ts is None:
            self.pacer.wait(channel)
            ts = str(
                self.slack.chat_postMessage(channel=channel, text=text, blocks=card, metadata=metadata)["ts"]
            )
            self._cards[(channel, ts)] = _content(text, card)
        self.service.set_sweep_message(sweep["id"], slack_channel=channel, slack_message_ts=ts)
        return ts

    def _update_sweep_card(self, sweep: Mapping[str, Any], ts: str) -> None:
        channel = str(sweep["slack_channel"])
        card, text = blocks.sweep_parent_blocks(sweep), blocks.sweep_text(sweep)
        if self._cards.get((channel, ts)) == _content(text, card):
            return
        self.updates.wait("chat.update")
        self.slack.chat_update(channel=channel, ts=ts, text=text, blocks=card)
        self._cards[(channel, ts)] = _content(text, card)

    @staticmethod
    def _extra(event: Event, group: GroupOut) -> dict[str, Any]:
        if event.type == "group.compared" and group.comparison:
            return {"blocks": blocks.comparison_blocks(group.comparison)}
        return {}

    def _dataset_report(self, event: Event) -> None:
        """The check's report in the thread of the shared file, with its launch buttons."""
        payload = event.payload
        channel, thread = payload.get("slack_channel"), payload.get("slack_thread_ts")
        if event.type != "dataset.checked" or not channel:
            return  # nothing to tell, or registered outside Slack
        dataset = self.service.get_dataset(payload["dataset_id"])
        report = blocks.dataset_report_blocks(dataset, blocks.dataset_costs(dataset))
        text = blocks.event_text(event)
        self._post_once(event, channel=channel, thread_ts=thread, text=text, blocks=report)

    def _text(self, event: Event, group: GroupOut) -> str:
        return blocks.event_text(event, requested_by=group.requested_by)

    # --- the card ---------------------------------------------------------------------------------------

    def _parent(self, group: GroupOut, first: Event) -> str:
        """The launch's card: posted on its first event (once, even across a crash), then kept."""
        if group.slack_message_ts:
            return group.slack_message_ts
        channel = str(group.slack_channel)
        card, text = blocks.group_card(group, datetime.now(UTC)), blocks.group_text(group)
        metadata = {"event_type": CARD_METADATA, "event_payload": {"group_id": group.id}}
        ts = None
        thread = group.slack_thread_ts  # a launch from a report: its card goes in the report's thread
        if first.attempts > 1:  # an earlier attempt may have posted it before dying
            ts = self._find(channel, thread, CARD_METADATA, "group_id", group.id)
        if ts is None:
            self.pacer.wait(channel)
            posted = self.slack.chat_postMessage(
                channel=channel, thread_ts=thread, text=text, blocks=card, metadata=metadata
            )
            ts = str(posted["ts"])
            self._cards[(channel, ts)] = _content(text, blocks.group_card(group))
        # The API records a group's message through any of its jobs.
        self.service.set_job_message(group.jobs[0].id, slack_channel=channel, slack_message_ts=ts)
        return ts

    def _update_card(self, group: GroupOut, ts: str) -> None:
        """Show the launch as it is now, unless the card already shows exactly that."""
        channel = str(group.slack_channel)
        # Compared without the running clock: an update only when the launch changed, showing the clock then.
        content = _content(blocks.group_text(group), blocks.group_card(group))
        if self._cards.get((channel, ts)) == content:
            return
        card, text = blocks.group_card(group, datetime.now(UTC)), blocks.group_text(group)
        self.updates.wait("chat.update")
        self.slack.chat_update(channel=channel, ts=ts, text=text, blocks=card)
        self._cards[(channel, ts)] = content

    # --- posting once ---------------------------------------------------------------------------------

    def _post_once(self, event: Event, **message: Any) -> bool:
        """Post ``message`` for ``event`` unless an earlier attempt did; True when posted now."""
        channel, thread = str(message["channel"]), message.get("thread_ts")
        if event.attempts > 1 and self._find(channel, thread, EVENT_METADATA, "event_id", event.id):
            log.info("event already in Slack", extra={"event_id": event.id})
            return False
        metadata = {"event_type": EVENT_METADATA, "event_payload": {"event_id": event.id}}
        self.pacer.wait(channel)
        self.slack.chat_postMessage(**message, metadata=metadata)
        return True

    def _find(self, channel: str, thread: str | None, kind: str, key: str, value: Any) -> str | None:
        """The ts of the message in ``thread`` (or the channel) whose metadata is ``kind`` with ``key`` =
        ``value``; None when there is none."""
        for message in self._messages(channel, thread):
            metadata = message.get("metadata") or {}
            if metadata.get("event_type") == kind and (metadata.get("event_payload") or {}).get(key) == value:
                return str(message["ts"])
        return None

    def _messages(self, channel: str, thread: str | None) -> Iterator[Mapping[str, Any]]:
        cursor: str | None = None
        for _ in range(LOOKUP_PAGES):
            kwargs: dict[str, Any] = {"channel": channel, "include_all_metadata": True, "limit": 200}
            if cursor:
                kwargs["cursor"] = cursor
            if thread:
                answer = self.slack.conversations_replies(ts=thread, **kwargs)
            else:
                answer = self.slack.conversations_history(**kwargs)
            yield from answer.get("messages") or []
            cursor = (answer.get("response_metadata") or {}).get("next_cursor")
            if not answer.get("has_more") or not cursor:
                return

    # --- charts -----------------------------------------------------------------------------------------

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


def _by_launch(events: Sequence[Event]) -> Iterator[list[Event]]:
    """The batch split by launch, each launch's events in event order, launches by their first event."""
    launches: dict[str, list[Event]] = {}
    for event in events:
        group_id = event.payload.get("group_id")
        key = f"group:{group_id}" if group_id and event.type != "dataset.checked" else f"event:{event.id}"
        launches.setdefault(key, []).append(event)
    yield from launches.values()


def _content(text: str, card: list[Any]) -> str:
    return json.dumps([text, card], sort_keys=True)


class DeliveryLoop:
    """The background thread of ``Delivery``: runs until stopped, backs off when the service is down."""

    def __init__(
        self, delivery: Delivery, idle_seconds: float = 2.0, max_backoff_seconds: float = 60.0
    ) -> None:
        self.delivery = delivery
        self.idle_seconds = idle_seconds
        self.max_backoff_seconds = max_backoff_seconds
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
                delay = min(delay * 2, self.max_backoff_seconds)
            except SlackDown as down:
                log.warning(
                    "slack unavailable; delivery resumes when it answers",
                    extra={"error": down.reason, "retry_seconds": delay},
                )
                delivered = 0
                delay = min(delay * 2, self.max_backoff_seconds)
            except Exception:
                log.exception("delivery pass failed")
                delivered = 0
            if not delivered:
                self._stopping.wait(delay)

"""Slack retries and replays start nothing twice.

Slack sends an event again when it thinks the first delivery was lost (``X-Slack-Retry-Num``), signed
anew; a signed request copied off the wire verifies again for five minutes. Bolt de-duplicates neither
(reference/slack.md). An event is known by its ``event_id``; any other delivery (a command, a click, a
form) by its exact bytes, which Slack makes unique per gesture (``trigger_id``, ``action_ts``). A Bolt
middleware, after Bolt has checked the signature, answers a delivery seen before with an empty 200 and
runs nothing; in HTTP and Socket Mode alike.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from typing import Any

from slack_bolt import BoltRequest, BoltResponse

from bot.flows import SeenIds

log = logging.getLogger(__name__)


def delivery_key(body: Mapping[str, Any], raw_body: str) -> str:
    """What makes one Slack delivery unique: the event's id, else the request's exact bytes."""
    if body.get("type") == "event_callback" and body.get("event_id"):
        return f"event:{body['event_id']}"
    return "body:" + hashlib.sha256(raw_body.encode()).hexdigest()


class ReplayGuard:
    def __init__(self, seen: SeenIds | None = None) -> None:
        self.seen = seen or SeenIds()

    def middleware(
        self, body: dict[str, Any], request: BoltRequest, next_: Callable[[], BoltResponse | None]
    ) -> BoltResponse | None:
        key = delivery_key(body, request.raw_body)
        if not self.seen.first_time(key):
            retry = next(iter(request.headers.get("x-slack-retry-num") or []), None)
            log.info(
                "slack delivery seen before: answered, not run again",
                extra={"kind": key.partition(":")[0], "retry": retry},
            )
            return BoltResponse(status=200, body="")
        return next_()

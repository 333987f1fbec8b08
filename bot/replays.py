"""Slack retries and replays start nothing twice.

Slack sends an event again when it thinks the first delivery was lost (``X-Slack-Retry-Num``), and a
signed request copied off the wire verifies for five minutes; Bolt de-duplicates neither
(reference/slack.md). Each delivery carries its own id: an event its ``event_id``, a command, click or
form submission its ``trigger_id`` (one per user gesture). A Bolt middleware, after Bolt has checked the
signature, answers a delivery seen before with an empty 200 and runs nothing; in HTTP and Socket Mode alike.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from slack_bolt import BoltRequest, BoltResponse

from bot.flows import SeenIds

log = logging.getLogger(__name__)


def delivery_key(body: Mapping[str, Any]) -> str | None:
    """What makes one Slack delivery unique, or None when it carries no id (nothing to run twice)."""
    if body.get("type") == "event_callback" and body.get("event_id"):
        return f"event:{body['event_id']}"
    if body.get("trigger_id"):
        return f"trigger:{body['trigger_id']}"
    return None


class ReplayGuard:
    def __init__(self, seen: SeenIds | None = None) -> None:
        self.seen = seen or SeenIds()

    def middleware(
        self, body: dict[str, Any], request: BoltRequest, next_: Callable[[], BoltResponse | None]
    ) -> BoltResponse | None:
        key = delivery_key(body)
        if key is not None and not self.seen.first_time(key):
            retry = next(iter(request.headers.get("x-slack-retry-num") or []), None)
            log.info(
                "slack delivery seen before: answered, not run again",
                extra={"kind": key.partition(":")[0], "retry": retry},
            )
            return BoltResponse(status=200, body="")
        return next_()

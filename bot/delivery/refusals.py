"""What a refusal from Slack means for an event: it waits for the next pass, it is dropped for good, or
Slack itself is down and the pass stops (``SlackDown``) without counting it against the event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_sdk.errors import SlackApiError

from services.api.schemas import EventOut

log = logging.getLogger(__name__)

# Slack errors no retry will cure: post nothing and acknowledge, or the event blocks the queue forever.
PERMANENT = {"channel_not_found", "not_in_channel", "is_archived", "invalid_blocks", "msg_too_long"}
MAX_ATTEMPTS = 10  # for other errors of one event; Slack's own failures never count against an event
# Slack's answers when the failure is its own (https://docs.slack.dev/reference/methods/chat.postMessage):
TRANSIENT = {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}


class SlackDown(Exception):
    """Slack cannot be reached, or answers with its own failure (5xx) or a rate limit the client's retries
    did not outlast: the pass stops and nothing is dropped; the loop tries again later."""

    def __init__(self, reason: str, delivered: list[EventOut] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delivered = delivered or []  # what the pass had delivered before Slack went away


def postpone(event: EventOut, error: SlackApiError) -> bool:
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


def attempt(event: EventOut, post: Callable[[], None]) -> bool:
    """False when Slack refused ``event`` for now (it waits for the next pass); True when it was
    posted, or refused for good (then it is dropped)."""
    try:
        post()
    except SlackApiError as error:
        return not postpone(event, error)
    return True

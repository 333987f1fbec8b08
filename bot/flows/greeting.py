"""Answers to a DM or an @mention that is not a command or a file: nobody who talks to the bot meets
silence. The reply says what the bot does and what to type."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError

from bot import blocks
from bot.flows.base import BaseFlows

log = logging.getLogger(__name__)


class GreetingFlows(BaseFlows):
    def greet(self, channel: str, thread_ts: str | None) -> None:
        """Post what tunebot does into ``channel`` (in the thread of the mention, when there is one)."""
        try:
            self.slack.chat_postMessage(channel=channel, thread_ts=thread_ts, text=blocks.greeting_text())
        except SlackApiError as error:  # e.g. not_in_channel: there is nobody to tell
            log.warning("greeting refused", extra={"error": error.response.get("error")})

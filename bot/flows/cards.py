"""A launch's card in the channel: posted before the launch (so delivery updates that very message and the
launcher's reply can link to it), revised while it waits for an admin, withdrawn when nothing launched;
and a shared report whose buttons' row says who launched what."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError

from bot import blocks
from bot.flows.base import BaseFlows
from services.client import ServiceError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Where:
    """Where a launch's card goes: a channel, and the thread in it when the launch came from one."""

    channel: str
    thread_ts: str | None = None
    card_ts: str | None = None  # the card already posted (a launch that waited for an admin)


@dataclass(frozen=True)
class ReportMessage:
    """A dataset report in a channel: its own ts and the thread it sits in (its own ts when top-level)."""

    channel: str
    ts: str
    thread_ts: str
    shown: bool = True  # Slack sent the clicked channel message along: there is a report to update


class CardFlows(BaseFlows):
    def post_card_placeholder(self, plan: Mapping[str, Any], user: str, where: Where) -> str | None:
        if not where.channel:
            return None
        text = blocks.launching_text(plan, user)
        try:
            posted = self.slack.chat_postMessage(
                channel=where.channel, thread_ts=where.thread_ts, text=text, blocks=[blocks.section(text)]
            )
        except SlackApiError as error:  # e.g. not_in_channel: delivery tries again and says why
            log.warning("launch card not posted", extra={"error": error.response.get("error")})
            return None
        return str(posted["ts"])

    def revise_card(self, channel: str, ts: str | None, text: str) -> None:
        if ts is None:
            return
        try:
            self.slack.chat_update(channel=channel, ts=ts, text=text, blocks=[blocks.section(text)])
        except SlackApiError as error:
            log.warning("launch card not revised", extra={"error": error.response.get("error")})

    def withdraw_card(self, channel: str, ts: str | None) -> None:
        if ts is None:
            return
        try:
            self.slack.chat_delete(channel=channel, ts=ts)
        except SlackApiError as error:
            log.warning("launch card not withdrawn", extra={"error": error.response.get("error")})

    def permalink(self, channel: str, ts: str | None) -> str | None:
        """A link to message ``ts`` (it opens the thread when the message is a reply), or None."""
        if not channel or not ts:
            return None
        try:
            return str(self.slack.chat_getPermalink(channel=channel, message_ts=ts)["permalink"])
        except SlackApiError as error:
            log.warning("no permalink", extra={"error": error.response.get("error")})
            return None

    def mark_report_launched(
        self, report: ReportMessage, dataset_id: str, user: str, models: list[str], link: str
    ) -> None:
        """The report as it was, with its buttons' row replaced by who launched what and where."""
        try:
            dataset = self.service.get_dataset(dataset_id)
            shown = blocks.dataset_report_blocks(dataset, blocks.dataset_costs(dataset))
            line = blocks.launched_line(user, models, link)
            self.slack.chat_update(
                channel=report.channel,
                ts=report.ts,
                text=f"Dataset {dataset.name or dataset_id}: {line}",
                blocks=blocks.report_launched(shown, line),
            )
        except (ServiceError, SlackApiError) as error:
            log.warning("report row not updated", extra={"error": str(error)})

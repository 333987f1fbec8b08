"""App Home: published when a user opens it; its Launch, Datasets and History buttons."""

from __future__ import annotations

import logging

from bot import blocks, home
from bot.flows.launch import LaunchFlows
from services.client import ServiceError

log = logging.getLogger(__name__)


class HomeFlows(LaunchFlows):
    def publish_home(self, user: str) -> None:
        home.publish_home(self.service, self.slack, user)

    def home_launch(self, trigger_id: str, user: str) -> None:
        """The launch form, with a channel to post the launch in (Home is no channel)."""
        self.open_launch_modal(trigger_id, user, channel="")

    def home_datasets(self, trigger_id: str, user: str) -> None:
        """The viewer's datasets in a modal; opened at once (the trigger lasts 3 s), then filled in."""
        opened = self.slack.views_open(trigger_id=trigger_id, view=blocks.listing_view("Your datasets", []))
        try:
            found = self.service.list_datasets(created_by=user, limit=10)
            shown = blocks.datasets_blocks(found, "Your datasets")
        except ServiceError as error:
            log.info("datasets not listed", extra={"code": error.code})
            shown = [blocks.section(blocks.error_text("The job service is not answering: try again soon."))]
        self.slack.views_update(
            view_id=opened["view"]["id"], view=blocks.listing_view("Your datasets", shown)
        )

    def home_history(self, trigger_id: str, user: str) -> None:
        """The viewer's latest jobs in a modal."""
        opened = self.slack.views_open(trigger_id=trigger_id, view=blocks.listing_view("Your jobs", []))
        try:
            jobs = self.service.list_jobs(requested_by=user, limit=20).jobs
            shown = blocks.history_blocks(jobs, None, f"Jobs of <@{user}>")
        except ServiceError as error:
            log.info("history not listed", extra={"code": error.code})
            shown = [blocks.section(blocks.error_text("The job service is not answering: try again soon."))]
        self.slack.views_update(view_id=opened["view"]["id"], view=blocks.listing_view("Your jobs", shown))

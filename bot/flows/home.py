"""App Home: published when a user opens it."""

from __future__ import annotations

import logging

from bot import blocks
from bot.flows.base import BaseFlows
from services.api.schemas import JobStatus
from services.client import ServiceError

log = logging.getLogger(__name__)


class HomeFlows(BaseFlows):
    def publish_home(self, user: str) -> None:
        try:
            mine = self.service.list_jobs(requested_by=user, limit=10).jobs
            running = self.service.list_jobs(status=JobStatus.TRAINING, limit=20).jobs
        except ServiceError as error:
            log.warning("home not refreshed", extra={"code": error.code})
            return
        self.slack.views_publish(user_id=user, view=blocks.home_view(mine, running))

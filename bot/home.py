"""Publishing a user's App Home: read what the home lists from the service, render it, publish it.

Used when the user opens the tab (bot.flows.home) and by delivery whenever one of the user's jobs moves
(bot.delivery), so the tab never shows a stale status.
"""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import blocks
from services.api.schemas import JobStatus
from services.client import ServiceClient, ServiceError

log = logging.getLogger(__name__)

# The stages App Home lists for the team, in the order a job passes them.
IN_PROGRESS = (JobStatus.QUEUED, JobStatus.TRAINING, JobStatus.EVALUATING)
LISTED_PER_STAGE = 15


def publish_home(service: ServiceClient, slack: WebClient, user: str) -> bool:
    """Publish ``user``'s App Home; False (logged) when the service or Slack cannot now."""
    try:
        mine = service.list_jobs(requested_by=user, limit=10).jobs
        stages = {
            stage: service.list_jobs(status=stage, limit=LISTED_PER_STAGE).jobs for stage in IN_PROGRESS
        }
    except ServiceError as error:
        log.warning("home not refreshed", extra={"code": error.code})
        return False
    try:
        slack.views_publish(user_id=user, view=blocks.home_view(mine, stages))
    except SlackApiError as error:
        log.warning("home not published", extra={"error": error.response.get("error")})
        return False
    return True

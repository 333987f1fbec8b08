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
        # One call for every stage, capped per stage so a long queue does not hide the training jobs.
        team = service.list_jobs(
            status=IN_PROGRESS, per_status=LISTED_PER_STAGE, limit=LISTED_PER_STAGE * len(IN_PROGRESS)
        ).jobs
    except ServiceError as error:
        log.warning("home not refreshed", extra={"code": error.code})
        return False
    stages = {stage: [job for job in team if job.status == stage] for stage in IN_PROGRESS}
    try:
        slack.views_publish(user_id=user, view=blocks.home_view(mine, stages, LISTED_PER_STAGE))
    except SlackApiError as error:
        log.warning("home not published", extra={"error": error.response.get("error")})
        return False
    return True

"""What every flow shares: the ``Reply`` a use case returns, the one error-to-reply rule, the dependencies.

Every use case returns a ``Reply`` (or nothing); a ``ServiceError`` becomes an ephemeral line that says
what to do instead. Nothing in bot.flows blocks for long: slow work (downloads, checks) runs on the
upload worker, and the service does the rest.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ParamSpec

from slack_sdk import WebClient

from bot import blocks
from services.api.schemas import EstimateOut, SweepEstimateOut
from services.client import ServiceClient, ServiceError
from services.platform.config import Settings

log = logging.getLogger(__name__)
P = ParamSpec("P")

HINTS = {
    "job_not_found": "List jobs with `/finetune history all`.",
    "group_not_found": "The group id is in the launch thread's footer.",
    "dataset_not_found": "List datasets with `/finetune datasets all`.",
    "dataset_not_ready": "Launch a ready dataset: see `/finetune datasets`.",
    "not_cancellable": "See it with `/finetune status <job>`.",
    "name_taken": "Launch again with `name=` and a free name (`/finetune history all` lists names).",
    "invalid_name": "Launch again with `name=` and a name like `charts-v2`.",
    "service_unreachable": "The job service is down: try again in a minute.",
}


@dataclass
class Reply:
    text: str
    blocks: list[blocks.Block] | None = None
    replace_original: bool | None = None
    card_link: str | None = None  # a launch's card, once a launch created one (not sent to Slack)

    def kwargs(self) -> dict[str, Any]:
        values: dict[str, Any] = {"text": self.text, "response_type": "ephemeral"}
        if self.blocks is not None:
            values["blocks"] = self.blocks
        if self.replace_original is not None:
            values["replace_original"] = self.replace_original
        return values


def failure(error: ServiceError) -> Reply:
    return Reply(blocks.error_text(error.message, HINTS.get(error.code)))


def replies_errors(use_case: Callable[P, Reply | None]) -> Callable[P, Reply | None]:
    """One place that turns the service's refusals into what the user sees."""

    def wrapped(*args: P.args, **kwargs: P.kwargs) -> Reply | None:
        try:
            return use_case(*args, **kwargs)
        except ServiceError as error:
            log.info("service refused", extra={"code": error.code, "status": error.status})
            return failure(error)

    wrapped.__name__ = use_case.__name__
    wrapped.__doc__ = use_case.__doc__
    return wrapped


@dataclass
class SeenIds:
    """A bounded memory of ids already handled: Slack retries events and users double-click."""

    limit: int = 10_000
    _ids: OrderedDict[str, None] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def first_time(self, key: str) -> bool:
        with self._lock:
            if key in self._ids:
                return False
            self._ids[key] = None
            if len(self._ids) > self.limit:
                self._ids.popitem(last=False)
            return True


class BaseFlows:
    """The dependencies of every feature's flows; ``bot.flows.Flows`` combines the features."""

    def __init__(self, settings: Settings, service: ServiceClient, slack: WebClient) -> None:
        self.settings = settings
        self.service = service
        self.slack = slack

    def ask_admins(
        self,
        requester: str,
        summary: str,
        estimate: EstimateOut | SweepEstimateOut,
        value: str,
        why: str,
        replace_card: bool,
    ) -> Reply:
        """DM every admin the estimate above the cap with Approve/Decline (``value`` comes back on the
        click), and tell the requester they will hear back."""
        for admin in self.settings.admins:
            self.slack.chat_postMessage(
                channel=admin,
                text=blocks.approval_request_text(summary, estimate),
                blocks=blocks.approval_request_blocks(requester, summary, estimate, value),
            )
        return Reply(
            f":hourglass: {why.split(':')[0]}. I asked the admins to approve it; you will hear back here.",
            replace_original=replace_card,
        )

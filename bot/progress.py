"""The "Checking…" message of a shared file, kept up to date in place while the service checks the file.

One thread follows every check in progress: every ``every`` seconds it reads each followed dataset
through the service client and, only when the text it would show changed, updates the message with
``chat.update``. That method is Tier 3 for the whole workspace (about 50 a minute,
https://docs.slack.dev/apis/web-api/rate-limits), which launch cards use too: progress takes at most one
update per ``UPDATE_INTERVAL`` seconds, taken from the same workspace budget as the cards' (``updates``),
and a 429 the WebClient's retries did not cure pauses all progress for its ``Retry-After``. A check is
followed until its final status (the message then says the check finished; the report is posted by
bot.delivery as today) or for ``FOLLOW_SECONDS``. Nothing is stored: a restarted bot stops showing
progress, and the report still arrives as the service's event.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import blocks
from bot.delivery.pacing import Pacer, update_pacer
from bot.delivery.refusals import TRANSIENT
from services.api.schemas import DatasetStatus
from services.client import ServiceClient, ServiceError

log = logging.getLogger(__name__)

EVERY_SECONDS = 3.0  # how often a followed dataset is read
UPDATE_INTERVAL = 2.0  # progress uses at most 30 chat.updates a minute, leaving Tier 3's rest to cards
FOLLOW_SECONDS = 1800.0  # as long as the service's lease on a check (services.datasets.service)


@dataclass(slots=True)
class FollowedCheck:
    channel: str
    ts: str  # the "Checking…" message, as chat.postMessage answered
    dataset_id: str
    filename: str
    shown: str  # the text the message holds now
    until: float  # on the follower's clock: after this, say "still checking" and stop following


class CheckProgress:
    """Follows dataset checks and keeps each one's "Checking…" message up to date."""

    def __init__(
        self,
        service: ServiceClient,
        slack: WebClient,
        *,
        every: float = EVERY_SECONDS,
        follow_seconds: float = FOLLOW_SECONDS,
        pacer: Pacer | None = None,
        updates: Pacer | None = None,  # the workspace's chat.update budget, shared with delivery
        clock: Callable[[], float] = time.monotonic,
        background: bool = True,  # False: no thread, the caller runs the passes (``run_once``)
    ) -> None:
        self.service = service
        self.slack = slack
        self.every = every
        self.follow_seconds = follow_seconds
        self._pacer = pacer or Pacer(UPDATE_INTERVAL, burst=5)
        self.updates = updates or update_pacer()
        self._clock = clock
        self._followed: dict[tuple[str, str], FollowedCheck] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._paused_until = 0.0
        self._background = background
        self._pass = threading.Lock()  # one pass at a time

    def follow(self, channel: str, ts: str, dataset_id: str, filename: str, shown: str) -> None:
        """Keep message ``ts`` (which shows ``shown``) up to date with the check of ``dataset_id``."""
        check = FollowedCheck(channel, ts, dataset_id, filename, shown, self._clock() + self.follow_seconds)
        with self._lock:
            self._followed[(channel, ts)] = check
            if self._background and self._thread is None and not self._stopping.is_set():
                self._thread = threading.Thread(target=self._loop, name="slack-check-progress", daemon=True)
                self._thread.start()
        self._wake.set()

    def following(self) -> int:
        with self._lock:
            return len(self._followed)

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def run_once(self) -> int:
        """One look at every followed check; how many messages were updated."""
        with self._pass:
            with self._lock:
                checks = list(self._followed.values())
            updated = 0
            for check in checks:
                if self._stopping.is_set() or self._clock() < self._paused_until:
                    break
                updated += self._step(check)
            return updated

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self.every)
            self._wake.clear()
            try:
                self.run_once()
            except Exception:  # progress is a courtesy: a bug here must not end the following for good
                log.exception("check progress pass failed")
            with self._lock:
                if not self._followed:
                    self._thread = None
                    return
        with self._lock:
            self._thread = None

    def _step(self, check: FollowedCheck) -> int:
        try:
            dataset = self.service.get_dataset(check.dataset_id)
        except ServiceError as error:
            if error.status == 404:
                self._drop(check)
            return 0  # the service is restarting or busy: look again next time
        final = dataset.status != DatasetStatus.CHECKING
        if not final and self._clock() >= check.until:
            text, final = blocks.still_checking_text(check.filename), True
        else:
            text = blocks.check_progress_text(check.filename, dataset)
        updated = text != check.shown and self._update(check, text)
        if final and (updated or text == check.shown):  # else: Slack refused for now, try again
            self._drop(check)
        return int(updated)

    def _update(self, check: FollowedCheck, text: str) -> bool:
        self._pacer.wait("chat.update")
        self.updates.wait("chat.update")
        try:
            self.slack.chat_update(channel=check.channel, ts=check.ts, text=text)
        except SlackApiError as error:
            code = error.response.get("error")
            if code == "ratelimited":
                retry_after = error.response.headers.get("Retry-After") or error.response.headers.get(
                    "retry-after"
                )
                self._paused_until = self._clock() + _seconds(retry_after)
            elif code not in TRANSIENT:  # the message is gone or cannot be edited: nothing to keep up
                log.warning("check progress message not updated", extra={"error": code})
                self._drop(check)
            return False
        except OSError:  # Slack unreachable: try again next time
            return False
        check.shown = text
        return True

    def _drop(self, check: FollowedCheck) -> None:
        with self._lock:
            self._followed.pop((check.channel, check.ts), None)


def _seconds(retry_after: object) -> float:
    if isinstance(retry_after, list):  # slack_sdk keeps a header's values as a list
        retry_after = retry_after[0] if retry_after else None
    try:
        return max(1.0, float(str(retry_after)))
    except ValueError:
        return 1.0

"""The delivery loop: a background thread that runs delivery passes until stopped, idles when there is
nothing to deliver, and backs off (doubling, up to a ceiling) while the service or Slack is down.
"""

from __future__ import annotations

import logging
import threading

from bot.delivery.passes import Delivery
from bot.delivery.refusals import SlackDown
from services.client import ServiceError

log = logging.getLogger(__name__)


class DeliveryLoop:
    """The background thread of ``Delivery``: runs until stopped, backs off when the service is down."""

    def __init__(
        self, delivery: Delivery, idle_seconds: float = 2.0, max_backoff_seconds: float = 60.0
    ) -> None:
        self.delivery = delivery
        self.idle_seconds = idle_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="slack-delivery", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        delay = self.idle_seconds
        while not self._stopping.is_set():
            try:
                delivered = self.delivery.run_once()
                delay = self.idle_seconds
            except ServiceError as error:
                log.warning("events unavailable", extra={"code": error.code, "retry_seconds": delay})
                delivered = 0
                delay = min(delay * 2, self.max_backoff_seconds)
            except SlackDown as down:
                log.warning(
                    "slack unavailable; delivery resumes when it answers",
                    extra={"error": down.reason, "retry_seconds": delay},
                )
                delivered = 0
                delay = min(delay * 2, self.max_backoff_seconds)
            except Exception:
                log.exception("delivery pass failed")
                delivered = 0
            if not delivered:
                self._stopping.wait(delay)

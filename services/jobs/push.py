"""Push: Bedrock's job state-change events (EventBridge -> SQS) applied within seconds.

Each message only names a job; ``poll.follow_one`` reads the job's state from Bedrock and records it with
the poll's guarded apply, so duplicates and out-of-order events change nothing. The poll keeps running at
the slower reconciliation interval (TUNEBOT_RECONCILE_SECONDS) and catches whatever events miss.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from services.aws.errors import AwsError, TransientError
from services.aws.queue import LONG_POLL_SECONDS, JobEventQueue
from services.jobs.deps import JobDeps
from services.jobs.poll import follow_one
from services.jobs.submit import submit_ready

log = logging.getLogger(__name__)
RECEIVE_ERROR_PAUSE_SECONDS = 5.0


@dataclass(slots=True)
class PushReport:
    received: int = 0
    changed: list[str] = field(default_factory=list)  # Bedrock job names whose change this batch recorded
    unusable: int = 0  # bodies that were not Bedrock job events: deleted, logged
    kept: int = 0  # left on the queue for redelivery (Bedrock could not be asked just now)
    submitted: int = 0


def handle_events(deps: JobDeps, queue: JobEventQueue, wait_seconds: int = LONG_POLL_SECONDS) -> PushReport:
    """One long-poll of the queue: apply each named job's current state, then delete what was handled."""
    report = PushReport()
    events = queue.receive(wait_seconds)
    report.received = len(events)
    handled: list[str] = []
    for event in events:
        if event.job_name is None:
            report.unusable += 1
            log.warning("event queue message ignored", extra={"reason": event.problem})
            handled.append(event.receipt)
            continue
        try:
            if follow_one(deps, event.job_name):
                report.changed.append(event.job_name)
        except TransientError as error:
            # Not deleted: SQS delivers it again after its visibility timeout.
            report.kept += 1
            log.warning("job status unavailable", extra={"job": event.job_name, "code": error.code})
            continue
        except AwsError as error:
            # Asking again will not help; the poll's reconciliation has the last word on this job.
            log.warning("job status unavailable", extra={"job": event.job_name, "code": error.code})
        handled.append(event.receipt)
    queue.delete(handled)
    if report.changed:
        report.submitted = submit_ready(deps)  # a finished job freed a slot: fill it now, not next poll
    return report


class EventListener:
    """Long-polls the queue on a daemon thread until ``stop``; every replica may run one."""

    def __init__(self, deps: JobDeps, queue: JobEventQueue, wait_seconds: int = LONG_POLL_SECONDS) -> None:
        self._deps = deps
        self._queue = queue
        self._wait_seconds = wait_seconds
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="job-events", daemon=True)
        self.batches = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Ask the loop to end; it does after the receive in flight (at most one long poll)."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout if timeout is not None else self._wait_seconds + 10)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                handle_events(self._deps, self._queue, self._wait_seconds)
                self.batches += 1
            except AwsError as error:
                log.warning("event queue unavailable", extra={"code": error.code})
                self._stopping.wait(RECEIVE_ERROR_PAUSE_SECONDS)
            except Exception:
                log.exception("job events batch failed")
                self._stopping.wait(RECEIVE_ERROR_PAUSE_SECONDS)

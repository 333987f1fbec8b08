"""The job state machine (DESIGN §5): every status a job can be in, and the moves between them.

Pure: no I/O. Every status change of a job goes through ``move`` so that a move the machine does not
allow is a bug caught where it happens, not a row in a state nobody planned for. The API exposes the
derived rules (``cancellable``, ``final``) so that no client re-derives them.

```
 pending ─► queued ─► submitting ─► training ─► evaluating ─► done
    │          │           │            │            │
    └──────────┴───────────┴──► failed ◄┴────────────┘
 pending/queued ─► cancelled        training ─► cancelling ─► cancelled
```
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Protocol


class JobStatus(StrEnum):
    PENDING = "pending"  # accepted, not yet offered to Bedrock
    QUEUED = "queued"  # waiting for a free slot of Bedrock's concurrency quota
    SUBMITTING = "submitting"  # the create call is (or was) in flight; adopt by name if we crashed
    TRAINING = "training"  # Bedrock has the job
    EVALUATING = "evaluating"  # trained; the F1 evaluation is running
    DONE = "done"
    FAILED = "failed"
    CANCELLING = "cancelling"  # Bedrock was asked to stop the job
    CANCELLED = "cancelled"


WAITING: frozenset[JobStatus] = frozenset({JobStatus.PENDING, JobStatus.QUEUED})
ON_BEDROCK: frozenset[JobStatus] = frozenset({JobStatus.TRAINING, JobStatus.CANCELLING})
# A job in one of these holds one of Bedrock's concurrent-job slots.
HOLDS_SLOT: frozenset[JobStatus] = ON_BEDROCK | {JobStatus.SUBMITTING}
FINAL: frozenset[JobStatus] = frozenset({JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED})
ACTIVE: frozenset[JobStatus] = frozenset(JobStatus) - FINAL

ALLOWED: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.PENDING: frozenset(
        {JobStatus.QUEUED, JobStatus.SUBMITTING, JobStatus.FAILED, JobStatus.CANCELLED}
    ),
    JobStatus.QUEUED: frozenset(
        {JobStatus.PENDING, JobStatus.SUBMITTING, JobStatus.FAILED, JobStatus.CANCELLED}
    ),
    # back to pending/queued: Bedrock refused for now (quota, throttling); a retry is queued again
    JobStatus.SUBMITTING: frozenset(
        {JobStatus.PENDING, JobStatus.QUEUED, JobStatus.TRAINING, JobStatus.FAILED, JobStatus.CANCELLED}
    ),
    JobStatus.TRAINING: frozenset(
        {JobStatus.EVALUATING, JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLING, JobStatus.CANCELLED}
    ),
    JobStatus.CANCELLING: frozenset(
        {JobStatus.CANCELLED, JobStatus.DONE, JobStatus.FAILED, JobStatus.EVALUATING}
    ),
    JobStatus.EVALUATING: frozenset({JobStatus.DONE, JobStatus.FAILED}),
    JobStatus.DONE: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.CANCELLED: frozenset(),
}


class IllegalMove(Exception):
    """A status change the machine does not allow: a bug in the caller, never a user's mistake."""


class HasStatus(Protocol):
    status: str


def can_move(current: str, target: JobStatus) -> bool:
    return current == target or target in ALLOWED[JobStatus(current)]


def move(job: HasStatus, target: JobStatus) -> bool:
    """Set ``job.status`` to ``target`` if the machine allows it; True when the status changed."""
    current = JobStatus(job.status)
    if current == target:
        return False
    if target not in ALLOWED[current]:
        raise IllegalMove(f"a job cannot go from {current} to {target}")
    job.status = target
    return True


def is_final(status: str) -> bool:
    return JobStatus(status) in FINAL


def launch_ended(jobs: Iterable[tuple[str, bool]], compared: bool) -> bool:
    """Whether a launch (its jobs as ``(status, evaluate)``) is over: every job final and nothing left to
    follow. A pair whose two sizes were both trained and evaluated ends with their comparison."""
    statuses = list(jobs)
    if not statuses or not all(is_final(status) for status, _ in statuses):
        return False
    comparison_due = len(statuses) == 2 and all(
        status == JobStatus.DONE and evaluate for status, evaluate in statuses
    )
    return compared or not comparison_due


def can_cancel(status: str) -> bool:
    """Whether a cancel request makes sense now: before training starts or while it runs."""
    return JobStatus(status) in WAITING | {JobStatus.TRAINING}

"""A job's status changes with the event that announces each, in the caller's transaction (outbox).

Every status change of a job goes through ``move`` here, which asks the state machine
(``services.jobs.model``) whether the change is allowed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from services.jobs import model
from services.jobs.model import JobStatus
from services.jobs.results import failure_hint
from services.platform import outbox
from services.platform.tables import Job, utcnow


def move(job: Job, target: JobStatus) -> bool:
    """Move ``job`` to ``target`` (allowed moves only); stamps ``finished_at`` on reaching a final status."""
    changed = model.move(job, target)
    if changed and target in model.FINAL:
        job.finished_at = utcnow()
    return changed


def fail(session: Session, job: Job, message: str) -> None:
    move(job, JobStatus.FAILED)
    job.failure_message = message
    job.failure_hint = failure_hint(message)
    announce(
        session,
        job,
        "job.failed",
        f"{job.name}: failed: {message}",
        failure_message=message,
        failure_hint=job.failure_hint,
    )


def announce(session: Session, job: Job, type_: str, message: str, **extra: Any) -> None:
    """Record the event of a change to ``job`` in the caller's transaction; sandbox events say so."""
    outbox.announce(
        session, type_, job.id, message, sandbox=job.sandbox,
        job_id=job.id, group_id=job.group_id, model=job.model, name=job.name, status=job.status, **extra,
    )  # fmt: skip

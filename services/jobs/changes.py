"""A job's status changes with the event that announces each, in the caller's transaction (outbox).

Every status change of a job goes through ``move`` here, which asks the state machine
(``services.jobs.model``) whether the change is allowed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from services.jobs import model
from services.jobs.model import JobStatus
from services.jobs.results import failure_hint
from services.platform import outbox
from services.platform.tables import Job, JobGroup, utcnow


def move(job: Job, target: JobStatus) -> bool:
    """Move ``job`` to ``target`` (allowed moves only); stamps ``finished_at`` on reaching a final status
    unless training's end already did (a job that was evaluated keeps when its training ended)."""
    changed = model.move(job, target)
    if changed and target in model.FINAL and job.finished_at is None:
        job.finished_at = utcnow()
    return changed


def move_if(session: Session, job_id: str, expected: JobStatus, target: JobStatus, **values: Any) -> bool:
    """Move the job from ``expected`` to ``target`` only if it is still ``expected`` (one replica wins);
    True for the winner. The machine must allow the move; ``values`` are set in the same UPDATE."""
    if not model.can_move(expected, target):
        raise model.IllegalMove(f"a job cannot go from {expected} to {target}")
    if target in model.FINAL:
        # A job that trained keeps the time training ended; one that never ran ends now.
        values.setdefault("finished_at", func.coalesce(Job.finished_at, utcnow()))
    won = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == expected)
        .values(status=target, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    return bool(won)


def fail(session: Session, job: Job, message: str, hint: str | None = None) -> None:
    """Fail ``job`` with ``message`` and the likely fix (``hint``, else the one Bedrock's text suggests)."""
    move(job, JobStatus.FAILED)
    job.failure_message = message
    job.failure_hint = hint or failure_hint(message)
    announce(
        session,
        job,
        "job.failed",
        f"{job.name}: failed: {message}",
        failure_message=message,
        failure_hint=job.failure_hint,
    )


# The events after which a launch may be over; the one that ends it carries ``launch_ended`` (the bot
# mentions the requester on it, once per launch).
ENDING_EVENTS = frozenset(
    {"job.completed", "job.failed", "job.cancelled", "evaluation.completed", "evaluation.failed"}
)


def ends_launch(session: Session, type_: str, group_id: str) -> bool:
    """Whether the event ``type_`` being recorded now ends its launch.

    The group's row is locked first (PostgreSQL; SQLite writes one at a time), so of two jobs of a pair
    finishing at once on two replicas, the second to commit sees the first final: exactly one event
    carries the end.
    """
    if type_ not in ENDING_EVENTS:
        return False
    compared = session.execute(
        select(JobGroup.comparison).where(JobGroup.id == group_id).with_for_update()
    ).scalar_one_or_none()
    session.flush()
    jobs = session.execute(select(Job.status, Job.evaluate).where(Job.group_id == group_id)).all()
    return model.launch_ended([(status, evaluate) for status, evaluate in jobs], compared is not None)


def announce(session: Session, job: Job, type_: str, message: str, **extra: Any) -> None:
    """Record the event of a change to ``job`` in the caller's transaction; sandbox events say so."""
    if ends_launch(session, type_, job.group_id):
        extra["launch_ended"] = True
    outbox.announce(
        session, type_, job.id, message, sandbox=job.sandbox,
        job_id=job.id, group_id=job.group_id, model=job.model, name=job.name, status=job.status, **extra,
    )  # fmt: skip

"""The bound on ``evaluating``: an evaluation that has not finished ``TUNEBOT_EVAL_MAX_HOURS`` after it
started (or after training ended, if it never started) and that no live runner holds is failed, with
an ``evaluation.failed`` event that says why; the janitor then deletes its Provisioned Throughput.

A live runner ends its own run at that deadline (the runner passes it down); this catches the runs
nobody is running any more: a holder that died over and over, a throughput that never came up while
each try was cut short, a job whose evaluation could never be claimed.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.evaluation.model import EvaluationStatus
from services.evaluation.records import EVALUATION_FAILED_HINT, snapshot_job
from services.jobs.changes import ends_launch, move_if
from services.jobs.model import JobStatus
from services.platform import outbox
from services.platform.config import Settings
from services.platform.db import unit_of_work
from services.platform.tables import Evaluation, Job, utcnow

log = logging.getLogger(__name__)


def overdue_reason(max_hours: float) -> str:
    return (
        f"it did not finish within TUNEBOT_EVAL_MAX_HOURS ({max_hours:g} h) of starting (its Provisioned "
        "Throughput never became ready, or the process running it kept stopping)"
    )


def fail_overdue(
    sessions: sessionmaker[Session], settings: Settings, *, now: datetime | None = None
) -> list[str]:
    """Fail every evaluation past its bound that no live runner holds; return the jobs failed."""
    now = now or utcnow()
    with sessions() as session:
        job_ids = list(session.scalars(select(Job.id).where(Job.status == JobStatus.EVALUATING)))
    failed = []
    for job_id in job_ids:
        with unit_of_work(sessions) as session:
            if _fail_if_overdue(session, job_id, settings.eval_max_hours, now):
                failed.append(job_id)
    return failed


def _fail_if_overdue(session: Session, job_id: str, max_hours: float, now: datetime) -> bool:
    job = session.get(Job, job_id)
    if job is None or job.status != JobStatus.EVALUATING:
        return False
    rows = list(session.scalars(select(Evaluation).where(Evaluation.job_id == job_id)))
    started = min((row.started_at for row in rows if row.started_at is not None), default=None)
    since = started or job.finished_at or job.updated_at
    if now - since <= timedelta(hours=max_hours):
        return False
    if any(row.lease_owner is not None and row.lease_expires_at is not None and row.lease_expires_at > now
           for row in rows):  # fmt: skip
        return False  # a live runner holds it and stops at the same deadline itself
    reason = overdue_reason(max_hours)
    for row in rows:
        if row.status != EvaluationStatus.DONE:
            row.status, row.error, row.finished_at = EvaluationStatus.FAILED, reason, now
            row.lease_owner, row.lease_expires_at = None, None
    snapshot = snapshot_job(session, job_id)
    assert snapshot is not None
    if not move_if(
        session, job_id, JobStatus.EVALUATING, JobStatus.FAILED,
        failure_message=f"evaluation failed: {reason}", failure_hint=EVALUATION_FAILED_HINT,
    ):  # fmt: skip
        return False
    outbox.announce(
        session, "evaluation.failed", job_id,
        f"{snapshot.name}: evaluation failed — {reason}. Its Provisioned Throughput is deleted.",
        sandbox=snapshot.sandbox, job_id=job_id, group_id=snapshot.group_id, model=snapshot.model,
        name=snapshot.name, status=JobStatus.FAILED, error=reason,
        **({"launch_ended": True} if ends_launch(session, "evaluation.failed", snapshot.group_id) else {}),
    )  # fmt: skip
    log.warning("evaluation past its bound failed", extra={"job_id": job_id})
    return True

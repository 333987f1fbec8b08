"""The job domain's queries: the only place that knows how jobs and groups are found in the tables."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.jobs.model import HOLDS_SLOT, ON_BEDROCK, WAITING, JobStatus
from services.platform.tables import Job, JobGroup


def group_by_key(session: Session, key: str) -> JobGroup | None:
    return session.scalars(select(JobGroup).where(JobGroup.idempotency_key == key)).one_or_none()


def next_to_submit(session: Session) -> Job | None:
    # Leftovers of a crashed pass first: they may already exist on Bedrock and hold a slot.
    leftover = session.scalars(
        select(Job).where(Job.status == JobStatus.SUBMITTING).order_by(Job.created_at, Job.id).limit(1)
    ).first()
    if leftover is not None:
        return leftover
    return session.scalars(
        select(Job).where(Job.status.in_(WAITING)).order_by(Job.created_at, Job.id).limit(1)
    ).first()


def busy_slots(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Job).where(Job.status.in_(HOLDS_SLOT))) or 0)


def waiting_in_launch_order(session: Session) -> list[Job]:
    return list(session.scalars(select(Job).where(Job.status.in_(WAITING)).order_by(Job.created_at, Job.id)))


def on_bedrock(session: Session) -> list[tuple[str, str, str | None]]:
    """(job id, Bedrock job name, last Bedrock status seen) of every job Bedrock has."""
    rows = session.execute(
        select(Job.id, Job.bedrock_job_name, Job.bedrock_status).where(Job.status.in_(ON_BEDROCK))
    ).all()
    return [(job_id, name, status) for job_id, name, status in rows]

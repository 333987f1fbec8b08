"""The job domain's queries: the only place that knows how jobs and groups are found in the tables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

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


def on_bedrock(session: Session) -> list[tuple[str, str, str | None, datetime | None]]:
    """(job id, Bedrock job name, last Bedrock status seen, when its status may be read again) of every
    job Bedrock has; the last is set while its status cannot be read (backoff)."""
    rows = session.execute(
        select(Job.id, Job.bedrock_job_name, Job.bedrock_status, Job.status_next_read_at).where(
            Job.status.in_(ON_BEDROCK)
        )
    ).all()
    return [(job_id, name, status, next_read) for job_id, name, status, next_read in rows]


def job(session: Session, job_id: str) -> Job | None:
    return session.scalars(select(Job).where(Job.id == job_id).options(selectinload(Job.evaluations))).first()


def job_by_ref(session: Session, ref: str) -> Job | None:
    """The job whose id, name or Bedrock job name is ``ref`` (the id first; names are unique)."""
    found = job(session, ref)
    if found is not None:
        return found
    query = select(Job).where((Job.name == ref) | (Job.bedrock_job_name == ref))
    return session.scalars(query.options(selectinload(Job.evaluations)).limit(1)).first()


def names_taken(session: Session, bases: list[str]) -> set[str]:
    """Every job name that is or starts with one of ``bases`` (``charts-11b``, ``charts-11b-2``)."""
    if not bases:
        return set()
    matches = [Job.name.startswith(base, autoescape=True) for base in bases]
    query = select(Job.name).where(matches[0] if len(matches) == 1 else or_(*matches))
    return set(session.scalars(query))


def jobs_by_id(session: Session, job_ids: list[str]) -> list[Job]:
    query = select(Job).where(Job.id.in_(job_ids)).options(selectinload(Job.evaluations)).order_by(Job.model)
    return list(session.scalars(query))


def group(session: Session, group_id: str) -> JobGroup | None:
    query = (
        select(JobGroup)
        .where(JobGroup.id == group_id)
        .options(selectinload(JobGroup.jobs).selectinload(Job.evaluations))
    )
    return session.scalars(query).first()


@dataclass(frozen=True, slots=True)
class JobFilter:
    requested_by: str | None = None
    name: str | None = None  # the job's name or its Bedrock job name
    statuses: tuple[JobStatus, ...] = ()  # in any of these; none given, in any status
    model: str | None = None
    dataset_id: str | None = None
    per_status: int | None = None  # at most this many of each status (the newest), so none crowds out another


def newest_jobs(session: Session, where: JobFilter, limit: int, before: Job | None) -> list[Job]:
    """Up to ``limit`` jobs matching ``where``, newest first, older than ``before`` when given."""
    conditions = []
    if where.requested_by is not None:
        conditions.append(Job.requested_by == where.requested_by)
    if where.name is not None:
        conditions.append((Job.name == where.name) | (Job.bedrock_job_name == where.name))
    if where.statuses:
        conditions.append(Job.status.in_(where.statuses))
    if where.model is not None:
        conditions.append(Job.model == where.model)
    if where.dataset_id is not None:
        conditions.append(Job.dataset_id == where.dataset_id)
    if before is not None:
        conditions.append(
            (Job.created_at < before.created_at)
            | ((Job.created_at == before.created_at) & (Job.id < before.id))
        )
    newest_first = (Job.created_at.desc(), Job.id.desc())
    query = select(Job).options(selectinload(Job.evaluations)).where(*conditions)
    if where.per_status is not None:
        rank = func.row_number().over(partition_by=Job.status, order_by=newest_first).label("rank")
        ranked = select(Job.id, rank).where(*conditions).subquery()
        query = query.where(Job.id.in_(select(ranked.c.id).where(ranked.c.rank <= where.per_status)))
    return list(session.scalars(query.order_by(*newest_first).limit(limit)))


def on_bedrock_named(session: Session, bedrock_job_name: str) -> tuple[str, str | None] | None:
    """(job id, last Bedrock status seen) of the job Bedrock knows by that name, while Bedrock has it."""
    row = session.execute(
        select(Job.id, Job.bedrock_status).where(
            Job.bedrock_job_name == bedrock_job_name, Job.status.in_(ON_BEDROCK)
        )
    ).first()
    return None if row is None else (row[0], row[1])

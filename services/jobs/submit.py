"""Exactly-once submission of waiting jobs to Bedrock, within the concurrency quota.

A job's Bedrock name and ``clientRequestToken`` derive from its row id, and the row is marked
``submitting`` (committed) before the create call. A submit pass that finds a job still ``submitting``
(its predecessor crashed) looks the name up on Bedrock first and adopts the job it finds, so a crash
between "Bedrock accepted" and "we recorded it" never makes a second job.
"""

from __future__ import annotations

import logging

from sqlalchemy import delete
from sqlalchemy.orm import Session

from services.aws.bedrock import JobDetail, JobSpec
from services.aws.errors import AwsError, NameInUse, QuotaExceeded, TransientError
from services.jobs import repository
from services.jobs.changes import announce, fail, move
from services.jobs.deps import SANDBOX_ROLE_ARN, JobDeps, outputs_root
from services.jobs.model import JobStatus
from services.platform import leases
from services.platform.db import unit_of_work
from services.platform.tables import Dataset, Job, Lease, utcnow

log = logging.getLogger(__name__)

SUBMIT_LEASE = "submit"
# Short: the process's lease keeper renews it during a long pass, and a crashed holder blocks nobody
# for longer than this.
SUBMIT_LEASE_SECONDS = leases.LEASE_SECONDS
SUBMIT_WAIT_SECONDS = 30.0


def submit_ready(deps: JobDeps) -> int:
    """Submit waiting jobs in launch order while slots are free; return how many were submitted.

    One pass at a time: a lock between this process's threads (API requests and the scheduler), and
    the ``submit`` lease between replicas, so the concurrency limit holds everywhere.
    """
    if not deps.submit_lock.acquire(timeout=SUBMIT_WAIT_SECONDS):
        return 0  # a long pass is running here; the next tick picks up what is left
    try:
        with unit_of_work(deps.sessions) as session:
            if not leases.acquire(session, SUBMIT_LEASE, deps.owner, SUBMIT_LEASE_SECONDS):
                return 0
        try:
            return _submit_pass(deps)
        finally:
            with unit_of_work(deps.sessions) as session:
                session.execute(delete(Lease).where(Lease.name == SUBMIT_LEASE, Lease.owner == deps.owner))
    finally:
        deps.submit_lock.release()


def _submit_pass(deps: JobDeps) -> int:
    submitted = 0
    while True:
        with unit_of_work(deps.sessions) as session:
            if not leases.acquire(session, SUBMIT_LEASE, deps.owner, SUBMIT_LEASE_SECONDS):
                return submitted  # our lease ran out and another replica holds it now
            job = repository.next_to_submit(session)
            if job is None:
                return submitted
            leftover = job.status == JobStatus.SUBMITTING
            if not leftover and repository.busy_slots(session) >= deps.settings.max_concurrent_jobs:
                _queue_waiting(session, "all slots are in use")
                return submitted
            was = JobStatus(job.status)
            move(job, JobStatus.SUBMITTING)
            job_id = job.id
        outcome = _submit_one(deps, job_id, was)
        if outcome == "submitted":
            submitted += 1
        elif outcome == "wait":
            return submitted


def _queue_waiting(session: Session, reason: str) -> None:
    for position, job in enumerate(repository.waiting_in_launch_order(session), start=1):
        if job.status == JobStatus.PENDING:
            move(job, JobStatus.QUEUED)
            announce(
                session,
                job,
                "job.queued",
                f"{job.name}: queued ({reason}); it starts when a running job finishes",
                position=position,
                reason=reason,
            )


def _submit_one(deps: JobDeps, job_id: str, was: JobStatus) -> str:
    """Create (or adopt) the Bedrock job of a row marked ``submitting``: "submitted", "wait" or "refused"."""
    with deps.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        dataset = session.get(Dataset, job.dataset_id)
        assert dataset is not None and dataset.s3_uri is not None
        spec = JobSpec(
            job_name=job.bedrock_job_name,
            custom_model_name=job.custom_model_name,
            model=job.model,  # type: ignore[arg-type]
            role_arn=deps.settings.role_arn or SANDBOX_ROLE_ARN,
            training_s3_uri=f"{dataset.s3_uri.rstrip('/')}/train.jsonl",
            validation_s3_uri=(
                f"{dataset.s3_uri.rstrip('/')}/validation.jsonl"
                if int(((dataset.report or {}).get("counts") or {}).get("validation", 0))
                else None
            ),
            output_s3_uri=job.output_s3_uri or f"{outputs_root(deps.settings)}/jobs/{job.id}/output",
            epochs=job.epochs,
            learning_rate=job.learning_rate,
            client_request_token=job.client_request_token,
            tags={"tunebot-job": job.id, "tunebot-requested-by": job.requested_by},
        )
    # A leftover of a crashed pass may exist on Bedrock already: look before creating. A job that was
    # never attempted cannot, and one whose earlier attempt ended unsure (a timeout after Bedrock
    # accepted it) is caught by the name being in use, so fresh jobs skip the extra call.
    leftover = was == JobStatus.SUBMITTING
    try:
        if leftover:
            found = deps.bedrock.find_job(spec.job_name)
            if found is not None:
                return _adopt(deps, job_id, found, leftover)
            with unit_of_work(deps.sessions) as session:
                if repository.busy_slots(session) > deps.settings.max_concurrent_jobs:
                    _back_to_queue(session, job_id, was, "all slots are in use")
                    return "wait"
        try:
            arn = deps.bedrock.create_job(spec)
        except NameInUse:
            found = deps.bedrock.find_job(spec.job_name)
            if found is None or found.client_request_token not in (None, spec.client_request_token):
                raise
            return _adopt(deps, job_id, found, leftover=True)
    except QuotaExceeded:
        with unit_of_work(deps.sessions) as session:
            _back_to_queue(session, job_id, was, "Bedrock's quota of concurrent jobs is used up")
        return "wait"
    except TransientError as error:
        log.warning("submit postponed", extra={"job_id": job_id, "code": error.code})
        with unit_of_work(deps.sessions) as session:
            _back_to_queue(session, job_id, was, "Bedrock is busy; tunebot tries again on the next tick")
        return "wait"
    except AwsError as error:
        with unit_of_work(deps.sessions) as session:
            job = session.get(Job, job_id)
            assert job is not None
            fail(session, job, error.message or error.code)
        return "refused"
    with unit_of_work(deps.sessions) as session:
        job = session.get(Job, job_id)
        assert job is not None
        move(job, JobStatus.TRAINING)
        job.bedrock_job_arn = arn
        job.bedrock_status = "InProgress"
        job.submitted_at = utcnow()
        announce(session, job, "job.submitted", f"{job.name}: training started on Bedrock", job_arn=arn)
    return "submitted"


def _adopt(deps: JobDeps, job_id: str, found: JobDetail, leftover: bool) -> str:
    """Record a Bedrock job that exists already under our name; the next poll takes its status from there."""
    with unit_of_work(deps.sessions) as session:
        job = session.get(Job, job_id)
        assert job is not None
        move(job, JobStatus.TRAINING)
        job.bedrock_job_arn = found.arn
        # Unknown to us until the next poll compares it, so a job that finished meanwhile is handled there.
        job.bedrock_status = None
        job.submitted_at = job.submitted_at or utcnow()
        announce(
            session, job, "job.submitted", f"{job.name}: training on Bedrock", job_arn=found.arn, adopted=True
        )
    log.info("bedrock job adopted", extra={"job_id": job_id, "leftover": leftover})
    return "submitted"


def _back_to_queue(session: Session, job_id: str, was: JobStatus, reason: str) -> None:
    job = session.get(Job, job_id)
    assert job is not None
    if was == JobStatus.QUEUED:
        move(job, JobStatus.QUEUED)  # announced when it was first queued; a retry is not news
        return
    move(job, JobStatus.PENDING)  # _queue_waiting announces it, with its place in launch order
    session.flush()
    _queue_waiting(session, reason)

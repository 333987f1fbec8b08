"""Following jobs on Bedrock: one tick lists tunebot's jobs page by page, Gets only the ones whose
status changed, records each change once (a guarded UPDATE, so one replica wins), and then fills the
slots that freed up.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import update

from services.aws.bedrock import JOB_NAME_PREFIX, JobDetail
from services.aws.errors import AwsError, NotFound
from services.aws.s3 import TRAINING_METRICS_FILE, VALIDATION_METRICS_FILE, OutputsError
from services.evaluation.charts import render_loss_curves
from services.jobs import bounds, repository
from services.jobs.changes import announce, fail, move
from services.jobs.deps import JobDeps
from services.jobs.model import ON_BEDROCK, JobStatus
from services.jobs.results import STOPPED_NOTE, curve_from_csv, curve_to_json
from services.jobs.submit import submit_ready
from services.platform.db import unit_of_work
from services.platform.tables import Job, utcnow

log = logging.getLogger(__name__)

# Marks ``Job.status_read_error`` when the hold-up is S3 (the metrics), not Bedrock (the status).
METRICS_READ_ERROR = "S3 "


@dataclass(slots=True)
class PollReport:
    list_calls: int = 0
    get_calls: int = 0
    changed: list[str] = field(default_factory=list)
    submitted: int = 0


def poll_once(deps: JobDeps) -> PollReport:
    """One tick: list tunebot's jobs page by page, Get only the ones that changed, then fill free slots."""
    report = _follow_active(deps)
    report.submitted = submit_ready(deps)
    return report


def follow_one(deps: JobDeps, bedrock_job_name: str) -> bool:
    """Bring one job up to date now (a pushed event named it) with the poll's own guarded apply.

    The status comes from Bedrock's Get, never from the event, and the stored status is read before the
    Get: a repeated or late event then finds nothing to change, and a slower reader never overwrites a
    newer status (its guard on the old one fails). True when this call recorded a change; raises
    ``AwsError`` when Bedrock could not be asked.
    """
    with deps.sessions() as session:
        found = repository.on_bedrock_named(session, bedrock_job_name)
    if found is None:
        return False  # not ours, or no longer on Bedrock: settled already
    job_id, previous = found
    detail = deps.bedrock.get_job(bedrock_job_name)
    return detail.status != previous and _apply(deps, job_id, previous, detail)


def _follow_active(deps: JobDeps) -> PollReport:
    report = PollReport()
    with deps.sessions() as session:
        rows = repository.on_bedrock(session)
    active = {name: (job_id, status, next_read) for job_id, name, status, next_read in rows}
    if not active:
        return report
    seen: dict[str, str] = {}
    try:
        for page in deps.bedrock.list_jobs(JOB_NAME_PREFIX):
            report.list_calls += 1
            seen.update({summary.name: summary.status for summary in page if summary.name in active})
            if len(seen) == len(active):
                break  # newest first: every active job is on the pages read so far
    except AwsError as error:
        # Not fatal: each job's own Get (with its backoff and bound) decides what happens to it.
        log.warning("job list unavailable", extra={"code": error.code})
    now = utcnow()
    for name, (job_id, previous, next_read) in active.items():
        if name in seen and seen[name] == previous:
            if next_read is not None:
                _readable_again(deps, job_id)
            continue
        if next_read is not None and now < next_read:
            continue  # backing off: this job's status could not be read lately
        report.get_calls += 1
        try:
            detail = deps.bedrock.get_job(name)
        except AwsError as error:
            if _unreadable(deps, job_id, error, gone=isinstance(error, NotFound)):
                report.changed.append(job_id)
            continue
        if next_read is not None and detail.status != "Completed":
            _readable_again(deps, job_id)  # a completion clears it with the change (or keeps the hold-up)
        if detail.status != previous and _apply(deps, job_id, previous, detail):
            report.changed.append(job_id)
    return report


def _unreadable(deps: JobDeps, job_id: str, error: AwsError, *, gone: bool) -> bool:
    """Note a status read that failed; fail the job once Bedrock denies it or the bound passed.

    True when the job failed here (its slot is free and ``job.failed`` tells the requester).
    """
    now = utcnow()
    with unit_of_work(deps.sessions) as session:
        job = session.get(Job, job_id)
        if job is None or job.status not in ON_BEDROCK:
            return False  # another replica (or a cancel) settled it meanwhile
        since = job.status_unreadable_since or now
        job.status_unreadable_since = since
        job.status_read_error = f"{error.code}: {error.message}"[:2000]
        bound = deps.settings.status_unreadable_seconds
        if gone or bounds.gives_up(since, now, bound):
            if gone:
                reason, hint = bounds.not_known_reason(error.code), bounds.NOT_KNOWN_HINT
            else:
                seconds = (now - since).total_seconds()
                reason = bounds.unreadable_reason(error.code, error.message, seconds)
                hint = bounds.UNREADABLE_HINT
            job.status_next_read_at = None
            fail(session, job, reason, hint)
            log.warning("job given up: status unreadable", extra={"job_id": job_id, "code": error.code})
            return True
        job.status_next_read_at = bounds.next_read_at(since, now, deps.settings.poll_seconds)
    log.warning("job status unavailable; asking again later", extra={"job_id": job_id, "code": error.code})
    return False


def _metrics_held_back(deps: JobDeps, job_id: str, error: OutputsError) -> str | None:
    """Note that S3 could not give a completed job's metrics; None while waiting, else the bound's note.

    The job keeps its training status and its old Bedrock status, so the next poll (after the backoff in
    ``status_next_read_at``) sees the change again and reads S3 again; the wait is counted from the first
    failed S3 read (``status_unreadable_since``, which a Bedrock outage before it does not count towards).
    """
    now = utcnow()
    with unit_of_work(deps.sessions) as session:
        job = session.get(Job, job_id)
        if job is None or job.status not in ON_BEDROCK:
            return None  # another replica (or a cancel) settled it meanwhile; the guarded apply will lose
        waiting_on_s3 = (job.status_read_error or "").startswith(METRICS_READ_ERROR)
        since = (job.status_unreadable_since if waiting_on_s3 else None) or now
        if bounds.gives_up(since, now, deps.settings.metrics_unreadable_seconds):
            log.warning("metrics given up: S3 unreadable", extra={"job_id": job_id, "code": error.code})
            return bounds.metrics_unreadable_note(error.code, (now - since).total_seconds())
        job.status_unreadable_since = since
        job.status_read_error = f"{METRICS_READ_ERROR}{error}"[:2000]
        job.status_next_read_at = bounds.next_read_at(since, now, deps.settings.poll_seconds)
    log.warning("metrics unavailable; reading again later", extra={"job_id": job_id, "code": error.code})
    return None


def _readable_again(deps: JobDeps, job_id: str) -> None:
    with unit_of_work(deps.sessions) as session:
        job = session.get(Job, job_id)
        if job is not None:
            job.status_unreadable_since = job.status_next_read_at = job.status_read_error = None


def _apply(deps: JobDeps, job_id: str, previous: str | None, detail: JobDetail) -> bool:
    """Record Bedrock's new status once: the guarded UPDATE lets only one replica win the change."""
    metrics: dict[str, Any] | None = None
    png_path: str | None = None
    note: str | None = None
    if detail.status == "Completed":
        try:
            metrics, png_path, note = _collect_results(deps, job_id, detail)
        except OutputsError as error:  # S3 unavailable: hold the completion back, up to the bound
            note = _metrics_held_back(deps, job_id, error)
            if note is None:
                return False  # the job stays on Bedrock's list; a later poll reads again
    with unit_of_work(deps.sessions) as session:
        guard = Job.bedrock_status.is_(None) if previous is None else Job.bedrock_status == previous
        won = session.execute(
            update(Job)
            .where(Job.id == job_id, guard, Job.status.in_(ON_BEDROCK))
            .values(bedrock_status=detail.status)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        if not won:
            return False
        job = session.get(Job, job_id)
        assert job is not None
        session.refresh(job)
        if detail.output_model_arn:
            job.output_model_arn = detail.output_model_arn
        if detail.status == "Completed":
            job.finished_at = utcnow()  # training's end, also when the evaluation follows
            job.status_unreadable_since = job.status_next_read_at = job.status_read_error = None
            move(job, JobStatus.EVALUATING if job.evaluate else JobStatus.DONE)
            job.metrics = metrics
            job.loss_curve_path = png_path
            summary = metrics or {}
            announce(
                session,
                job,
                "job.completed",
                f"{job.name}: training completed"
                + ("; evaluation starts next" if job.evaluate else "")
                + (f" ({note})" if note else ""),
                output_model_arn=job.output_model_arn,
                final_training_loss=summary.get("final_training_loss"),
                final_validation_loss=summary.get("final_validation_loss"),
                loss_curve_path=png_path,
            )
        elif detail.status == "Failed":
            fail(session, job, detail.failure_message or "Bedrock gave no failure message")
        elif detail.status == "Stopped":
            move(job, JobStatus.CANCELLED)
            announce(session, job, "job.cancelled", f"{job.name}: stopped. {STOPPED_NOTE}")
        elif detail.status == "Stopping" and move(job, JobStatus.CANCELLING):
            announce(session, job, "job.status", f"{job.name}: stopping. {STOPPED_NOTE}")
        # InProgress: nothing to announce (job.submitted said so); the stored Bedrock status moved on.
    return True


def _collect_results(
    deps: JobDeps, job_id: str, detail: JobDetail
) -> tuple[dict[str, Any] | None, str | None, str | None]:
    """Read the metrics CSVs under the output prefix and render the loss PNG, outside any transaction."""
    with deps.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        prefix = job.output_s3_uri or detail.output_s3_uri
        label = f"Llama 3.2 {job.model.upper()}"
        title = f"{job.name}: loss by step"
        sandbox = job.sandbox
    if prefix is None:
        return None, None, "no output prefix recorded, so no metrics"
    try:
        files = deps.outputs.read_files(prefix, (TRAINING_METRICS_FILE, VALIDATION_METRICS_FILE))
    except OutputsError as error:
        if error.transient:
            raise
        log.warning("metrics unreadable", extra={"job_id": job_id, "error": str(error)})
        return None, None, "metrics could not be read from the output prefix"
    curve = curve_from_csv(label, files.get(TRAINING_METRICS_FILE), files.get(VALIDATION_METRICS_FILE))
    if not curve.training and not curve.validation:
        return None, None, "no metrics files found under the output prefix"
    path = Path(deps.settings.data_dir) / "jobs" / job_id / "loss-curve.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(render_loss_curves([curve], title=title, sandbox=sandbox))
    return curve_to_json(curve), str(path), None

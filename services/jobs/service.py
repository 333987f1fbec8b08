"""The job domain's use cases: launch (idempotent, priced, guarded by the cost cap) and cancel.

One function per use case, callable from the API, the CLI, the scheduler and tests alike. Every state
change commits together with its event (outbox). Submission lives in ``submit``, following Bedrock in
``poll``, the status rules in ``model``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from services.aws.bedrock import JOB_NAME_PREFIX
from services.aws.errors import AwsError
from services.jobs import repository
from services.jobs.changes import announce, move_if
from services.jobs.deps import JobDeps, outputs_root
from services.jobs.estimate import guard_cost, plan_launch
from services.jobs.model import WAITING, JobStatus, can_cancel
from services.jobs.naming import chosen_names, dataset_stem, default_names, first_free, name_problem
from services.jobs.repository import JobFilter
from services.jobs.results import STOPPED_NOTE
from services.jobs.submit import submit_ready
from services.platform.db import unit_of_work
from services.platform.errors import Conflict, Invalid, NotFound, Unavailable
from services.platform.tables import Job, JobGroup, new_id
from services.tuning.costs import estimate_text
from services.tuning.recommend import ModelSize

log = logging.getLogger(__name__)
NAME_RACE_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class LaunchRequest:
    idempotency_key: str
    dataset_id: str
    models: tuple[ModelSize, ...]
    requested_by: str
    epochs: int | None = None
    learning_rate: float | None = None
    evaluate: bool = True
    approved_by: str | None = None
    reply_to: str | None = None  # opaque: where the caller posts the launch's story
    name: str | None = None
    sweep_id: str | None = None  # set by a learning-curve sweep, one launch per training size
    sweep_train_size: int | None = None


@dataclass(frozen=True, slots=True)
class LaunchResult:
    group_id: str
    job_ids: list[str]
    created: bool
    warnings: list[str] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)  # as they stand after the submit pass


def launch_jobs(deps: JobDeps, request: LaunchRequest) -> LaunchResult:
    """Create the group and its jobs for ``request`` once per idempotency key, then submit what fits."""
    result = _create_once(deps, request)
    submit_ready(deps)
    with deps.sessions() as session:
        result.jobs.extend(repository.jobs_by_id(session, result.job_ids))
    return result


def _create_once(deps: JobDeps, request: LaunchRequest) -> LaunchResult:
    """The group of ``request``'s key, created unless it exists. A concurrent launch may win the race for
    the key (answer with its group) or for a default name (pick the next free name and try again)."""
    for attempt in range(NAME_RACE_ATTEMPTS):
        try:
            with unit_of_work(deps.sessions) as session:
                existing = repository.group_by_key(session, request.idempotency_key)
                if existing is not None:
                    return LaunchResult(existing.id, [job.id for job in existing.jobs], created=False)
                return _create_group(session, deps, request)
        except IntegrityError:
            with deps.sessions() as session:
                existing = repository.group_by_key(session, request.idempotency_key)
                if existing is not None:
                    return LaunchResult(existing.id, [job.id for job in existing.jobs], created=False)
            if attempt == NAME_RACE_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _job_names(session: Session, request: LaunchRequest, dataset_name: str, models: list[str]) -> list[str]:
    """Unique names for the launch's jobs: the user's (checked), or free defaults from the dataset."""
    if request.name is None:
        bases = [f"{dataset_stem(dataset_name)}-{model}" for model in models]
        return default_names(dataset_name, models, repository.names_taken(session, bases))
    problem = name_problem(request.name)
    if problem is not None:
        raise Invalid("invalid_name", problem, "name")
    names = chosen_names(request.name, models)
    taken = repository.names_taken(session, names)
    clashes = [name for name in names if name in taken]
    if clashes:
        free = first_free(request.name, repository.names_taken(session, [request.name]) | taken)
        raise Conflict(
            "name_taken",
            f"name: a job called `{clashes[0]}` exists already; choose another name, e.g. `{free}`",
            "name",
        )
    return names


def _create_group(session: Session, deps: JobDeps, request: LaunchRequest) -> LaunchResult:
    settings = deps.settings
    plan = plan_launch(
        session,
        deps,
        dataset_id=request.dataset_id,
        models=request.models,
        epochs=request.epochs,
        learning_rate=request.learning_rate,
        evaluate=request.evaluate,
    )
    # Before the cap: nobody is asked to approve a launch whose name is taken.
    names = _job_names(session, request, plan.dataset_name, [job.model for job in plan.jobs])
    if settings.s3_uri is None and not deps.sandbox:
        raise Unavailable("not_configured", "set TUNEBOT_S3_URI (bucket and prefix for job outputs)")
    if settings.role_arn is None and not deps.sandbox:
        raise Unavailable("not_configured", "set TUNEBOT_ROLE_ARN (the IAM role Bedrock assumes)")
    # The cap compares the very total the estimate showed (plan_launch computes both).
    guard_cost(settings, request.approved_by, plan.total_usd)

    group = JobGroup(
        id=new_id(),
        idempotency_key=request.idempotency_key,
        dataset_id=plan.dataset_id,
        requested_by=request.requested_by,
        approved_by=request.approved_by,
        reply_to=request.reply_to,
        cost_estimate_usd=plan.total_usd,
        sweep_id=request.sweep_id,
        sweep_train_size=request.sweep_train_size,
    )
    jobs: list[Job] = []
    for planned, job_name in zip(plan.jobs, names, strict=True):
        job_id = new_id()
        jobs.append(
            Job(
                id=job_id,
                group_id=group.id,
                dataset_id=plan.dataset_id,
                model=planned.model,
                name=job_name,
                status=JobStatus.PENDING,
                requested_by=request.requested_by,
                evaluate=request.evaluate,
                sandbox=deps.sandbox,
                bedrock_job_name=f"{JOB_NAME_PREFIX}{job_id}",
                custom_model_name=f"tunebot-{planned.model}-{job_id}",
                client_request_token=job_id,
                output_s3_uri=f"{outputs_root(settings)}/jobs/{job_id}/output",
                epochs=planned.epochs,
                learning_rate=planned.learning_rate,
                recommended_epochs=planned.recommendation.epochs,
                recommended_learning_rate=planned.recommendation.learning_rate,
                cost_estimate_usd=planned.cost.total_usd,
                cost_estimate=planned.cost.model_dump(mode="json"),
            )
        )
    session.add(group)
    session.flush()
    for job in jobs:
        session.add(job)
        session.flush()
        announce(
            session,
            job,
            "job.created",
            f"{job.name}: {job.model.upper()} launch accepted, "
            f"{estimate_text(job.cost_estimate_usd, job.cost_note)}",
            epochs=job.epochs,
            learning_rate=job.learning_rate,
            recommended_epochs=job.recommended_epochs,
            recommended_learning_rate=job.recommended_learning_rate,
            cost_estimate_usd=job.cost_estimate_usd,
            cost_note=job.cost_note,
            warnings=plan.warnings,
        )
    log.info("jobs launched", extra={"group_id": group.id, "jobs": ",".join(j.id for j in jobs)})
    return LaunchResult(group.id, [job.id for job in jobs], created=True, warnings=plan.warnings)


def cancel_job(deps: JobDeps, job_id: str, requested_by: str | None = None) -> Job:
    """Cancel the job with that id or name: a waiting one at once; a running one is asked to stop on
    Bedrock (the next poll confirms it)."""
    with deps.sessions() as session:
        job = repository.job_by_ref(session, job_id)
        if job is None:
            raise NotFound("job_not_found", NO_SUCH_JOB)
        job_id, status, name = job.id, job.status, job.bedrock_job_name
    if status == JobStatus.SUBMITTING:
        raise Conflict("being_submitted", "the job is being submitted right now: cancel it again in a minute")
    if not can_cancel(status):
        raise Conflict(
            "not_cancellable", f"the job is {status}; only a waiting or training job can be cancelled"
        )
    if status == JobStatus.TRAINING:
        try:
            deps.bedrock.stop_job(name)
        except AwsError as error:
            raise Conflict("stop_refused", f"Bedrock did not stop the job: {error.message}") from None
    with unit_of_work(deps.sessions) as session:
        target = JobStatus.CANCELLED if status in WAITING else JobStatus.CANCELLING
        won = move_if(session, job_id, JobStatus(status), target)
        job = session.get(Job, job_id)
        assert job is not None
        session.refresh(job)
        if won and status in WAITING:
            announce(
                session,
                job,
                "job.cancelled",
                f"{job.name}: cancelled before it started; nothing was billed",
                cancelled_by=requested_by,
            )
        elif won and status == JobStatus.TRAINING:
            announce(
                session, job, "job.status", f"{job.name}: stopping. {STOPPED_NOTE}", cancelled_by=requested_by
            )
    return job


# --- reads ------------------------------------------------------------------------------------------

NO_SUCH_JOB = (
    "no job has that id or name: list jobs with `tunebot jobs list` (or `/finetune history` in Slack)"
)


@dataclass(frozen=True, slots=True)
class JobsPage:
    jobs: list[Job]
    next_before: str | None  # the id to pass as ``before`` for the next (older) page


def get_job(sessions: sessionmaker[Session], ref: str) -> Job:
    """The job with that id or name."""
    with sessions() as session:
        job = repository.job_by_ref(session, ref)
    if job is None:
        raise NotFound("job_not_found", NO_SUCH_JOB)
    return job


def find_jobs(
    sessions: sessionmaker[Session], where: JobFilter, limit: int, before: str | None = None
) -> JobsPage:
    with sessions() as session:
        anchor = None
        if before is not None:
            anchor = session.get(Job, before)
            if anchor is None:
                raise Invalid("invalid_request", "before: no job has that id", "before")
        rows = repository.newest_jobs(session, where, limit + 1, anchor)
    page = rows[:limit]
    return JobsPage(page, page[-1].id if len(rows) > limit else None)


def get_group(sessions: sessionmaker[Session], group_id: str) -> JobGroup:
    with sessions() as session:
        group = repository.group(session, group_id)
    if group is None:
        raise NotFound("group_not_found", "no launch has that id: it is in the launch thread's footer")
    return group


def record_status_message(sessions: sessionmaker[Session], job_id: str, reply_to: str | None) -> JobGroup:
    """Remember where the job's status message lives (on its launch group), as the edge that posted it
    encodes it: the service stores it and never reads it."""
    with unit_of_work(sessions) as session:
        job = session.get(Job, job_id)
        if job is None:
            raise NotFound("job_not_found", NO_SUCH_JOB)
        job.group.reply_to = reply_to
        group_id = job.group_id
    return get_group(sessions, group_id)


def loss_curve_file(sessions: sessionmaker[Session], job_id: str) -> Path:
    path = get_job(sessions, job_id).loss_curve_path
    if path is None or not Path(path).is_file():
        raise NotFound("no_loss_curve", "the job has no loss curve yet: it appears when training completes")
    return Path(path)


def group_chart_file(path: Path) -> Path:
    if not path.is_file():
        raise NotFound(
            "no_comparison", "the launch has no comparison yet: it appears when both sizes are evaluated"
        )
    return path


def group_id_of(sessions: sessionmaker[Session], job_id: str) -> str | None:
    with sessions() as session:
        job = session.get(Job, job_id)
        return job.group_id if job is not None else None

"""Job lifecycle (DESIGN §5): launch, submit, poll, cancel. The service layer of the job domain.

One function per use case (``launch_jobs``, ``submit_ready``, ``poll_once``, ``cancel_job``), callable
from the API, the CLI, the scheduler and tests alike. Every state change commits together with its
event (outbox). Bedrock is reached only through ``services.aws.bedrock.BedrockJobs`` and S3 only through
``services.aws.s3.JobOutputs``.

Exactly-once submission: a job's Bedrock name and ``clientRequestToken`` derive from its row id, and
the row is marked ``submitting`` (committed) before the create call. A submit pass that finds a job
still ``submitting`` (its predecessor crashed) looks the name up on Bedrock first and adopts the job
it finds, so a crash between "Bedrock accepted" and "we recorded it" never makes a second job.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from services.api.errors import ApiError
from services.aws.bedrock import (
    JOB_NAME_PREFIX,
    BedrockError,
    BedrockJobs,
    JobDetail,
    JobSpec,
    NameInUse,
    QuotaExceeded,
    TransientError,
    make_bedrock_client,
)
from services.aws.s3 import (
    TRAINING_METRICS_FILE,
    VALIDATION_METRICS_FILE,
    JobOutputs,
    OutputsError,
    make_s3_client,
)
from services.evaluation.charts import render_loss_curves
from services.jobs.results import STOPPED_NOTE, curve_from_csv, curve_to_json, failure_hint
from services.platform import leases, outbox
from services.platform.config import Settings
from services.platform.db import unit_of_work
from services.platform.tables import Dataset, Job, JobGroup, Lease, new_id, utcnow
from services.tuning.pricing import PriceTable, load_prices
from services.tuning.recommend import MODEL_SIZES, ModelSize, check_override, estimate_cost, recommend

log = logging.getLogger(__name__)

WAITING = ("pending", "queued")
ON_BEDROCK = ("training", "cancelling")
FINISHED = ("done", "failed", "cancelled")
SUBMIT_LEASE = "submit"
SUBMIT_LEASE_SECONDS = 120.0
SUBMIT_WAIT_SECONDS = 30.0
SANDBOX_ROLE_ARN = "arn:aws:iam::123456789012:role/tunebot-sandbox"


class JobsError(ApiError):
    """A job use case refused; the API answers with its status, code and message (which says what to do)."""


@dataclass(frozen=True, slots=True)
class JobDeps:
    """What the job service needs from outside: built once per process, passed to every use case."""

    sessions: sessionmaker[Session]
    bedrock: BedrockJobs
    outputs: JobOutputs
    settings: Settings
    prices: PriceTable
    owner: str
    sandbox: bool = False
    submit_lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)


def make_job_deps(
    settings: Settings,
    sessions: sessionmaker[Session],
    owner: str,
    *,
    sandbox: bool = False,
    credentials: tuple[str, str] | None = None,
) -> JobDeps:
    """The production wiring: boto3 clients for the configured region and endpoint, the price table."""
    region, endpoint = settings.aws_region, settings.aws_endpoint_url
    return JobDeps(
        sessions=sessions,
        bedrock=BedrockJobs(make_bedrock_client(region, endpoint, credentials)),
        outputs=JobOutputs(make_s3_client(region, endpoint, credentials)),
        settings=settings,
        prices=load_prices(settings.prices_file),
        owner=owner,
        sandbox=sandbox,
    )


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
    slack_channel: str | None = None
    slack_thread_ts: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class LaunchResult:
    group_id: str
    job_ids: list[str]
    created: bool
    warnings: list[str] = field(default_factory=list)


@dataclass(slots=True)
class PollReport:
    list_calls: int = 0
    get_calls: int = 0
    changed: list[str] = field(default_factory=list)
    submitted: int = 0


# --- launch -----------------------------------------------------------------------------------------


def launch_jobs(deps: JobDeps, request: LaunchRequest) -> LaunchResult:
    """Create the group and its jobs for ``request`` once per idempotency key, then submit what fits."""
    try:
        with unit_of_work(deps.sessions) as session:
            existing = _group_by_key(session, request.idempotency_key)
            result = (
                LaunchResult(existing.id, [job.id for job in existing.jobs], created=False)
                if existing is not None
                else _create_group(session, deps, request)
            )
    except IntegrityError:
        # Another request with the same key won the race: answer with its group.
        with deps.sessions() as session:
            existing = _group_by_key(session, request.idempotency_key)
            if existing is None:
                raise
            result = LaunchResult(existing.id, [job.id for job in existing.jobs], created=False)
    submit_ready(deps)
    return result


def _group_by_key(session: Session, key: str) -> JobGroup | None:
    return session.scalars(select(JobGroup).where(JobGroup.idempotency_key == key)).one_or_none()


def _create_group(session: Session, deps: JobDeps, request: LaunchRequest) -> LaunchResult:
    settings = deps.settings
    if not request.models or len(set(request.models)) != len(request.models):
        raise JobsError(422, "invalid_models", 'models: give ["11b"], ["90b"] or ["11b", "90b"]', "models")
    for model in request.models:
        if model not in MODEL_SIZES:
            raise JobsError(422, "invalid_models", f"models: {model!r} is not 11b or 90b", "models")
    dataset = session.get(Dataset, request.dataset_id)
    if dataset is None:
        raise JobsError(
            404,
            "dataset_not_found",
            "no dataset has that id: list them with `tunebot datasets list`",
            "dataset_id",
        )
    if dataset.status != "ready" or not dataset.s3_uri:
        raise JobsError(
            409,
            "dataset_not_ready",
            f"dataset {dataset.id} is {dataset.status} and not uploaded to S3: launch only a ready dataset "
            "(see its report for what to fix)",
            "dataset_id",
        )
    if settings.s3_uri is None and not deps.sandbox:
        raise JobsError(503, "not_configured", "set TUNEBOT_S3_URI (bucket and prefix for job outputs)")
    if settings.role_arn is None and not deps.sandbox:
        raise JobsError(503, "not_configured", "set TUNEBOT_ROLE_ARN (the IAM role Bedrock assumes)")

    report = dataset.report or {}
    counts = report.get("counts") or {}
    tokens = report.get("tokens") or {}
    train = int(counts.get("train", 0))
    test_records = int(counts.get("test", 0)) if request.evaluate else 0
    test_tokens = int(tokens.get("test_total", 0)) if request.evaluate else 0

    group = JobGroup(
        id=new_id(),
        idempotency_key=request.idempotency_key,
        dataset_id=dataset.id,
        requested_by=request.requested_by,
        approved_by=request.approved_by,
        slack_channel=request.slack_channel,
        slack_thread_ts=request.slack_thread_ts,
    )
    jobs: list[Job] = []
    warnings: list[str] = []
    total = 0.0
    for model in request.models:
        recommendation = recommend(train, model)
        epochs = request.epochs if request.epochs is not None else recommendation.epochs
        learning_rate = (
            request.learning_rate if request.learning_rate is not None else recommendation.learning_rate
        )
        check = check_override(epochs, learning_rate, recommendation)
        if not check.allowed:
            field_name = "epochs" if "epochs" in (check.refusal or "") else "learning_rate"
            raise JobsError(422, "out_of_range", check.refusal or "out of range", field_name)
        warnings.extend(w for w in check.warnings if w not in warnings)
        cost = estimate_cost(
            model=model,
            epochs=epochs,
            train_tokens=int(tokens.get("train_total", 0)),
            test_records=test_records,
            test_tokens=test_tokens,
            prices=deps.prices,
        )
        total += cost.total_usd
        job_id = new_id()
        jobs.append(
            Job(
                id=job_id,
                group_id=group.id,
                dataset_id=dataset.id,
                model=model,
                name=(request.name or f"{dataset.name}-{model}")[:200],
                status="pending",
                requested_by=request.requested_by,
                evaluate=request.evaluate,
                sandbox=deps.sandbox,
                bedrock_job_name=f"{JOB_NAME_PREFIX}{job_id}",
                custom_model_name=f"tunebot-{model}-{job_id}",
                client_request_token=job_id,
                output_s3_uri=f"{_outputs_root(settings)}/jobs/{job_id}/output",
                epochs=epochs,
                learning_rate=learning_rate,
                recommended_epochs=recommendation.epochs,
                recommended_learning_rate=recommendation.learning_rate,
                cost_estimate_usd=cost.total_usd,
            )
        )
    _guard_cost(settings, request.approved_by, total)
    group.cost_estimate_usd = round(total, 2)
    session.add(group)
    session.flush()
    for job in jobs:
        session.add(job)
        session.flush()
        _announce(
            session,
            job,
            "job.created",
            f"{job.name}: {job.model.upper()} launch accepted, estimated ${job.cost_estimate_usd:,.2f}",
            epochs=job.epochs,
            learning_rate=job.learning_rate,
            recommended_epochs=job.recommended_epochs,
            recommended_learning_rate=job.recommended_learning_rate,
            cost_estimate_usd=job.cost_estimate_usd,
            warnings=warnings,
        )
    log.info("jobs launched", extra={"group_id": group.id, "jobs": ",".join(j.id for j in jobs)})
    return LaunchResult(group.id, [job.id for job in jobs], created=True, warnings=warnings)


def _outputs_root(settings: Settings) -> str:
    return settings.s3_uri or "s3://tunebot-sandbox/tunebot"


def _guard_cost(settings: Settings, approved_by: str | None, total: float) -> None:
    if total <= settings.max_launch_cost_usd:
        return
    limit = f"${settings.max_launch_cost_usd:,.2f} (TUNEBOT_MAX_LAUNCH_COST_USD)"
    if approved_by is None:
        admins = ", ".join(settings.admins) or "none configured: set TUNEBOT_ADMINS"
        raise JobsError(
            403,
            "approval_required",
            f"the estimate ${total:,.2f} is above {limit}: launch again with approved_by set to an admin "
            f"({admins})",
            "approved_by",
        )
    if approved_by not in settings.admins:
        raise JobsError(
            403,
            "not_an_admin",
            f"{approved_by} is not in TUNEBOT_ADMINS, so cannot approve ${total:,.2f} above {limit}",
            "approved_by",
        )


# --- submit -----------------------------------------------------------------------------------------


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
            job = _next_to_submit(session)
            if job is None:
                return submitted
            leftover = job.status == "submitting"
            if not leftover and _busy_slots(session) >= deps.settings.max_concurrent_jobs:
                _queue_waiting(session, "all slots are in use")
                return submitted
            was = job.status
            job.status = "submitting"
            job_id = job.id
        outcome = _submit_one(deps, job_id, was)
        if outcome == "submitted":
            submitted += 1
        elif outcome == "wait":
            return submitted


def _next_to_submit(session: Session) -> Job | None:
    # Leftovers of a crashed pass first: they may already exist on Bedrock and hold a slot.
    leftover = session.scalars(
        select(Job).where(Job.status == "submitting").order_by(Job.created_at, Job.id).limit(1)
    ).first()
    if leftover is not None:
        return leftover
    return session.scalars(
        select(Job).where(Job.status.in_(WAITING)).order_by(Job.created_at, Job.id).limit(1)
    ).first()


def _busy_slots(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(Job).where(Job.status.in_((*ON_BEDROCK, "submitting")))
        )
        or 0
    )


def _queue_waiting(session: Session, reason: str) -> None:
    waiting = session.scalars(
        select(Job).where(Job.status.in_(WAITING)).order_by(Job.created_at, Job.id)
    ).all()
    for position, job in enumerate(waiting, start=1):
        if job.status == "pending":
            job.status = "queued"
            _announce(
                session,
                job,
                "job.queued",
                f"{job.name}: queued ({reason}); it starts when a running job finishes",
                position=position,
                reason=reason,
            )


def _submit_one(deps: JobDeps, job_id: str, was: str) -> str:
    """Create (or adopt) the Bedrock job of a row marked ``submitting``: "submitted", "wait" or "failed"."""
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
            output_s3_uri=job.output_s3_uri or f"{_outputs_root(deps.settings)}/jobs/{job.id}/output",
            epochs=job.epochs,
            learning_rate=job.learning_rate,
            client_request_token=job.client_request_token,
            tags={"tunebot-job": job.id, "tunebot-requested-by": job.requested_by},
        )
    # A leftover of a crashed pass may exist on Bedrock already: look before creating. A job that was
    # never attempted cannot, and one whose earlier attempt ended unsure (a timeout after Bedrock
    # accepted it) is caught by the name being in use, so fresh jobs skip the extra call.
    leftover = was == "submitting"
    try:
        if leftover:
            found = deps.bedrock.find_job(spec.job_name)
            if found is not None:
                return _adopt(deps, job_id, found, leftover)
            with unit_of_work(deps.sessions) as session:
                if _busy_slots(session) > deps.settings.max_concurrent_jobs:
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
    except BedrockError as error:
        with unit_of_work(deps.sessions) as session:
            job = session.get(Job, job_id)
            assert job is not None
            _fail(session, job, error.message or error.code)
        return "failed"
    with unit_of_work(deps.sessions) as session:
        job = session.get(Job, job_id)
        assert job is not None
        job.status = "training"
        job.bedrock_job_arn = arn
        job.bedrock_status = "InProgress"
        job.submitted_at = utcnow()
        _announce(session, job, "job.submitted", f"{job.name}: training started on Bedrock", job_arn=arn)
    return "submitted"


def _adopt(deps: JobDeps, job_id: str, found: JobDetail, leftover: bool) -> str:
    """Record a Bedrock job that exists already under our name; the next poll takes its status from there."""
    with unit_of_work(deps.sessions) as session:
        job = session.get(Job, job_id)
        assert job is not None
        job.status = "training"
        job.bedrock_job_arn = found.arn
        # Unknown to us until the next poll compares it, so a job that finished meanwhile is handled there.
        job.bedrock_status = None
        job.submitted_at = job.submitted_at or utcnow()
        _announce(
            session, job, "job.submitted", f"{job.name}: training on Bedrock", job_arn=found.arn, adopted=True
        )
    log.info("bedrock job adopted", extra={"job_id": job_id, "leftover": leftover})
    return "submitted"


def _back_to_queue(session: Session, job_id: str, was: str, reason: str) -> None:
    job = session.get(Job, job_id)
    assert job is not None
    if was == "queued":
        job.status = "queued"  # announced when it was first queued; a retry is not news
        return
    job.status = "pending"  # _queue_waiting announces it, with its place in launch order
    session.flush()
    _queue_waiting(session, reason)


def _fail(session: Session, job: Job, message: str) -> None:
    job.status = "failed"
    job.failure_message = message
    job.failure_hint = failure_hint(message)
    job.finished_at = utcnow()
    _announce(
        session,
        job,
        "job.failed",
        f"{job.name}: failed: {message}",
        failure_message=message,
        failure_hint=job.failure_hint,
    )


# --- poll -------------------------------------------------------------------------------------------


def poll_once(deps: JobDeps) -> PollReport:
    """One tick: list tunebot's jobs page by page, Get only the ones that changed, then fill free slots."""
    report = _follow_active(deps)
    report.submitted = submit_ready(deps)
    return report


def _follow_active(deps: JobDeps) -> PollReport:
    report = PollReport()
    with deps.sessions() as session:
        rows = session.execute(
            select(Job.id, Job.bedrock_job_name, Job.bedrock_status).where(Job.status.in_(ON_BEDROCK))
        ).all()
    active = {name: (job_id, status) for job_id, name, status in rows}
    if not active:
        return report
    seen: dict[str, str] = {}
    for page in deps.bedrock.list_jobs(JOB_NAME_PREFIX):
        report.list_calls += 1
        seen.update({summary.name: summary.status for summary in page if summary.name in active})
        if len(seen) == len(active):
            break  # newest first: every active job is on the pages read so far
    for name, (job_id, previous) in active.items():
        if name in seen and seen[name] == previous:
            continue
        report.get_calls += 1
        try:
            detail = deps.bedrock.get_job(name)
        except BedrockError as error:
            log.warning("job status unavailable", extra={"job_id": job_id, "code": error.code})
            continue
        if detail.status != previous and _apply(deps, job_id, previous, detail):
            report.changed.append(job_id)
    return report


def _apply(deps: JobDeps, job_id: str, previous: str | None, detail: JobDetail) -> bool:
    """Record Bedrock's new status once: the guarded UPDATE lets only one replica win the change."""
    metrics: dict[str, Any] | None = None
    png_path: str | None = None
    note: str | None = None
    if detail.status == "Completed":
        metrics, png_path, note = _collect_results(deps, job_id, detail)
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
            job.status = "evaluating" if job.evaluate else "done"
            job.finished_at = utcnow()
            job.metrics = metrics
            job.loss_curve_path = png_path
            summary = metrics or {}
            _announce(
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
            _fail(session, job, detail.failure_message or "Bedrock gave no failure message")
        elif detail.status == "Stopped":
            job.status = "cancelled"
            job.finished_at = utcnow()
            _announce(session, job, "job.cancelled", f"{job.name}: stopped. {STOPPED_NOTE}")
        elif detail.status == "Stopping" and job.status != "cancelling":
            job.status = "cancelling"
            _announce(session, job, "job.status", f"{job.name}: stopping. {STOPPED_NOTE}")
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
        log.warning("metrics unreadable", extra={"job_id": job_id, "error": str(error)})
        return None, None, "metrics could not be read from the output prefix"
    curve = curve_from_csv(label, files.get(TRAINING_METRICS_FILE), files.get(VALIDATION_METRICS_FILE))
    if not curve.training and not curve.validation:
        return None, None, "no metrics files found under the output prefix"
    path = Path(deps.settings.data_dir) / "jobs" / job_id / "loss-curve.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(render_loss_curves([curve], title=title, sandbox=sandbox))
    return curve_to_json(curve), str(path), None


# --- cancel -----------------------------------------------------------------------------------------


def cancel_job(deps: JobDeps, job_id: str, requested_by: str | None = None) -> Job:
    """Cancel a waiting job at once, or ask Bedrock to stop a running one (the next poll confirms it)."""
    with deps.sessions() as session:
        job = session.get(Job, job_id)
        if job is None:
            raise JobsError(404, "job_not_found", "no job has that id: list them with `tunebot jobs list`")
        status, name = job.status, job.bedrock_job_name
    if status in FINISHED or status == "evaluating":
        raise JobsError(
            409, "not_cancellable", f"the job is {status}; only a waiting or training job can be cancelled"
        )
    if status == "submitting":
        raise JobsError(
            409, "submitting", "the job is being submitted right now: cancel it again in a minute"
        )
    if status == "training":
        try:
            deps.bedrock.stop_job(name)
        except BedrockError as error:
            raise JobsError(409, "stop_refused", f"Bedrock did not stop the job: {error.message}") from None
    with unit_of_work(deps.sessions) as session:
        won = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == status)
            .values(status="cancelled" if status in WAITING else "cancelling")
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        job = session.get(Job, job_id)
        assert job is not None
        session.refresh(job)
        if won and status in WAITING:
            job.finished_at = utcnow()
            _announce(
                session,
                job,
                "job.cancelled",
                f"{job.name}: cancelled before it started; nothing was billed",
                cancelled_by=requested_by,
            )
        elif won and status == "training":
            _announce(
                session, job, "job.status", f"{job.name}: stopping. {STOPPED_NOTE}", cancelled_by=requested_by
            )
    return job


# --- events -----------------------------------------------------------------------------------------


def _announce(session: Session, job: Job, type_: str, message: str, **extra: Any) -> None:
    """Record the event of a change to ``job`` in the caller's transaction; sandbox events say so."""
    outbox.announce(
        session, type_, job.id, message, sandbox=job.sandbox,
        job_id=job.id, group_id=job.group_id, model=job.model, name=job.name, status=job.status, **extra,
    )  # fmt: skip

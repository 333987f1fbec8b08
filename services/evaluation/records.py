"""A job's two Evaluation rows: created once, leased, completed or failed, each change with its event.

The runner's bookkeeping, apart from its orchestration: which evaluations a job has (one per variant,
even when two replicas race), who holds them (row leases, so two replicas never work on one), the
scores written with the ``evaluation.completed`` event (and the job finished when both variants are
in), and a failure recorded as final (evaluation and job failed, ``evaluation.failed``) or retryable
(answers kept, the next try after a cool-down). This module changes when the rows, their statuses or
the events' wording change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from services.evaluation.model import EvaluationStatus
from services.evaluation.testset import DatasetLocation
from services.jobs.changes import ends_launch, move_if
from services.jobs.model import JobStatus
from services.platform import outbox
from services.platform.db import unit_of_work
from services.platform.tables import Dataset, Evaluation, EvaluationExample, Job, utcnow

BASE = "base"
FINE_TUNED = "fine_tuned"
VARIANTS = (BASE, FINE_TUNED)


@dataclass(frozen=True, slots=True)
class JobSnapshot:
    id: str
    group_id: str
    model: str
    name: str
    status: str
    sandbox: bool
    output_model_arn: str | None
    location: DatasetLocation


@dataclass(frozen=True, slots=True)
class EvaluationSummary:
    variant: str
    f1: float
    exact_match: float
    count: int
    missing: int
    cost_usd: float | None


def snapshot_job(session: Session, job_id: str) -> JobSnapshot | None:
    job = session.get(Job, job_id)
    if job is None:
        return None
    dataset = session.get(Dataset, job.dataset_id)
    report = (dataset.report or {}) if dataset is not None else {}
    out_dir = report.get("out_dir")
    return JobSnapshot(
        id=job.id,
        group_id=job.group_id,
        model=job.model,
        name=job.name,
        status=job.status,
        sandbox=job.sandbox,
        output_model_arn=job.output_model_arn,
        location=DatasetLocation(
            dataset_id=job.dataset_id,
            local_dir=Path(out_dir) if isinstance(out_dir, str) and out_dir else None,
            s3_uri=dataset.s3_uri if dataset is not None else None,
        ),
    )


def ensure_rows(sessions: sessionmaker[Session], job_id: str) -> dict[str, str]:
    """The job's two Evaluation rows (created once, even when two replicas race), by variant."""
    with unit_of_work(sessions) as session:
        existing = {
            row.variant: row.id
            for row in session.scalars(select(Evaluation).where(Evaluation.job_id == job_id))
        }
        for variant in VARIANTS:
            if variant not in existing:
                try:
                    with session.begin_nested():
                        row = Evaluation(job_id=job_id, variant=variant)
                        session.add(row)
                    existing[variant] = row.id
                except IntegrityError:
                    pass
    with sessions() as session:
        return {
            row.variant: row.id
            for row in session.scalars(select(Evaluation).where(Evaluation.job_id == job_id))
        }


def claim_rows(
    sessions: sessionmaker[Session], evaluation_ids: list[str], owner: str, seconds: float
) -> bool:
    """Lease every unfinished evaluation of the job to ``owner``; False (and nothing held) if one is taken."""
    now = utcnow()
    with unit_of_work(sessions) as session:
        for evaluation_id in evaluation_ids:
            won = session.execute(
                update(Evaluation)
                .where(
                    Evaluation.id == evaluation_id,
                    Evaluation.status != EvaluationStatus.DONE,
                    # Free, ours, or expired; a lease without an owner is a retry's cool-down.
                    or_(
                        Evaluation.lease_expires_at.is_(None),
                        Evaluation.lease_owner == owner,
                        Evaluation.lease_expires_at < now,
                    ),
                )
                .values(
                    lease_owner=owner,
                    lease_expires_at=now + timedelta(seconds=seconds),
                    status=EvaluationStatus.RUNNING,
                )
                .execution_options(synchronize_session=False)
            ).rowcount  # type: ignore[attr-defined]
            if not won:
                session.rollback()
                return False
        session.execute(
            update(Evaluation)
            .where(Evaluation.id.in_(evaluation_ids), Evaluation.started_at.is_(None))
            .values(started_at=now)
            .execution_options(synchronize_session=False)
        )
    return True


def release_rows(sessions: sessionmaker[Session], evaluation_ids: list[str], owner: str) -> None:
    with unit_of_work(sessions) as session:
        session.execute(
            update(Evaluation)
            .where(Evaluation.id.in_(evaluation_ids), Evaluation.lease_owner == owner)
            .values(lease_owner=None, lease_expires_at=None)
            .execution_options(synchronize_session=False)
        )


EVALUATION_FAILED_HINT = "the fine-tuned model itself is fine; fix the cause and evaluate again"


def _announce(session: Session, job: JobSnapshot, type_: str, message: str, **extra: Any) -> None:
    if ends_launch(session, type_, job.group_id):
        extra["launch_ended"] = True
    outbox.announce(
        session, type_, job.id, message, sandbox=job.sandbox,
        job_id=job.id, group_id=job.group_id, model=job.model, name=job.name, **extra,
    )  # fmt: skip


def _aggregate(session: Session, evaluation_id: str, test_count: int) -> tuple[float, float, int]:
    """(F1, EM) in 0–100 over the whole test set, and how many examples have no answer."""
    stored, f1_sum, exact_sum, answered = session.execute(
        select(
            func.count(EvaluationExample.id),
            func.coalesce(func.sum(EvaluationExample.f1), 0.0),
            func.coalesce(func.sum(EvaluationExample.exact_match), 0.0),
            func.coalesce(func.sum(case((EvaluationExample.prediction.is_not(None), 1), else_=0)), 0),
        ).where(EvaluationExample.evaluation_id == evaluation_id)
    ).one()
    count = max(test_count, int(stored))
    if count == 0:
        return 0.0, 0.0, 0
    # A missing prediction scores 0, as in the official script: the mean is over every example.
    return 100 * float(f1_sum) / count, 100 * float(exact_sum) / count, count - int(answered)


def _size_label(model: str) -> str:
    return model.upper()


def complete_variant(
    sessions: sessionmaker[Session],
    job: JobSnapshot,
    evaluation_id: str,
    test_count: int,
    cost_of: Callable[[Evaluation], float | None],
) -> EvaluationSummary:
    """Write the scores and the ``evaluation.completed`` event together; finish the job when both are in."""
    with unit_of_work(sessions) as session:
        row = session.get(Evaluation, evaluation_id)
        assert row is not None
        f1, exact, missing = _aggregate(session, evaluation_id, test_count)
        row.f1, row.exact_match, row.count, row.missing = f1, exact, test_count, missing
        row.cost_usd = cost_of(row)
        row.status, row.finished_at, row.error = EvaluationStatus.DONE, utcnow(), None
        row.lease_owner, row.lease_expires_at = None, None
        others = session.scalars(
            select(Evaluation).where(Evaluation.job_id == job.id, Evaluation.id != evaluation_id)
        ).all()
        job_done = all(other.status == EvaluationStatus.DONE for other in others)
        if job_done:
            move_if(session, job.id, JobStatus.EVALUATING, JobStatus.DONE)
        missing_note = f"; {missing} without an answer (scored 0)" if missing else ""
        cost_note = f"; evaluation cost ≈ ${row.cost_usd:,.2f}" if row.cost_usd is not None else ""
        if row.variant == BASE:
            message = (
                f"{job.name}: base Llama 3.2 {_size_label(job.model)} (prompt-optimised baseline) scored "
                f"F1 {f1:.1f}, EM {exact:.1f} on {test_count} test examples{missing_note}{cost_note}"
            )
        else:
            base = next(
                (
                    other
                    for other in others
                    if other.variant == BASE and other.status == EvaluationStatus.DONE
                ),
                None,
            )
            versus = (
                f" vs base {base.f1:.1f} ({f1 - base.f1:+.1f} points)"
                if base is not None and base.f1 is not None
                else ""
            )
            message = (
                f"{job.name}: fine-tuned model scored F1 {f1:.1f}{versus}, EM {exact:.1f} on {test_count} "
                f"test examples{missing_note}{cost_note}; its Provisioned Throughput is deleted"
            )
        _announce(
            session,
            job,
            "evaluation.completed",
            message,
            status=JobStatus.DONE if job_done else JobStatus.EVALUATING,
            evaluation_id=evaluation_id,
            variant=row.variant,
            metric="SQuAD v1.1",
            f1=f1,
            exact_match=exact,
            count=test_count,
            missing=missing,
            input_tokens=row.input_tokens,
            output_tokens=row.output_tokens,
            cost_usd=row.cost_usd,
        )
        return EvaluationSummary(row.variant, f1, exact, test_count, missing, row.cost_usd)


def record_failure(
    sessions: sessionmaker[Session],
    job: JobSnapshot,
    evaluation_ids: dict[str, str],
    error: BaseException,
    final: bool,
    owner: str,
    cooldown_seconds: float,
) -> None:
    """A final failure fails the evaluation and the job (with an event); a retryable one waits for the
    next run with its answers kept."""
    text = str(error)
    with unit_of_work(sessions) as session:
        rows = [
            row for row in (session.get(Evaluation, i) for i in evaluation_ids.values()) if row is not None
        ]
        for row in rows:
            if row.status == EvaluationStatus.DONE or row.lease_owner != owner:
                continue
            row.error = text
            row.status = EvaluationStatus.FAILED if final else EvaluationStatus.PENDING
            if final:
                row.finished_at = utcnow()
            else:
                row.lease_owner, row.lease_expires_at = None, utcnow() + timedelta(seconds=cooldown_seconds)
        if not final:
            return
        move_if(
            session,
            job.id,
            JobStatus.EVALUATING,
            JobStatus.FAILED,
            failure_message=f"evaluation failed: {text}",
            failure_hint=EVALUATION_FAILED_HINT,
        )
        _announce(
            session,
            job,
            "evaluation.failed",
            f"{job.name}: evaluation failed — {text}. Its Provisioned Throughput was deleted.",
            status=JobStatus.FAILED,
            error=text,
        )


def read_summaries(sessions: sessionmaker[Session], rows: dict[str, str]) -> list[EvaluationSummary]:
    with sessions() as session:
        summaries = []
        for variant in VARIANTS:
            row = session.get(Evaluation, rows[variant])
            assert row is not None and row.f1 is not None and row.exact_match is not None
            summaries.append(
                EvaluationSummary(variant, row.f1, row.exact_match, row.count, row.missing, row.cost_usd)
            )
        return summaries

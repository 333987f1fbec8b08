"""The 11B-vs-90B comparison of a launch group, built once both jobs' evaluations are done.

Reads the per-example rows of the four evaluations (base and fine-tuned, per size), the jobs' costs
and training times, hands them to the pure ``compare_sizes``, stores the result on the group, renders
the chart, and records ``group.compared`` in the same transaction as the stored comparison.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.evaluation.charts import render_comparison_chart, render_loss_curves
from services.evaluation.compare import compare_sizes
from services.evaluation.comparison import ExampleOutcome, ModelSize, SizeComparison, SizeEvaluation
from services.evaluation.model import EvaluationStatus
from services.evaluation.records import BASE, FINE_TUNED
from services.evaluation.testset import (
    TEST_FILE,
    DatasetLocation,
    HeldOutExample,
    dataset_files,
    read_test_examples,
)
from services.evaluation.verdict import render_comparison_text
from services.jobs.results import curve_from_json
from services.platform import outbox
from services.platform.config import Settings
from services.platform.db import unit_of_work
from services.platform.labels import SANDBOX_LABEL
from services.platform.tables import Dataset, Evaluation, EvaluationExample, Job, JobGroup

log = logging.getLogger(__name__)

SIZES = {"11b": ModelSize.SMALL, "90b": ModelSize.LARGE}
TestExamplesLoader = Callable[[Settings, DatasetLocation], Sequence[HeldOutExample]]


def comparison_chart_path(settings: Settings, group_id: str) -> Path:
    """Where a group's comparison chart is written (the API and the bot can find it from the id)."""
    return Path(settings.data_dir) / "groups" / group_id / "comparison.png"


def loss_curves_path(settings: Settings, group_id: str) -> Path:
    """Where both sizes' loss curves, drawn on one plot, are written."""
    return Path(settings.data_dir) / "groups" / group_id / "loss-curves.png"


def load_test_examples(settings: Settings, location: DatasetLocation) -> Sequence[HeldOutExample]:
    return read_test_examples(dataset_files(settings, location).lines(TEST_FILE))


def _outcomes(
    session: Session, evaluation_id: str, examples: Mapping[str, HeldOutExample]
) -> tuple[ExampleOutcome, ...]:
    rows = session.scalars(
        select(EvaluationExample)
        .where(EvaluationExample.evaluation_id == evaluation_id)
        .order_by(EvaluationExample.example_id)
    )
    outcomes = []
    for row in rows:
        example = examples.get(row.example_id)
        outcomes.append(
            ExampleOutcome(
                example_id=row.example_id,
                f1=row.f1,
                exact_match=row.exact_match,
                prediction=row.prediction or "",
                question=example.question if example else "",
                references=example.references if example else (),
            )
        )
    return tuple(outcomes)


def _size_evaluation(
    session: Session, job: Job, evaluations: Mapping[str, Evaluation], examples: Mapping[str, HeldOutExample]
) -> SizeEvaluation:
    billed = [evaluations[variant].cost_usd for variant in (BASE, FINE_TUNED)]
    seconds = (
        (job.finished_at - job.submitted_at).total_seconds()
        if job.finished_at is not None and job.submitted_at is not None
        else None
    )
    training, evaluation = estimate_parts(job)
    return SizeEvaluation(
        size=SIZES[job.model],
        base=_outcomes(session, evaluations[BASE].id, examples),
        fine_tuned=_outcomes(session, evaluations[FINE_TUNED].id, examples),
        training_cost_usd=training,
        evaluation_cost_usd=evaluation,
        evaluation_billed_usd=(
            None if any(cost is None for cost in billed) else round(sum(c or 0.0 for c in billed), 2)
        ),
        cost_note=job.cost_note,
        training_seconds=max(seconds, 0.0) if seconds is not None else None,
    )


def launch_name(jobs: Mapping[str, Job]) -> str:
    """The launch's name: its jobs' shared name, without the size each job's default name ends with."""
    names = sorted({job.name.removesuffix(f"-{job.model}") for job in jobs.values()})
    return " + ".join(names)


def estimate_parts(job: Job) -> tuple[float | None, float | None]:
    """The job's launch estimate as (training and storage, evaluation); they add up to the estimate.

    The evaluation is already inside the estimate: adding the evaluation's own cost to the estimate
    would count it twice. A job launched before estimates were stored in parts counts it all as training.
    """
    if job.cost_estimate_usd is None:
        return None, None
    evaluation = float((job.cost_estimate or {}).get("evaluation_usd") or 0.0)
    return round(job.cost_estimate_usd - evaluation, 2), evaluation


def _ready_jobs(
    session: Session, group_id: str
) -> tuple[dict[str, Job], dict[str, dict[str, Evaluation]]] | None:
    """The group's 11B and 90B jobs and their evaluations, or None while any is missing or unfinished."""
    jobs = {job.model: job for job in session.scalars(select(Job).where(Job.group_id == group_id))}
    if set(jobs) != set(SIZES):
        return None
    evaluations: dict[str, dict[str, Evaluation]] = {}
    for model, job in jobs.items():
        rows = {
            row.variant: row for row in session.scalars(select(Evaluation).where(Evaluation.job_id == job.id))
        }
        if any(
            rows.get(variant) is None or rows[variant].status != EvaluationStatus.DONE
            for variant in (BASE, FINE_TUNED)
        ):
            return None
        evaluations[model] = rows
    return jobs, evaluations


def compare_group(
    sessions: sessionmaker[Session],
    settings: Settings,
    group_id: str,
    *,
    test_examples: TestExamplesLoader = load_test_examples,
) -> SizeComparison | None:
    """Build, store, chart and announce the group's comparison once; None until both sizes are evaluated.

    Calling it again returns the stored comparison without a second event, so the lead may call it
    whenever either job of the group finishes.
    """
    with sessions() as session:
        group = session.get(JobGroup, group_id)
        if group is None:
            return None
        if group.comparison is not None:
            return SizeComparison.model_validate(group.comparison)
        ready = _ready_jobs(session, group_id)
        if ready is None:
            return None
        dataset = session.get(Dataset, group.dataset_id)
        report = (dataset.report or {}) if dataset is not None else {}
        out_dir = report.get("out_dir")
        location = DatasetLocation(
            dataset_id=group.dataset_id,
            local_dir=Path(out_dir) if isinstance(out_dir, str) and out_dir else None,
            s3_uri=dataset.s3_uri if dataset is not None else None,
        )
    try:
        examples = {example.id: example for example in test_examples(settings, location)}
    except Exception as error:
        # Questions and references only decorate the disagreements; the scores do not need them.
        log.warning(
            "test examples unreadable for the comparison", extra={"group_id": group_id, "error": str(error)}
        )
        examples = {}
    with sessions() as session:
        ready = _ready_jobs(session, group_id)
        assert ready is not None
        jobs, evaluations = ready
        sandbox = any(job.sandbox for job in jobs.values())
        comparison = compare_sizes(
            _size_evaluation(session, jobs["11b"], evaluations["11b"], examples),
            _size_evaluation(session, jobs["90b"], evaluations["90b"], examples),
            sandbox=sandbox,
        )
    chart = comparison_chart_path(settings, group_id)
    chart.parent.mkdir(parents=True, exist_ok=True)
    chart.write_bytes(render_comparison_chart(comparison))
    curves = [
        curve_from_json(f"Llama 3.2 {size.upper()}", jobs[size].metrics or {}) for size in ("11b", "90b")
    ]
    if any(curve.training for curve in curves):
        loss_curves_path(settings, group_id).write_bytes(
            render_loss_curves(curves, title="11B and 90B: loss by step", sandbox=sandbox)
        )
    with unit_of_work(sessions) as session:
        group = session.get(JobGroup, group_id, with_for_update=True)
        assert group is not None
        if group.comparison is not None:
            return SizeComparison.model_validate(group.comparison)  # another replica was first
        group.comparison = comparison.model_dump(mode="json")
        payload = {
            "group_id": group_id,
            # What the bot names the uploaded charts after: the launch, not its id.
            "name": launch_name(jobs),
            "message": render_comparison_text(comparison),
            "verdict": comparison.verdict,
            "chart_path": str(chart),
            "launch_ended": True,  # a pair's comparison is the last thing its launch does
        }
        if sandbox:
            payload["sandbox"] = SANDBOX_LABEL
        outbox.record(session, "group.compared", group_id, **payload)
    return comparison

"""The sweep's end: once every job is final, the curves, the verdict and the chart, announced once.

A scheduled tick (``finish_sweeps``) reads each running sweep's jobs. While any is not final it waits.
Then it reads the per-example F1 of every evaluated job (the fine-tuned model) and of each model size's
base model (from the smallest size's job: every job's base evaluation scores the same base model on
the same test set), fits the curves (``curve.fit_curves``), decides the verdict (``verdict.decide``)
with the next steps priced by the one cost model, renders the chart, and stores all of it with the
``sweep.finished`` event in one transaction, guarded so only one replica ever announces it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.evaluation.model import EvaluationStatus
from services.evaluation.records import BASE, FINE_TUNED
from services.jobs.model import FINAL, JobStatus
from services.platform import outbox
from services.platform.config import Settings
from services.platform.db import unit_of_work
from services.platform.labels import SANDBOX_LABEL
from services.platform.tables import Dataset, Evaluation, EvaluationExample, Job, JobGroup, Sweep, utcnow
from services.sweeps.charts import render_sweep_chart
from services.sweeps.curve import Cell, fit_curves
from services.sweeps.deps import SweepDeps
from services.sweeps.model import JobOutcome, SweepStatus, sweep_status
from services.sweeps.plan import candidate_costs
from services.sweeps.service import stop_cancelled_jobs
from services.sweeps.verdict import decide

log = logging.getLogger(__name__)


def sweep_chart_path(settings: Settings, sweep_id: str) -> Path:
    """Where a sweep's learning-curve chart is written (the API finds it from the id)."""
    return Path(settings.data_dir) / "sweeps" / sweep_id / "learning-curve.png"


def finish_sweeps(deps: SweepDeps) -> list[str]:
    """Finish every running sweep whose jobs all ended; stop what a cancelled sweep left. Ids finished."""
    with deps.jobs.sessions() as session:
        running = list(session.scalars(select(Sweep.id).where(Sweep.status == SweepStatus.RUNNING)))
        cancelled = list(
            session.scalars(
                select(Sweep.id)
                .join(JobGroup, JobGroup.sweep_id == Sweep.id)
                .join(Job, Job.group_id == JobGroup.id)
                .where(Sweep.status == SweepStatus.CANCELLED, Job.status.not_in(FINAL))
                .distinct()
            )
        )
    for sweep_id in cancelled:
        stop_cancelled_jobs(deps, sweep_id)
    finished = []
    for sweep_id in running:
        try:
            if finish_one(deps, sweep_id):
                finished.append(sweep_id)
        except Exception:  # one sweep's bug must not stop the others: it is retried on the next tick
            log.exception("sweep could not be finished", extra={"sweep_id": sweep_id})
    return finished


def _evaluations(session: Session, job_id: str) -> dict[str, Evaluation]:
    return {
        row.variant: row for row in session.scalars(select(Evaluation).where(Evaluation.job_id == job_id))
    }


def _scores(session: Session, evaluation_id: str) -> dict[str, float]:
    rows = session.execute(
        select(EvaluationExample.example_id, EvaluationExample.f1).where(
            EvaluationExample.evaluation_id == evaluation_id
        )
    )
    return {example_id: float(f1) for example_id, f1 in rows}


def finish_one(deps: SweepDeps, sweep_id: str) -> bool:
    """Build and announce the sweep's outcome if every job ended; False while it is still running."""
    with deps.jobs.sessions() as session:
        sweep = session.get(Sweep, sweep_id)
        if sweep is None or sweep.status != SweepStatus.RUNNING:
            return False
        groups = list(session.scalars(select(JobGroup).where(JobGroup.sweep_id == sweep_id)))
        if {group.sweep_train_size for group in groups} != set(sweep.sizes):
            return False  # still launching
        outcomes: list[JobOutcome] = []
        cells: list[Cell] = []
        base: dict[str, dict[str, float]] = {}
        for group in sorted(groups, key=lambda row: row.sweep_train_size or 0):
            size = group.sweep_train_size or 0
            for job in session.scalars(select(Job).where(Job.group_id == group.id)):
                rows = _evaluations(session, job.id)
                evaluated = all(
                    rows.get(variant) is not None and rows[variant].status == EvaluationStatus.DONE
                    for variant in (BASE, FINE_TUNED)
                )
                outcomes.append(JobOutcome(job.model, size, JobStatus(job.status), evaluated))
                if job.status == JobStatus.DONE and evaluated:
                    cells.append(
                        Cell(model=job.model, train_size=size, scores=_scores(session, rows[FINE_TUNED].id))
                    )
                    # The base model is the same at every size: its smallest size's run stands for it.
                    base.setdefault(job.model, _scores(session, rows[BASE].id))
        status = sweep_status(outcomes)
        if status == SweepStatus.RUNNING:
            return False
        dataset = session.get(Dataset, sweep.dataset_id)
        report = dict(dataset.report or {}) if dataset is not None else {}
        name = dataset.name if dataset is not None else sweep.dataset_id
        models, sizes, sandbox = list(sweep.models), list(sweep.sizes), sweep.sandbox
    result: dict[str, Any] = {"jobs": len(outcomes), "evaluated": len(cells)}
    lines: list[str]
    if status == SweepStatus.EVALUATED:
        try:
            fit, bootstrap = fit_curves(cells, base)
        except ValueError as error:
            status, lines = SweepStatus.FAILED, [f"no curve could be drawn: {error}"]
        else:
            verdict = decide(
                fit, bootstrap, candidate_costs(report, models, sizes, deps.jobs.prices), sandbox=sandbox
            )
            chart = sweep_chart_path(deps.jobs.settings, sweep_id)
            chart.parent.mkdir(parents=True, exist_ok=True)
            chart.write_bytes(render_sweep_chart(fit, verdict, title=f"{name}: F1 by training size"))
            result |= {"fit": fit.model_dump(mode="json"), "verdict": verdict.model_dump(mode="json")}
            lines = [line for line in verdict.lines if line != SANDBOX_LABEL]
    else:
        lines = [
            "no job of the sweep was evaluated, so there is no curve: see each job's status for why "
            f"(`tunebot sweeps show {sweep_id}`)"
        ]
    result["lines"] = lines
    with unit_of_work(deps.jobs.sessions) as session:
        won = session.execute(
            update(Sweep)
            .where(Sweep.id == sweep_id, Sweep.status == SweepStatus.RUNNING)
            .values(status=status, result=result, finished_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        if not won:
            return False  # cancelled meanwhile, or another replica finished it first
        outbox.announce(
            session, "sweep.finished", sweep_id, f"sweep of {name} ended:\n" + "\n".join(lines),
            sandbox=sandbox, sweep_id=sweep_id, name=name, status=status, lines=lines,
            headline=(result.get("verdict") or {}).get("headline"),
        )  # fmt: skip
    log.info("sweep finished", extra={"sweep_id": sweep_id, "status": str(status)})
    return True

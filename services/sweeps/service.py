"""The sweep use cases: estimate, start (idempotent, priced as a whole, guarded by the cost cap), cancel.

A sweep is one launch group per training size, each made by the job service's own launch use case
(``services.jobs.service.launch_jobs``) on that size's subset dataset: the same idempotency, the same
queue within Bedrock's concurrency quota, the same size rules for epochs and learning rate. The whole
sweep's estimate is shown first and compared with the cap once, as a launch's is.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from services.datasets.service import ready_dataset
from services.jobs.estimate import chosen_models, guard_cost, refuse_sizes_the_data_does_not_fit
from services.jobs.model import can_cancel
from services.jobs.service import LaunchRequest, cancel_job, launch_jobs
from services.platform import outbox
from services.platform.db import unit_of_work
from services.platform.errors import Conflict, DomainError, Invalid, NotFound
from services.platform.tables import Dataset, Job, JobGroup, Sweep, new_id
from services.sweeps.deps import SweepDeps
from services.sweeps.model import DEFAULT_SEED, SweepPlanError, SweepStatus, resolve_sizes
from services.sweeps.plan import PlannedCell, plan_cells, train_records
from services.sweeps.subsets import Parent, ensure_subsets
from services.tuning.costs import estimate_text
from services.tuning.recommend import MODEL_SIZES, ModelSize

log = logging.getLogger(__name__)

NO_SUCH_SWEEP = "no sweep has that id: it is in the sweep's thread, or in `tunebot jobs sweep`'s output"


@dataclass(frozen=True, slots=True)
class SweepPlan:
    dataset_id: str
    dataset_name: str
    train_records: int
    test_records: int
    sizes: tuple[int, ...]
    models: tuple[ModelSize, ...]
    cells: list[PlannedCell]
    total_usd: float
    note: str | None
    cost_cap_usd: float
    sandbox: bool

    @property
    def approval_required(self) -> bool:
        return self.total_usd > self.cost_cap_usd


@dataclass(frozen=True, slots=True)
class SweepRequest:
    idempotency_key: str
    dataset_id: str
    sizes: tuple[int | str, ...]
    models: tuple[str, ...]
    requested_by: str
    approved_by: str | None = None
    reply_to: str | None = None  # opaque: where the caller posts the sweep's story
    seed: int = DEFAULT_SEED


@dataclass(frozen=True, slots=True)
class SweepCell:
    train_size: int
    model: str
    dataset_id: str
    job: Job


@dataclass(frozen=True, slots=True)
class SweepView:
    sweep: Sweep
    dataset_name: str
    cells: list[SweepCell] = field(default_factory=list)
    created: bool = False


def _plan(
    session: Session, deps: SweepDeps, dataset_id: str, sizes: Sequence[int | str], models: Sequence[str]
) -> tuple[SweepPlan, Dataset]:
    chosen = tuple(sorted(chosen_models(models), key=MODEL_SIZES.index))
    dataset = ready_dataset(session, dataset_id)
    report = dict(dataset.report or {})
    refuse_sizes_the_data_does_not_fit(report, chosen)
    try:
        resolved = resolve_sizes(sizes, train_records(report))
    except SweepPlanError as error:
        raise Invalid("invalid_sizes", error.message, error.field) from None
    cells = plan_cells(report, resolved, chosen, deps.jobs.prices)
    plan = SweepPlan(
        dataset_id=dataset.id,
        dataset_name=dataset.name,
        train_records=train_records(report),
        test_records=int((report.get("counts") or {}).get("test", 0)),
        sizes=resolved,
        models=chosen,
        cells=cells,
        total_usd=round(sum(cell.cost.total_usd for cell in cells), 2),
        note=next((cell.cost.note for cell in cells if cell.cost.note), None),
        cost_cap_usd=deps.jobs.settings.max_launch_cost_usd,
        sandbox=deps.jobs.sandbox,
    )
    return plan, dataset


def estimate_sweep(
    deps: SweepDeps, dataset_id: str, sizes: Sequence[int | str], models: Sequence[str]
) -> SweepPlan:
    """What the sweep would run and cost, per job and in total. Nothing is stored or billed."""
    with deps.jobs.sessions() as session:
        return _plan(session, deps, dataset_id, sizes, models)[0]


def start_sweep(deps: SweepDeps, request: SweepRequest) -> SweepView:
    """Create the sweep once per idempotency key: its subsets first, then the row, then one launch per
    training size. A retry with the same key answers with the same sweep and finishes what is missing."""
    with deps.jobs.sessions() as session:
        existing = session.scalars(
            select(Sweep).where(Sweep.idempotency_key == request.idempotency_key)
        ).first()
        dataset_id = existing.dataset_id if existing is not None else request.dataset_id
        dataset = session.get(Dataset, dataset_id)
        parent = (
            Parent(dataset.id, dataset.name, dataset.s3_uri, dataset.format, dict(dataset.report or {}))
            if dataset is not None
            else None
        )
        plan = (
            None
            if existing is not None
            else _plan(session, deps, dataset_id, request.sizes, request.models)[0]
        )
    created = False
    if existing is not None:
        sweep_id = existing.id
    else:
        assert plan is not None and parent is not None
        # The cap compares the very total the estimate showed, as for a launch.
        guard_cost(deps.jobs.settings, request.approved_by, plan.total_usd)
        sweep_id = new_id()
        ensure_subsets(
            deps, parent, sweep_id=sweep_id, sweep_key=request.idempotency_key, sizes=plan.sizes,
            seed=request.seed, requested_by=request.requested_by,
        )  # fmt: skip
        try:
            _create(deps, request, plan, sweep_id)
            created = True
        except IntegrityError:
            sweep_id = _by_key(deps.jobs.sessions, request.idempotency_key)  # a concurrent retry won
    assert parent is not None
    _launch_missing(deps, sweep_id, parent)
    view = get_sweep(deps.jobs.sessions, sweep_id)
    return SweepView(view.sweep, view.dataset_name, view.cells, created=created)


def _by_key(sessions: sessionmaker[Session], key: str) -> str:
    with sessions() as session:
        return session.scalars(select(Sweep.id).where(Sweep.idempotency_key == key)).one()


def _create(deps: SweepDeps, request: SweepRequest, plan: SweepPlan, sweep_id: str) -> None:
    with unit_of_work(deps.jobs.sessions) as session:
        sweep = Sweep(
            id=sweep_id,
            idempotency_key=request.idempotency_key,
            dataset_id=plan.dataset_id,
            requested_by=request.requested_by,
            approved_by=request.approved_by,
            models=list(plan.models),
            sizes=list(plan.sizes),
            seed=request.seed,
            status=SweepStatus.RUNNING,
            sandbox=deps.jobs.sandbox,
            cost_estimate_usd=plan.total_usd,
            cost_note=plan.note,
            reply_to=request.reply_to,
        )
        session.add(sweep)
        session.flush()
        sizes = ", ".join(f"{size:,}" for size in plan.sizes)
        models = " and ".join(model.upper() for model in plan.models)
        outbox.announce(
            session, "sweep.created", sweep.id,
            f"sweep of {plan.dataset_name} accepted: {len(plan.cells)} jobs ({sizes} training examples x "
            f"{models}), {estimate_text(plan.total_usd, plan.note)}",
            sandbox=deps.jobs.sandbox, sweep_id=sweep.id, dataset_id=plan.dataset_id, name=plan.dataset_name,
            sizes=list(plan.sizes), models=list(plan.models), cost_estimate_usd=plan.total_usd,
            cost_note=plan.note, requested_by=request.requested_by,
        )  # fmt: skip
        log.info("sweep created", extra={"sweep_id": sweep.id, "dataset_id": plan.dataset_id})


def _launch_missing(deps: SweepDeps, sweep_id: str, parent: Parent) -> None:
    """Make the subsets and launch each size once; a retry after a crash finishes what is missing."""
    with deps.jobs.sessions() as session:
        sweep = session.get(Sweep, sweep_id)
        assert sweep is not None
        if sweep.status == SweepStatus.CANCELLED:
            return
        key, sizes, models, seed = sweep.idempotency_key, list(sweep.sizes), list(sweep.models), sweep.seed
        requested_by, approved_by = sweep.requested_by, sweep.approved_by
        launched = set(
            session.scalars(select(JobGroup.sweep_train_size).where(JobGroup.sweep_id == sweep_id))
        )
    if all(size in launched for size in sizes):
        return
    subsets = ensure_subsets(
        deps, parent, sweep_id=sweep_id, sweep_key=key, sizes=sizes, seed=seed, requested_by=requested_by
    )
    for size in sizes:  # smallest first: the first answers come soonest
        if size in launched:
            continue
        launch_jobs(
            deps.jobs,
            LaunchRequest(
                idempotency_key=f"{key}:n{size}"[:200],
                dataset_id=subsets[size],
                models=tuple(models),
                requested_by=requested_by,
                approved_by=approved_by,
                sweep_id=sweep_id,
                sweep_train_size=size,
            ),
        )


def cancel_sweep(deps: SweepDeps, sweep_id: str, requested_by: str | None = None) -> SweepView:
    """Cancel the sweep as a whole: every job not yet final is cancelled (or stopped), and no verdict."""
    with unit_of_work(deps.jobs.sessions) as session:
        sweep = session.get(Sweep, sweep_id, with_for_update=True)
        if sweep is None:
            raise NotFound("sweep_not_found", NO_SUCH_SWEEP)
        if sweep.status not in (SweepStatus.RUNNING, SweepStatus.CANCELLED):
            raise Conflict(
                "not_cancellable", f"the sweep is {sweep.status}: only a running sweep can be cancelled"
            )
        if sweep.status == SweepStatus.RUNNING:
            sweep.status = SweepStatus.CANCELLED
            outbox.announce(
                session, "sweep.cancelled", sweep.id, "sweep cancelled: its remaining jobs are being stopped",
                sandbox=sweep.sandbox, sweep_id=sweep.id, cancelled_by=requested_by,
            )  # fmt: skip
    stop_cancelled_jobs(deps, sweep_id, requested_by)
    return get_sweep(deps.jobs.sessions, sweep_id)


def stop_cancelled_jobs(deps: SweepDeps, sweep_id: str, requested_by: str | None = None) -> None:
    """Cancel each job of a cancelled sweep that can be; one being submitted is tried on the next tick."""
    with deps.jobs.sessions() as session:
        job_ids = [
            job.id
            for job in session.scalars(select(Job).join(JobGroup).where(JobGroup.sweep_id == sweep_id))
            if can_cancel(job.status)
        ]
    for job_id in job_ids:
        try:
            cancel_job(deps.jobs, job_id, requested_by)
        except DomainError as error:  # being submitted right now, or Bedrock refused: next tick
            log.info("sweep job not cancelled yet", extra={"job_id": job_id, "code": error.code})


# --- reads ------------------------------------------------------------------------------------------


def get_sweep(sessions: sessionmaker[Session], sweep_id: str) -> SweepView:
    with sessions() as session:
        sweep = session.scalars(
            select(Sweep)
            .where(Sweep.id == sweep_id)
            .options(selectinload(Sweep.groups).selectinload(JobGroup.jobs).selectinload(Job.evaluations))
        ).first()
        if sweep is None:
            raise NotFound("sweep_not_found", NO_SUCH_SWEEP)
        dataset = session.get(Dataset, sweep.dataset_id)
        cells = [
            SweepCell(group.sweep_train_size or 0, job.model, group.dataset_id, job)
            for group in sweep.groups
            for job in group.jobs
        ]
    cells.sort(key=lambda cell: (cell.train_size, MODEL_SIZES.index(cell.model)))
    return SweepView(sweep, dataset.name if dataset is not None else sweep.dataset_id, cells)


def record_message(sessions: sessionmaker[Session], sweep_id: str, reply_to: str | None) -> SweepView:
    """Remember where the sweep's parent message lives, as the edge that posted it encodes it: the
    service stores it and never reads it."""
    with unit_of_work(sessions) as session:
        sweep = session.get(Sweep, sweep_id)
        if sweep is None:
            raise NotFound("sweep_not_found", NO_SUCH_SWEEP)
        sweep.reply_to = reply_to
    return get_sweep(sessions, sweep_id)

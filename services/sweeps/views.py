"""Routes for learning-curve sweeps: thin views over ``services.sweeps.service``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, Request, Response
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session, sessionmaker

from services.api.deps import ResourceId, errors, sessions_of
from services.api.errors import ApiError
from services.api.schemas import (
    NO_NUL,
    CancelIn,
    JobOut,
    SweepCellOut,
    SweepEstimateIn,
    SweepEstimateOut,
    SweepIn,
    SweepOut,
    SweepPatch,
    SweepPlannedJobOut,
)
from services.jobs.views import job_deps
from services.platform.errors import NotFound
from services.sweeps.deps import SweepDeps
from services.sweeps.outcome import sweep_chart_path
from services.sweeps.service import (
    SweepRequest,
    SweepView,
    cancel_sweep,
    estimate_sweep,
    get_sweep,
    record_message,
    start_sweep,
)

router = APIRouter()


def sweep_deps(request: Request) -> SweepDeps:
    job_deps(request)
    deps: SweepDeps | None = getattr(request.app.state.runtime.wiring, "sweep_deps", None)
    if deps is None:
        raise ApiError(503, "starting", "the job service is starting: retry in a few seconds")
    return deps


Deps = Annotated[SweepDeps, Depends(sweep_deps)]
Sessions = Annotated[sessionmaker[Session], Depends(sessions_of)]


def sweep_out(view: SweepView) -> SweepOut:
    sweep, result = view.sweep, view.sweep.result or {}
    return SweepOut(
        id=sweep.id,
        dataset_id=sweep.dataset_id,
        dataset_name=view.dataset_name,
        status=sweep.status,  # type: ignore[arg-type]
        models=sweep.models,
        sizes=sweep.sizes,
        seed=sweep.seed,
        requested_by=sweep.requested_by,
        approved_by=sweep.approved_by,
        sandbox=sweep.sandbox,
        cost_estimate_usd=sweep.cost_estimate_usd,
        cost_note=sweep.cost_note,
        reply_to=sweep.reply_to,
        created=view.created,
        created_at=sweep.created_at,
        finished_at=sweep.finished_at,
        cells=[
            SweepCellOut(
                train_size=cell.train_size,
                model=cell.model,  # type: ignore[arg-type]
                dataset_id=cell.dataset_id,
                job=JobOut.model_validate(cell.job),
            )
            for cell in view.cells
        ],
        lines=list(result.get("lines") or []),
        verdict=result.get("verdict"),
        fit=result.get("fit"),
    )


@router.post(
    "/sweep-estimates",
    response_model=SweepEstimateOut,
    summary="What a learning-curve sweep would run and cost, per job and in total; nothing is launched",
    responses=errors(404, 409, 422, 503),
)
def estimate(body: SweepEstimateIn, deps: Deps) -> SweepEstimateOut:
    plan = estimate_sweep(deps, body.dataset_id, body.sizes, body.models)
    return SweepEstimateOut(
        dataset_id=plan.dataset_id,
        dataset_name=plan.dataset_name,
        train_records=plan.train_records,
        test_records=plan.test_records,
        sizes=list(plan.sizes),
        models=list(plan.models),
        sandbox=plan.sandbox,
        jobs=[
            SweepPlannedJobOut(
                train_size=cell.train_size,
                model=cell.model,
                epochs=cell.epochs,
                learning_rate=cell.learning_rate,
                cost=cell.cost,
            )
            for cell in plan.cells
        ],
        total_usd=plan.total_usd,
        note=plan.note,
        cost_cap_usd=plan.cost_cap_usd,
        approval_required=plan.approval_required,
    )


@router.post(
    "/sweeps",
    response_model=SweepOut,
    status_code=201,
    summary="Start a learning-curve sweep: nested subsets, one job per training size and model size",
    responses={
        200: {"model": SweepOut, "description": "The key was seen before: its sweep, nothing new"},
        **errors(403, 404, 409, 422, 503),
    },
)
def start(
    body: SweepIn,
    response: Response,
    deps: Deps,
    idempotency_key: Annotated[
        str, Header(alias="Idempotency-Key", min_length=1, max_length=200, pattern=NO_NUL)
    ],
) -> SweepOut:
    view = start_sweep(
        deps,
        SweepRequest(
            idempotency_key=idempotency_key,
            dataset_id=body.dataset_id,
            sizes=tuple(body.sizes),
            models=tuple(body.models),
            requested_by=body.requested_by,
            approved_by=body.approved_by,
            reply_to=body.reply_to,
        ),
    )
    if not view.created:
        response.status_code = 200
    return sweep_out(view)


@router.get("/sweeps/{sweep_id}", response_model=SweepOut, summary="One sweep", responses=errors(404, 503))
def get_one(sweep_id: ResourceId, sessions: Sessions) -> SweepOut:
    return sweep_out(get_sweep(sessions, sweep_id))


@router.post(
    "/sweeps/{sweep_id}/cancel",
    response_model=SweepOut,
    summary="Cancel a sweep as a whole: every job not yet final is cancelled or stopped",
    responses=errors(404, 409, 422, 503),
)
def cancel(sweep_id: ResourceId, deps: Deps, body: Annotated[CancelIn | None, Body()] = None) -> SweepOut:
    return sweep_out(cancel_sweep(deps, sweep_id, requested_by=body.requested_by if body else None))


@router.patch(
    "/sweeps/{sweep_id}",
    response_model=SweepOut,
    summary="Record where the sweep's parent message lives (its reply_to, opaque)",
    responses=errors(404, 422, 503),
)
def patch(sweep_id: ResourceId, body: SweepPatch, sessions: Sessions) -> SweepOut:
    return sweep_out(record_message(sessions, sweep_id, body.reply_to))


@router.get(
    "/sweeps/{sweep_id}/chart.png",
    response_class=FileResponse,
    summary="F1 against training size (log axis), one series per model size, once the sweep ended",
    responses={200: {"content": {"image/png": {}}, "description": "A PNG"}, **errors(404, 503)},
)
def chart(sweep_id: ResourceId, deps: Deps) -> FileResponse:
    path = sweep_chart_path(deps.jobs.settings, sweep_id)
    if not path.is_file():
        get_sweep(deps.jobs.sessions, sweep_id)  # 404 for an unknown sweep first
        raise NotFound("no_chart", "the sweep has no chart yet: it appears when every job is evaluated")
    return FileResponse(path, media_type="image/png")

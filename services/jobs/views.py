"""Routes for jobs, groups and recommendations: thin views over ``services.jobs.service``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session, sessionmaker

from services.api.deps import ResourceId, errors, sessions_of
from services.api.errors import ApiError
from services.api.schemas import (
    NO_NUL,
    CancelIn,
    EstimateIn,
    EstimateOut,
    GroupOut,
    JobOut,
    JobPage,
    JobPatch,
    LaunchIn,
    LaunchOut,
    ModelName,
    PlannedJobOut,
)
from services.evaluation.group_report import comparison_chart_path, loss_curves_path
from services.jobs import service
from services.jobs.deps import JobDeps
from services.jobs.estimate import estimate_launch
from services.jobs.model import JobStatus
from services.jobs.repository import JobFilter
from services.jobs.service import LaunchRequest, cancel_job, find_jobs, launch_jobs
from services.tuning.recommend import Recommendation, recommend

router = APIRouter()


def job_deps(request: Request) -> JobDeps:
    sessions_of(request)
    deps: JobDeps | None = getattr(request.app.state.runtime.wiring, "job_deps", None)
    if deps is None:
        raise ApiError(503, "starting", "the job service is starting: retry in a few seconds")
    return deps


Deps = Annotated[JobDeps, Depends(job_deps)]
# A job is found by its id or by its name (names are unique): what a user types after `status`.
JobRef = Annotated[
    str, PathParam(min_length=1, max_length=200, pattern=NO_NUL, description="The job's id or its name")
]
Sessions = Annotated[sessionmaker[Session], Depends(sessions_of)]


@router.post(
    "/jobs",
    response_model=LaunchOut,
    status_code=201,
    summary="Launch fine-tuning jobs (idempotent per Idempotency-Key)",
    responses={
        200: {"model": LaunchOut, "description": "The key was seen before: its group, nothing new"},
        **errors(403, 404, 409, 422, 503),
    },
)
def launch(
    body: LaunchIn,
    response: Response,
    deps: Deps,
    idempotency_key: Annotated[
        str, Header(alias="Idempotency-Key", min_length=1, max_length=200, pattern=NO_NUL)
    ],
) -> LaunchOut:
    request = LaunchRequest(
        idempotency_key=idempotency_key,
        dataset_id=body.dataset_id,
        models=tuple(body.models),
        requested_by=body.requested_by,
        epochs=body.epochs,
        learning_rate=body.learning_rate,
        evaluate=body.evaluate,
        approved_by=body.approved_by,
        reply_to=body.reply_to,
        name=body.name,
    )
    result = launch_jobs(deps, request)  # a DomainError: the one mapping in services.api.errors answers it
    if not result.created:
        response.status_code = 200
    return LaunchOut(
        group_id=result.group_id,
        created=result.created,
        jobs=[JobOut.model_validate(job) for job in result.jobs],
        warnings=result.warnings,
    )


@router.post(
    "/estimates",
    response_model=EstimateOut,
    summary="What a launch would cost, per model and in total; nothing is launched or billed",
    responses=errors(404, 409, 422, 503),
)
def estimate(body: EstimateIn, deps: Deps) -> EstimateOut:
    plan = estimate_launch(
        deps,
        dataset_id=body.dataset_id,
        models=body.models,
        epochs=body.epochs,
        learning_rate=body.learning_rate,
        evaluate=body.evaluate,
    )
    return EstimateOut(
        dataset_id=plan.dataset_id,
        dataset_name=plan.dataset_name,
        examples=plan.examples,
        sandbox=plan.sandbox,
        jobs=[
            PlannedJobOut(
                model=job.model,
                epochs=job.epochs,
                learning_rate=job.learning_rate,
                recommended_epochs=job.recommendation.epochs,
                recommended_learning_rate=job.recommendation.learning_rate,
                cost=job.cost,
            )
            for job in plan.jobs
        ],
        total_usd=plan.total_usd,
        note=plan.note,
        cost_cap_usd=plan.cost_cap_usd,
        approval_required=plan.approval_required,
        warnings=plan.warnings,
    )


@router.get("/jobs", response_model=JobPage, summary="Jobs, newest first", responses=errors(422, 503))
def list_jobs(
    sessions: Sessions,
    requested_by: Annotated[str | None, Query(max_length=64, pattern=NO_NUL)] = None,
    name: Annotated[
        str | None, Query(max_length=200, pattern=NO_NUL, description="The job's name or Bedrock job name")
    ] = None,
    status: Annotated[
        list[JobStatus] | None, Query(description="Repeat it for jobs in any of several statuses")
    ] = None,
    model: ModelName | None = None,
    dataset_id: Annotated[str | None, Query(max_length=32, pattern=NO_NUL)] = None,
    per_status: Annotated[
        int | None, Query(ge=1, le=200, description="At most this many jobs of each status, the newest")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[
        str | None, Query(max_length=32, pattern=NO_NUL, description="A job id from `next_before`")
    ] = None,
) -> JobPage:
    where = JobFilter(requested_by, name, tuple(status or ()), model, dataset_id, per_status)
    page = find_jobs(sessions, where, limit, before)
    return JobPage(jobs=[JobOut.model_validate(job) for job in page.jobs], next_before=page.next_before)


@router.get(
    "/jobs/{job_ref}", response_model=JobOut, summary="One job, by its id or name", responses=errors(404, 503)
)
def get_job(job_ref: JobRef, sessions: Sessions) -> JobOut:
    return JobOut.model_validate(service.get_job(sessions, job_ref))


@router.post(
    "/jobs/{job_ref}/cancel",
    response_model=JobOut,
    summary="Cancel a waiting job, or stop a training one (it cannot resume; used tokens are billed)",
    responses=errors(404, 409, 422, 503),
)
def cancel(job_ref: JobRef, deps: Deps, body: Annotated[CancelIn | None, Body()] = None) -> JobOut:
    job = cancel_job(deps, job_ref, requested_by=body.requested_by if body else None)
    return JobOut.model_validate(service.get_job(deps.sessions, job.id))


@router.patch(
    "/jobs/{job_id}",
    response_model=GroupOut,
    summary="Record where a job's status message lives (its launch group's reply_to, opaque)",
    responses=errors(404, 422, 503),
)
def patch_job(job_id: ResourceId, body: JobPatch, sessions: Sessions) -> GroupOut:
    group = service.record_status_message(sessions, job_id, body.reply_to)
    return GroupOut.model_validate(group)


@router.get("/groups/{group_id}", response_model=GroupOut, summary="One launch", responses=errors(404, 503))
def get_group(group_id: ResourceId, sessions: Sessions) -> GroupOut:
    return GroupOut.model_validate(service.get_group(sessions, group_id))


@router.get(
    "/recommendations",
    response_model=Recommendation,
    summary="Epochs, learning rate and model size for a dataset of N training examples",
    responses=errors(422),
)
def recommendations(
    examples: Annotated[int, Query(ge=0, le=10_000_000)], model: ModelName | None = None
) -> Recommendation:
    return recommend(examples, model)


@router.get(
    "/jobs/{job_id}/loss-curve.png",
    response_class=FileResponse,
    summary="The job's loss curve (training and validation loss by step), once training completed",
    responses={200: {"content": {"image/png": {}}, "description": "A PNG"}, **errors(404, 503)},
)
def loss_curve(job_id: ResourceId, sessions: Sessions) -> FileResponse:
    return FileResponse(service.loss_curve_file(sessions, job_id), media_type="image/png")


@router.get(
    "/groups/{group_id}/comparison.png",
    response_class=FileResponse,
    summary="The 11B-vs-90B chart (base vs fine-tuned F1 with 95 % intervals), once both are evaluated",
    responses={200: {"content": {"image/png": {}}, "description": "A PNG"}, **errors(404, 503)},
)
def comparison_chart(group_id: ResourceId, deps: Deps) -> FileResponse:
    return _group_png(comparison_chart_path(deps.settings, group_id))


@router.get(
    "/groups/{group_id}/loss-curves.png",
    response_class=FileResponse,
    summary="Both sizes' training and validation loss on one plot, once the pair is compared",
    responses={200: {"content": {"image/png": {}}, "description": "A PNG"}, **errors(404, 503)},
)
def group_loss_curves(group_id: ResourceId, deps: Deps) -> FileResponse:
    return _group_png(loss_curves_path(deps.settings, group_id))


def _group_png(path: Path) -> FileResponse:
    return FileResponse(service.group_chart_file(path), media_type="image/png")

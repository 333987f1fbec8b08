"""Routes for jobs, groups and recommendations: thin views over ``services.jobs.service``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session, sessionmaker

from services.api.deps import NO_NUL, ResourceId, errors, sessions_of
from services.api.errors import ApiError
from services.evaluation.group_report import comparison_chart_path, loss_curves_path
from services.jobs import service
from services.jobs.deps import JobDeps
from services.jobs.estimate import estimate_launch
from services.jobs.model import JobStatus
from services.jobs.repository import JobFilter
from services.jobs.service import LaunchRequest, cancel_job, find_jobs, launch_jobs
from services.tuning.costs import CostEstimate
from services.tuning.recommend import BEDROCK_EPOCHS, BEDROCK_LEARNING_RATE, Recommendation, recommend

router = APIRouter()

ModelName = Literal["11b", "90b"]
SlackId = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._-]+$")]


class EvaluationOut(BaseModel):
    """One model scored on the dataset's held-out test set (scores 0-100)."""

    model_config = ConfigDict(from_attributes=True)

    variant: Literal["base", "fine_tuned"]
    status: str
    metric: str
    f1: float | None
    exact_match: float | None
    count: int
    missing: int
    cost_usd: float | None


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    group_id: str
    dataset_id: str
    model: str
    name: str
    status: str
    requested_by: str
    evaluate: bool
    sandbox: bool
    bedrock_job_name: str
    bedrock_job_arn: str | None
    bedrock_status: str | None
    output_model_arn: str | None
    output_s3_uri: str | None
    epochs: int
    learning_rate: float
    recommended_epochs: int
    recommended_learning_rate: float
    cost_estimate_usd: float | None = Field(description="An estimate, never a quote: see cost_note")
    cost_estimate: CostEstimate | None = Field(
        None, description="The launch's estimate in parts, with the note on the prices it used"
    )
    cost_note: str | None = Field(
        None, description="Set when a price behind the estimate is a placeholder or unconfirmed"
    )
    failure_message: str | None
    failure_hint: str | None
    metrics: dict[str, Any] | None
    loss_curve_path: str | None
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    finished_at: datetime | None
    evaluations: list[EvaluationOut] = Field(
        default_factory=list, description="Base and fine-tuned scores, once the evaluation ran"
    )


class GroupOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    dataset_id: str
    requested_by: str
    approved_by: str | None
    cost_estimate_usd: float | None = Field(description="The launch's estimate, never a quote")
    cost_note: str | None = None
    slack_channel: str | None
    slack_thread_ts: str | None
    slack_message_ts: str | None
    comparison: dict[str, Any] | None
    created_at: datetime
    jobs: list[JobOut]


class LaunchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset_id: str = Field(min_length=1, max_length=32, pattern=NO_NUL)
    models: list[ModelName] = Field(
        min_length=1,
        max_length=2,
        description='["11b"], ["90b"] or both',
        json_schema_extra={"uniqueItems": True},  # the service refuses a repeated size (422)
    )
    epochs: int | None = Field(
        None,
        ge=BEDROCK_EPOCHS[0],
        le=BEDROCK_EPOCHS[1],
        description="Default: the recommendation (Bedrock allows 1-10)",
    )
    learning_rate: float | None = Field(
        None,
        ge=BEDROCK_LEARNING_RATE[0],
        le=BEDROCK_LEARNING_RATE[1],
        description="Default: the recommendation (5e-6 to 0.1)",
    )
    evaluate: bool = True
    requested_by: str = Field(min_length=1, max_length=64, pattern=NO_NUL)
    approved_by: str | None = Field(None, min_length=1, max_length=64, pattern=NO_NUL)
    slack_channel: SlackId | None = None
    slack_thread_ts: SlackId | None = None
    name: str | None = Field(None, min_length=1, max_length=200, pattern=NO_NUL)


class EstimateIn(BaseModel):
    """What a launch would run: the same fields as a launch, nothing billable happens."""

    model_config = ConfigDict(extra="forbid")

    dataset_id: str = Field(min_length=1, max_length=32, pattern=NO_NUL)
    models: list[ModelName] = Field(min_length=1, max_length=2, json_schema_extra={"uniqueItems": True})
    epochs: int | None = Field(None, ge=BEDROCK_EPOCHS[0], le=BEDROCK_EPOCHS[1])
    learning_rate: float | None = Field(None, ge=BEDROCK_LEARNING_RATE[0], le=BEDROCK_LEARNING_RATE[1])
    evaluate: bool = True


class PlannedJobOut(BaseModel):
    model: ModelName
    epochs: int
    learning_rate: float
    recommended_epochs: int
    recommended_learning_rate: float
    cost: CostEstimate


class EstimateOut(BaseModel):
    """The figures a launch with the same fields would store, and compare with the cost cap."""

    estimate: Literal[True] = True
    dataset_id: str
    dataset_name: str
    examples: int
    sandbox: bool
    jobs: list[PlannedJobOut]
    total_usd: float
    note: str | None = Field(description="Set when a price behind them is a placeholder or unconfirmed")
    cost_cap_usd: float
    approval_required: bool = Field(description="The total is above the cap: an admin must approve")
    warnings: list[str]


class LaunchOut(BaseModel):
    group_id: str
    created: bool
    jobs: list[JobOut]
    warnings: list[str]


class JobPage(BaseModel):
    jobs: list[JobOut]
    next_before: str | None = Field(description="Pass as `before` for the next (older) page")


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    requested_by: str | None = Field(None, min_length=1, max_length=64, pattern=NO_NUL)


class JobPatch(BaseModel):
    """Where the job's status message lives in Slack (stored on the job's launch group)."""

    model_config = ConfigDict(extra="forbid")

    slack_channel: SlackId | None = None
    slack_thread_ts: SlackId | None = None
    slack_message_ts: SlackId | None = None


def job_deps(request: Request) -> JobDeps:
    sessions_of(request)
    deps: JobDeps | None = getattr(request.app.state.runtime.wiring, "job_deps", None)
    if deps is None:
        raise ApiError(503, "starting", "the job service is starting: retry in a few seconds")
    return deps


Deps = Annotated[JobDeps, Depends(job_deps)]
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
        slack_channel=body.slack_channel,
        slack_thread_ts=body.slack_thread_ts,
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
    status: JobStatus | None = None,
    model: ModelName | None = None,
    dataset_id: Annotated[str | None, Query(max_length=32, pattern=NO_NUL)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[
        str | None, Query(max_length=32, pattern=NO_NUL, description="A job id from `next_before`")
    ] = None,
) -> JobPage:
    where = JobFilter(requested_by, name, status, model, dataset_id)
    page = find_jobs(sessions, where, limit, before)
    return JobPage(jobs=[JobOut.model_validate(job) for job in page.jobs], next_before=page.next_before)


@router.get("/jobs/{job_id}", response_model=JobOut, summary="One job", responses=errors(404, 503))
def get_job(job_id: ResourceId, sessions: Sessions) -> JobOut:
    return JobOut.model_validate(service.get_job(sessions, job_id))


@router.post(
    "/jobs/{job_id}/cancel",
    response_model=JobOut,
    summary="Cancel a waiting job, or stop a training one (it cannot resume; used tokens are billed)",
    responses=errors(404, 409, 422, 503),
)
def cancel(job_id: ResourceId, deps: Deps, body: Annotated[CancelIn | None, Body()] = None) -> JobOut:
    cancel_job(deps, job_id, requested_by=body.requested_by if body else None)
    return JobOut.model_validate(service.get_job(deps.sessions, job_id))


@router.patch(
    "/jobs/{job_id}",
    response_model=GroupOut,
    summary="Record the Slack message a job's status lives in (on its launch group)",
    responses=errors(404, 422, 503),
)
def patch_job(job_id: ResourceId, body: JobPatch, sessions: Sessions) -> GroupOut:
    group = service.record_status_message(sessions, job_id, body.model_dump(exclude_unset=True))
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

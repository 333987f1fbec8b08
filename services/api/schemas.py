"""The wire schemas: every request and response model of the API, in one place.

The one seam between the bot (and the CLI) and the service. The views declare these as their request
and response models; tests/api/test_schemas.py checks that every answer ``services.client`` reads
parses into its model here and serialises back to exactly what the API sent. The status enums and the
recommendation are re-exported so a client can use them importing only this module. ``JobOut``
carries ``cancellable`` and ``final`` from the job state machine, so no client re-derives them.
Pure: Pydantic only.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.datasets.model import DatasetStatus
from services.evaluation.model import EvaluationStatus
from services.jobs.model import JobStatus, can_cancel, is_final
from services.sweeps.model import MAX_SIZES, SweepStatus
from services.tuning.costs import CostEstimate
from services.tuning.recommend import BEDROCK_EPOCHS, BEDROCK_LEARNING_RATE, Recommendation

__all__ = [
    "NO_NUL",
    "AckIn",
    "AckOut",
    "CancelIn",
    "ClaimIn",
    "DatasetAccepted",
    "DatasetOptionsIn",
    "DatasetOut",
    "DatasetPage",
    "DatasetSourceIn",
    "DatasetStatus",
    "ErrorBody",
    "ErrorDetail",
    "EstimateIn",
    "EstimateOut",
    "EvaluationOut",
    "EvaluationStatus",
    "EventBatch",
    "EventOut",
    "GroupOut",
    "JobOut",
    "JobPage",
    "JobPatch",
    "JobStatus",
    "LaunchIn",
    "LaunchOut",
    "ModelName",
    "PlannedJobOut",
    "Recommendation",
    "ServiceInfo",
    "SweepCellOut",
    "SweepEstimateIn",
    "SweepEstimateOut",
    "SweepIn",
    "SweepOut",
    "SweepPatch",
    "SweepPlannedJobOut",
    "SweepStatus",
]

# PostgreSQL text cannot hold NUL: refuse it at the edge (422) instead of failing in the database (500).
NO_NUL = r"^[^\x00]*$"
ModelName = Literal["11b", "90b"]
SlackId = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._-]+$")]
FormatName = Literal[
    "auto", "bedrock", "llava", "hf-llava", "chartqa", "vqav2", "docvqa", "hub", "csv", "tsv", "xlsx",
    "jsonl", "pdf",
]  # fmt: skip
Consumer = Annotated[str, Field(min_length=1, max_length=128, pattern=NO_NUL)]


# --- errors and info --------------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    """Every error the API returns: ``{"error": {"code", "message", "field"?}}``."""

    error: ErrorDetail


class ServiceInfo(BaseModel):
    version: str
    backend: str
    database: str


# --- jobs -------------------------------------------------------------------------------------------


class EvaluationOut(BaseModel):
    """One model scored on the dataset's held-out test set (scores 0-100)."""

    model_config = ConfigDict(from_attributes=True)

    variant: Literal["base", "fine_tuned"]
    status: EvaluationStatus
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
    model: ModelName
    name: str
    status: JobStatus
    cancellable: bool = Field(description="A cancel request is accepted now (see POST .../cancel)")
    final: bool = Field(description="The job will not change status again")
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

    @model_validator(mode="before")
    @classmethod
    def _rules_of_a_row(cls, data: Any) -> Any:
        """A job row of the service gets ``cancellable`` and ``final`` from the state machine; an answer
        parsed by the client carries them as the service sent them, so no client re-derives them."""
        if isinstance(data, Mapping):
            return data
        fields = {name: getattr(data, name) for name in cls.model_fields if hasattr(data, name)}
        fields.setdefault("cancellable", can_cancel(data.status))
        fields.setdefault("final", is_final(data.status))
        return fields

    def fine_tuned_f1(self) -> float | None:
        """The fine-tuned model's SQuAD F1 (0-100) once it has been scored, else None."""
        return next((e.f1 for e in self.evaluations if e.variant == "fine_tuned" and e.f1 is not None), None)


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
    # The bot posts the launch's card before launching, so the first event updates it in place.
    slack_message_ts: SlackId | None = None
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


# --- datasets ---------------------------------------------------------------------------------------


class DatasetOptionsIn(BaseModel):
    """How to read and split the source (the options of `tunebot prepare`)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(
        None, min_length=1, max_length=200, pattern=NO_NUL, description="Default: the file's name"
    )
    created_by: str | None = Field(None, min_length=1, max_length=64, pattern=NO_NUL)
    format: FormatName = "auto"
    validation_fraction: float = Field(0.15, ge=0.10, le=0.20)
    test_fraction: float = Field(0.10, ge=0.0, le=0.30)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    system: str | None = Field(None, min_length=1, max_length=4000, pattern=NO_NUL)
    model: ModelName | None = None
    slack_channel: SlackId | None = None
    slack_thread_ts: SlackId | None = None
    image_column: str | None = Field(None, min_length=1, max_length=200, pattern=NO_NUL)
    question_column: str | None = Field(None, min_length=1, max_length=200, pattern=NO_NUL)
    answer_column: str | None = Field(None, min_length=1, max_length=200, pattern=NO_NUL)
    instruction: str | None = Field(
        None,
        min_length=1,
        max_length=2000,
        pattern=NO_NUL,
        description="The question of records that have none (captioning); default: a generic instruction",
    )
    split: Literal["source", "random"] = Field(
        "source", description="source: keep the dataset's own splits; random: pool and split them"
    )


class DatasetSourceIn(DatasetOptionsIn):
    source_uri: str = Field(pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^\s\x00]*)?$", max_length=2000)


class DatasetAccepted(BaseModel):
    id: str
    status: DatasetStatus


class DatasetOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    status: DatasetStatus
    format: str | None
    slack_channel: str | None
    slack_thread_ts: str | None
    report: dict[str, Any] | None
    error: str | None
    created_by: str | None
    created_at: datetime
    s3_uri: str | None
    sandbox: bool = Field(False, description="Held by a sandbox service: its jobs and scores are simulated")


class DatasetPage(BaseModel):
    datasets: list[DatasetOut]


# --- sweeps -----------------------------------------------------------------------------------------

SweepSize = Annotated[int, Field(ge=1, le=10_000)] | Literal["all"]


def _default_sizes() -> list[SweepSize]:
    return [100, 1_000, "all"]  # services.sweeps.model.DEFAULT_SIZES


def _both_models() -> list[ModelName]:
    return ["11b", "90b"]


class SweepEstimateIn(BaseModel):
    """What a learning-curve sweep would run: training sizes x model sizes on one ready dataset."""

    model_config = ConfigDict(extra="forbid")

    dataset_id: str = Field(min_length=1, max_length=32, pattern=NO_NUL)
    sizes: list[SweepSize] = Field(
        default_factory=_default_sizes,
        min_length=1,
        max_length=MAX_SIZES,
        description='Training sizes, each at least Bedrock\'s minimum of 100, or "all"',
    )
    models: list[ModelName] = Field(
        default_factory=_both_models,
        min_length=1,
        max_length=2,
        json_schema_extra={"uniqueItems": True},
    )


class SweepIn(SweepEstimateIn):
    requested_by: str = Field(min_length=1, max_length=64, pattern=NO_NUL)
    approved_by: str | None = Field(None, min_length=1, max_length=64, pattern=NO_NUL)
    slack_channel: SlackId | None = None
    slack_thread_ts: SlackId | None = None


class SweepPlannedJobOut(BaseModel):
    train_size: int
    model: ModelName
    epochs: int
    learning_rate: float
    cost: CostEstimate


class SweepEstimateOut(BaseModel):
    """The sweep's jobs with the epochs, learning rate and estimate each launch will store."""

    estimate: Literal[True] = True
    dataset_id: str
    dataset_name: str
    train_records: int
    test_records: int = Field(description="The one held-out test set every job is scored on")
    sizes: list[int]
    models: list[ModelName]
    sandbox: bool
    jobs: list[SweepPlannedJobOut]
    total_usd: float
    note: str | None
    cost_cap_usd: float
    approval_required: bool


class SweepCellOut(BaseModel):
    train_size: int
    model: ModelName
    dataset_id: str = Field(description="The subset dataset this job trains on")
    job: JobOut


class SweepOut(BaseModel):
    id: str
    dataset_id: str
    dataset_name: str
    status: SweepStatus
    models: list[ModelName]
    sizes: list[int]
    seed: int
    requested_by: str
    approved_by: str | None
    sandbox: bool
    cost_estimate_usd: float | None = Field(description="The whole sweep's estimate, never a quote")
    cost_note: str | None
    slack_channel: str | None
    slack_thread_ts: str | None
    slack_message_ts: str | None
    created: bool = Field(False, description="This request made the sweep (false: the key was seen)")
    created_at: datetime
    finished_at: datetime | None
    cells: list[SweepCellOut]
    lines: list[str] = Field(description="The verdict, one sentence a line, once the sweep ended")
    verdict: dict[str, Any] | None = Field(description="services.sweeps.verdict.Verdict, once evaluated")
    fit: dict[str, Any] | None = Field(description="The fitted curves with their 95 % intervals")


class SweepPatch(BaseModel):
    """Where the sweep's parent message lives in Slack."""

    model_config = ConfigDict(extra="forbid")

    slack_channel: SlackId | None = None
    slack_thread_ts: SlackId | None = None
    slack_message_ts: SlackId | None = None


# --- the outbox -------------------------------------------------------------------------------------


class ClaimIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    consumer: Consumer
    limit: int = Field(20, ge=1, le=500)
    lease_seconds: float = Field(60.0, ge=1, le=3600)


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    type: str
    subject_id: str
    payload: dict[str, Any]
    created_at: datetime
    attempts: int


class EventBatch(BaseModel):
    events: list[EventOut]


class AckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    consumer: Consumer


class AckOut(BaseModel):
    id: int
    acknowledged: bool

"""Wire schemas of launches and jobs: the launch and its estimate, the job and its group, cancel and the
patch that records where a job's status message lives. ``JobOut`` carries ``cancellable`` and ``final``
from the job state machine, so no client re-derives them. Pure: Pydantic only."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.api.schemas.common import NO_NUL, ModelName, ReplyTo
from services.evaluation.model import EvaluationStatus
from services.jobs.model import JobStatus, can_cancel, is_final
from services.tuning.costs import CostEstimate
from services.tuning.recommend import BEDROCK_EPOCHS, BEDROCK_LEARNING_RATE


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
    reply_to: str | None
    comparison: dict[str, Any] | None
    sweep_id: str | None = Field(None, description="The learning-curve sweep this launch is one size of")
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
    # The bot posts the launch's card before launching and names it here, so the first event updates it.
    reply_to: ReplyTo | None = None
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
    """Where the job's status message lives, as its caller encodes it (stored on the launch group)."""

    model_config = ConfigDict(extra="forbid")

    reply_to: ReplyTo | None = Field(description="Replaces the group's reply_to; null clears it")

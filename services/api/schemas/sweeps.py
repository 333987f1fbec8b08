"""Wire schemas of learning-curve sweeps: the sweep's estimate and request, its cells (one job each)
and the sweep with its verdict and fitted curves. Pure: Pydantic only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.api.schemas.common import NO_NUL, ModelName, ReplyTo
from services.api.schemas.jobs import JobOut
from services.sweeps.model import MAX_SIZES, SweepStatus
from services.tuning.costs import CostEstimate

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
    reply_to: ReplyTo | None = None


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
    reply_to: str | None
    created: bool = Field(False, description="This request made the sweep (false: the key was seen)")
    created_at: datetime
    finished_at: datetime | None
    cells: list[SweepCellOut]
    lines: list[str] = Field(description="The verdict, one sentence a line, once the sweep ended")
    verdict: dict[str, Any] | None = Field(description="services.sweeps.verdict.Verdict, once evaluated")
    fit: dict[str, Any] | None = Field(description="The fitted curves with their 95 % intervals")


class SweepPatch(BaseModel):
    """Where the sweep's parent message lives, as its caller encodes it."""

    model_config = ConfigDict(extra="forbid")

    reply_to: ReplyTo | None = Field(description="Replaces the sweep's reply_to; null clears it")

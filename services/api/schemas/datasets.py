"""Wire schemas of datasets: the options of a preparation, an S3 source, the accepted answer and the
dataset as the API shows it. Pure: Pydantic only."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.api.schemas.common import NO_NUL, FormatName, ModelName, ReplyTo
from services.datasets.model import DatasetStatus


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
    reply_to: ReplyTo | None = None
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
    reply_to: str | None
    report: dict[str, Any] | None
    error: str | None
    created_by: str | None
    created_at: datetime
    s3_uri: str | None
    records_checked: int | None = Field(
        None, description="While checking: records checked so far (None before the first are read)"
    )
    records_total: int | None = Field(
        None, description="How many records the dataset holds, once known (some formats tell only at the end)"
    )
    sandbox: bool = Field(False, description="Held by a sandbox service: its jobs and scores are simulated")


class DatasetPage(BaseModel):
    datasets: list[DatasetOut]

"""Shared pieces of the wire schemas: the text and name types every request uses, the error body and
the service's info. Pure: Pydantic only."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

# PostgreSQL text cannot hold NUL: refuse it at the edge (422) instead of failing in the database (500).
NO_NUL = r"^[^\x00]*$"
ModelName = Literal["11b", "90b"]
SlackId = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._-]+$")]
FormatName = Literal[
    "auto", "bedrock", "llava", "hf-llava", "chartqa", "vqav2", "docvqa", "hub", "csv", "tsv", "xlsx",
    "jsonl", "pdf",
]  # fmt: skip
Consumer = Annotated[str, Field(min_length=1, max_length=128, pattern=NO_NUL)]


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

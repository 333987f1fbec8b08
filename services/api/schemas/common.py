"""Shared pieces of the wire schemas: the text and name types every request uses, the error body and
the service's info. Pure: Pydantic only."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

# PostgreSQL text cannot hold NUL: refuse it at the edge (422) instead of failing in the database (500).
NO_NUL = r"^[^\x00]*$"
ModelName = Literal["11b", "90b"]
# Where the caller wants an outcome posted (a Slack thread, say): the caller's own encoding, stored and
# returned as sent, never read by the service. Bounded, and free of NUL so PostgreSQL can store it.
REPLY_TO_LENGTH = 512
ReplyTo = Annotated[
    str,
    Field(
        min_length=1,
        max_length=REPLY_TO_LENGTH,
        pattern=NO_NUL,
        description="Opaque to the service: where the caller posts this one's outcome, returned as sent",
    ),
]
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

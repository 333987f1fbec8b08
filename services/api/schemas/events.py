"""Wire schemas of the outbox: claiming a batch of events, an event, and its acknowledgement.
Pure: Pydantic only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.api.schemas.common import Consumer


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

"""Routes of the outbox: consumers (the bot) claim events with a lease and acknowledge each one."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session, sessionmaker

from services.api.deps import NO_NUL, errors, sessions_of
from services.platform import outbox

router = APIRouter()
Sessions = Annotated[sessionmaker[Session], Depends(sessions_of)]
Consumer = Annotated[str, Field(min_length=1, max_length=128, pattern=NO_NUL)]


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


@router.post(
    "/events/claim",
    response_model=EventBatch,
    summary="Lease unacknowledged events no other consumer holds, oldest first",
    responses=errors(422, 503),
)
def claim(body: ClaimIn, sessions: Sessions) -> EventBatch:
    events = outbox.claim_batch(sessions, body.consumer, body.limit, body.lease_seconds)
    return EventBatch(events=[EventOut.model_validate(event) for event in events])


@router.post(
    "/events/{event_id}/ack",
    response_model=AckOut,
    summary="Mark an event delivered (only its lease holder may)",
    responses=errors(409, 422, 503),
)
def acknowledge(
    event_id: Annotated[int, Path(ge=1, le=2**31 - 1)], body: AckIn, sessions: Sessions
) -> AckOut:
    outbox.acknowledge_delivered(sessions, event_id, body.consumer)
    return AckOut(id=event_id, acknowledged=True)

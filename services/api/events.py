"""Routes of the outbox: consumers (the bot) claim events with a lease and acknowledge each one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from sqlalchemy.orm import Session, sessionmaker

from services.api.deps import errors, sessions_of
from services.api.schemas import AckIn, AckOut, ClaimIn, EventBatch, EventOut
from services.platform import outbox

router = APIRouter()
Sessions = Annotated[sessionmaker[Session], Depends(sessions_of)]


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

"""The outbox: events written with the change they describe, claimed by consumers with a lease."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import case, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from services.platform.db import unit_of_work
from services.platform.errors import Conflict
from services.platform.labels import SANDBOX_LABEL
from services.platform.tables import Event, utcnow


def record(session: Session, type_: str, subject_id: str, **payload: Any) -> Event:
    """Add an event to the caller's transaction; it becomes visible only if the change commits."""
    event = Event(type=type_, subject_id=subject_id, payload=payload)
    session.add(event)
    return event


def announce(
    session: Session, type_: str, subject_id: str, message: str, *, sandbox: bool, **payload: Any
) -> Event:
    """Record an event whose ``message`` a person reads; one from a sandbox run says so, always."""
    if sandbox:
        message = f"{SANDBOX_LABEL} — {message}"
        payload["sandbox"] = SANDBOX_LABEL
    return record(session, type_, subject_id, message=message, **payload)


# The oldest unacknowledged events one claim looks at (the backlog's head; more waits for the next claim).
CLAIM_WINDOW = 500


def order_key(event_id: int, payload: dict[str, Any] | None) -> str:
    """Events with one key are delivered in order, one consumer at a time: a launch's, or a sweep's (each
    shares its Slack thread). Other events have no order among them."""
    group_id = (payload or {}).get("group_id")
    if group_id:
        return f"group:{group_id}"
    sweep_id = (payload or {}).get("sweep_id")  # a sweep's events share its thread too
    return f"sweep:{sweep_id}" if sweep_id else f"event:{event_id}"


def claim(session: Session, consumer: str, limit: int, lease_seconds: float) -> list[Event]:
    """Lease up to ``limit`` unacknowledged events, oldest first, so that each launch's events go to one
    consumer at a time and in order.

    An event is skipped while an earlier event of its launch (``order_key``) is held by another consumer,
    or was just won by one: with two bots, a launch's second event never overtakes its first. Each row is
    taken by its own guarded UPDATE, so two consumers racing for the same event cannot both win, on SQLite
    as on PostgreSQL. The caller commits.
    """
    now = utcnow()
    free = or_(Event.leased_by.is_(None), Event.lease_expires_at < now, Event.leased_by == consumer)
    rows = session.execute(
        select(Event.id, Event.payload, case((free, 1), else_=0))
        .where(Event.acked_at.is_(None))
        .order_by(Event.id)
        .limit(CLAIM_WINDOW)
    ).all()
    claimed: list[int] = []
    blocked: set[str] = set()
    expires = now + timedelta(seconds=lease_seconds)
    for event_id, payload, is_free in rows:
        if len(claimed) >= limit:
            break
        key = order_key(event_id, payload)
        if key in blocked:
            continue
        won = bool(is_free) and bool(
            session.execute(
                update(Event)
                .where(Event.id == event_id, Event.acked_at.is_(None), free)
                .values(leased_by=consumer, lease_expires_at=expires, attempts=Event.attempts + 1)
                .execution_options(synchronize_session=False)
            ).rowcount  # type: ignore[attr-defined]
        )
        if won:
            claimed.append(event_id)
        else:
            blocked.add(key)  # another consumer has this launch's earlier event: the rest waits for it
    if not claimed:
        return []
    return list(session.scalars(select(Event).where(Event.id.in_(claimed)).order_by(Event.id)))


def acknowledge(session: Session, event_id: int, consumer: str) -> bool:
    """Mark an event delivered. Only its current lease holder may; False otherwise."""
    result = session.execute(
        update(Event)
        .where(Event.id == event_id, Event.leased_by == consumer, Event.acked_at.is_(None))
        .values(acked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# --- the delivery use cases behind /events: claim a batch, acknowledge one -------------------------


def claim_batch(
    sessions: sessionmaker[Session], consumer: str, limit: int, lease_seconds: float
) -> list[Event]:
    with unit_of_work(sessions) as session:
        return claim(session, consumer, limit, lease_seconds)


def acknowledge_delivered(sessions: sessionmaker[Session], event_id: int, consumer: str) -> None:
    with unit_of_work(sessions) as session:
        if not acknowledge(session, event_id, consumer):
            raise Conflict(
                "not_leased",
                f"event {event_id} is not leased to {consumer} (acknowledged already, or its lease "
                "expired and another consumer took it): claim again",
            )

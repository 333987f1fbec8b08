"""The dataset domain's queries: the only place that knows how datasets are found in the tables."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from services.datasets.model import DatasetStatus
from services.platform.tables import Dataset, utcnow


def newest(
    session: Session, limit: int, created_by: str | None = None, status: DatasetStatus | None = None
) -> list[Dataset]:
    query = select(Dataset)
    if created_by is not None:
        query = query.where(Dataset.created_by == created_by)
    if status is not None:
        query = query.where(Dataset.status == status)
    return list(session.scalars(query.order_by(Dataset.created_at.desc(), Dataset.id.desc()).limit(limit)))


def record_progress(session: Session, dataset_id: str, owner: str, checked: int, total: int | None) -> bool:
    """Note how far the check of ``dataset_id`` got; False when ``owner`` no longer holds its check."""
    return _update_held_check(session, dataset_id, owner, records_checked=checked, records_total=total)


def claim_check(session: Session, owner: str, lease: timedelta) -> str | None:
    """Take the oldest waiting check whose lease is free (never taken, or its holder's has run out) for
    ``owner``; its id, or None when there is none. Safe against other replicas claiming at once."""
    now = utcnow()
    free = or_(Dataset.lease_owner.is_(None), Dataset.lease_expires_at < now)
    candidates = session.scalars(
        select(Dataset.id)
        .where(Dataset.status == DatasetStatus.CHECKING, free)
        .order_by(Dataset.created_at)
        .limit(5)
    ).all()
    for dataset_id in candidates:
        won = session.execute(
            update(Dataset)
            .where(Dataset.id == dataset_id, Dataset.status == DatasetStatus.CHECKING, free)
            .values(lease_owner=owner, lease_expires_at=now + lease)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        if won:
            return dataset_id
    return None


def finish_check(session: Session, dataset_id: str, owner: str, **outcome: Any) -> bool:
    """Store a check's outcome (status, report …) and free its lease; False when ``owner`` no longer
    holds the check (its lease ran out and another replica took it: that one's outcome stands)."""
    return _update_held_check(
        session, dataset_id, owner, **outcome, lease_owner=None, lease_expires_at=None, updated_at=utcnow()
    )


def _update_held_check(session: Session, dataset_id: str, owner: str, **values: Any) -> bool:
    """Set ``values`` on a check still in progress and held by ``owner``; False when it is not."""
    won = session.execute(
        update(Dataset)
        .where(
            Dataset.id == dataset_id,
            Dataset.status == DatasetStatus.CHECKING,
            Dataset.lease_owner == owner,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    return bool(won)

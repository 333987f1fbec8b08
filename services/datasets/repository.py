"""The dataset domain's queries: the only place that knows how datasets are found in the tables."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.datasets.model import DatasetStatus
from services.platform.tables import Dataset


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
    won = session.execute(
        update(Dataset)
        .where(
            Dataset.id == dataset_id,
            Dataset.status == DatasetStatus.CHECKING,
            Dataset.lease_owner == owner,
        )
        .values(records_checked=checked, records_total=total)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    return bool(won)

"""The dataset domain's queries: the only place that knows how datasets are found in the tables."""

from __future__ import annotations

from sqlalchemy import select
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

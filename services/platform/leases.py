"""Named leases: which replica runs a scheduled tick. Claimed by one atomic statement each."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, insert, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.platform.tables import Lease, utcnow


def acquire(session: Session, name: str, owner: str, seconds: float) -> bool:
    """Take or renew the lease ``name`` for ``owner``; False when another live owner holds it.

    The caller commits. Works the same on SQLite and PostgreSQL: an UPDATE guarded by the
    current holder or expiry, then an INSERT if the row does not exist yet (a racing INSERT
    loses on the primary key and is reported as not acquired).
    """
    now = utcnow()
    expires = now + timedelta(seconds=seconds)
    result = session.execute(
        update(Lease)
        .where(Lease.name == name, or_(Lease.owner == owner, Lease.expires_at < now))
        .values(owner=owner, expires_at=expires)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount:  # type: ignore[attr-defined]
        return True
    try:
        with session.begin_nested():
            session.execute(insert(Lease).values(name=name, owner=owner, expires_at=expires))
    except IntegrityError:
        return False
    return True


def release_all(session: Session, owner: str) -> int:
    """Give up every lease ``owner`` holds (on clean shutdown), so another replica takes over at once."""
    result = session.execute(delete(Lease).where(Lease.owner == owner))
    return int(result.rowcount)  # type: ignore[attr-defined]

"""Leases that follow liveness: named leases (which replica runs a scheduled tick, who submits) and the
row leases of work being done (a dataset check, an evaluation), each claimed by one atomic statement.

Leases are short (``LEASE_SECONDS``) and a ``LeaseKeeper`` thread in every server process renews all
the live leases its process holds every ``RENEW_SECONDS``: a replica keeps its work as long as it is
alive, however long the work takes, and a replica that dies (SIGKILL, lost host) leaves its work
free for another within ``LEASE_SECONDS``.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from sqlalchemy import delete, insert, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from services.platform.db import unit_of_work
from services.platform.tables import Dataset, Evaluation, Lease, utcnow

log = logging.getLogger(__name__)

LEASE_SECONDS = 15.0  # how long a dead holder's work stays blocked
RENEW_SECONDS = 5.0  # three renewals per lease: one slow database round trip does not lose it


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


def renew_all(session: Session, owner: str, seconds: float = LEASE_SECONDS) -> int:
    """Extend every lease ``owner`` still holds to at least ``seconds`` from now; the caller commits.

    Only live leases: one that expired may belong to another replica by now. A longer lease (or a
    retry's cool-down) is never shortened. Returns how many leases were extended.
    """
    now = utcnow()
    expires = now + timedelta(seconds=seconds)
    renewed = session.execute(
        update(Lease)
        .where(Lease.owner == owner, Lease.expires_at >= now, Lease.expires_at < expires)
        .values(expires_at=expires)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    for table in (Dataset, Evaluation):
        values: dict[str, object] = {"lease_expires_at": expires}
        if table is Dataset:
            values["updated_at"] = Dataset.updated_at  # a renewal is not a change of the dataset
        renewed += session.execute(
            update(table)
            .where(table.lease_owner == owner, table.lease_expires_at >= now)
            .where(table.lease_expires_at < expires)
            .values(values)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
    return int(renewed)


class LeaseKeeper:
    """Renews this process's leases in the background while it lives (see the module's docstring)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        owner: str,
        *,
        seconds: float = LEASE_SECONDS,
        every: float = RENEW_SECONDS,
    ) -> None:
        self._sessions = sessions
        self._owner = owner
        self._seconds = seconds
        self._every = every
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.renewals = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=self._every + 5)

    def _run(self) -> None:
        while not self._stopping.wait(self._every):
            self.renew()

    def renew(self) -> None:
        try:
            with unit_of_work(self._sessions) as session:
                renew_all(session, self._owner, self._seconds)
            self.renewals += 1
        except Exception as error:  # the database is away: say so; the leases lapse if it stays away
            log.warning("leases not renewed", extra={"owner": self._owner, "error": type(error).__name__})

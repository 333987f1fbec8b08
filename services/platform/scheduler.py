"""APScheduler wiring. Each periodic task runs under a named database lease, so with any number of
replicas exactly one does a given tick; the others skip it. The leases are short and renewed by this
process's ``LeaseKeeper`` while it lives, so a replica that dies hands its tasks over within
``leases.LEASE_SECONDS`` (plus the next tick of the replica that takes over)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.orm import Session, sessionmaker

from services.platform import leases
from services.platform.db import unit_of_work

log = logging.getLogger(__name__)

Task = Callable[[], None]


class Scheduler:
    def __init__(self, sessions: sessionmaker[Session], owner: str) -> None:
        self._sessions = sessions
        self.owner = owner
        self.ticks: dict[str, int] = {}
        self.keeper = leases.LeaseKeeper(sessions, owner)
        self._scheduler = BackgroundScheduler(
            timezone=UTC,
            # A slow tick is never doubled up or replayed in a burst after a pause.
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30},
        )

    def every(self, name: str, seconds: float, task: Task) -> None:
        """Run ``task`` every ``seconds`` on whichever replica holds the lease ``name``."""
        self.ticks[name] = 0

        def guarded() -> None:
            # Kept between ticks by the keeper, so the same replica goes on doing this task while it lives.
            with unit_of_work(self._sessions) as session:
                if not leases.acquire(session, name, self.owner, leases.LEASE_SECONDS):
                    return
            try:
                task()
                self.ticks[name] += 1
            except Exception:
                log.exception("scheduled task failed", extra={"task": name})

        self._scheduler.add_job(
            guarded, "interval", seconds=seconds, id=name, name=name, next_run_time=datetime.now(UTC)
        )

    def run_soon(self, name: str) -> None:
        """Run task ``name`` now instead of at its next interval (new work just arrived). A tick already
        running is not doubled: it goes on, and the task's own loop picks the new work up."""
        if not self._scheduler.running:
            return
        try:
            self._scheduler.modify_job(name, next_run_time=datetime.now(UTC))
        except JobLookupError:
            log.warning("no such scheduled task", extra={"task": name})

    def start(self) -> None:
        self.keeper.start()
        self._scheduler.start()
        log.info("scheduler started", extra={"owner": self.owner, "tasks": ",".join(self.ticks)})

    def stop(self) -> None:
        """Let running tasks finish, then hand every lease back so another replica takes over at once."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        self.keeper.stop()
        with unit_of_work(self._sessions) as session:
            released = leases.release_all(session, self.owner)
        log.info("scheduler stopped", extra={"owner": self.owner, "leases_released": released})

"""The bound on ``evaluating``: past TUNEBOT_EVAL_MAX_HOURS with no live runner the job fails, saying why."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.evaluation.overdue import fail_overdue
from services.platform.db import unit_of_work
from services.platform.tables import Evaluation, Event, Job, utcnow
from tests.evaluation.factories import evaluating_job, settings_for


def started_ago(sessions: sessionmaker[Session], job_id: str, hours: float, **lease: object) -> None:
    with unit_of_work(sessions) as session:
        for variant in ("base", "fine_tuned"):
            session.add(
                Evaluation(
                    job_id=job_id, variant=variant, started_at=utcnow() - timedelta(hours=hours), **lease
                )
            )


def status(sessions: sessionmaker[Session], job_id: str) -> tuple[str, list[str]]:
    with sessions() as session:
        job = session.get_one(Job, job_id)
        rows = session.scalars(select(Evaluation.status).where(Evaluation.job_id == job_id)).all()
        return job.status, sorted(rows)


def test_an_evaluation_nobody_runs_fails_after_the_bound_and_says_why(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    settings = settings_for(tmp_path, eval_max_hours=2)
    job_id = evaluating_job(sessions, tmp_path, 5)
    started_ago(
        sessions, job_id, 3, lease_owner="dead-replica", lease_expires_at=utcnow() - timedelta(hours=1)
    )

    assert fail_overdue(sessions, settings) == [job_id]
    assert fail_overdue(sessions, settings) == [], "once"

    assert status(sessions, job_id) == ("failed", ["failed", "failed"])
    with sessions() as session:
        job = session.get_one(Job, job_id)
        [event] = session.scalars(select(Event).where(Event.type == "evaluation.failed")).all()
    assert job.failure_message is not None and "TUNEBOT_EVAL_MAX_HOURS (2 h)" in job.failure_message
    assert job.failure_hint is not None and "fine-tuned model itself is fine" in job.failure_hint
    assert event.subject_id == job_id and event.payload["status"] == "failed"
    assert "never became ready" in event.payload["message"]


def test_an_evaluation_within_its_bound_or_held_by_a_live_runner_is_left_to_run(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    settings = settings_for(tmp_path, eval_max_hours=2)
    young = evaluating_job(sessions, tmp_path / "young", 5)
    started_ago(sessions, young, 1)
    held = evaluating_job(sessions, tmp_path / "held", 5)
    started_ago(sessions, held, 3, lease_owner="live", lease_expires_at=utcnow() + timedelta(seconds=15))
    never_started = evaluating_job(sessions, tmp_path / "never", 5, training_hours=1)

    assert fail_overdue(sessions, settings) == []
    assert [status(sessions, job)[0] for job in (young, held, never_started)] == ["evaluating"] * 3

    later = utcnow() + timedelta(hours=2, minutes=1)  # every bound passed, the live lease lapsed
    assert set(fail_overdue(sessions, settings, now=later)) == {young, held, never_started}

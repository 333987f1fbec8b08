"""The janitor deletes tunebot's Provisioned Throughputs that outlived their evaluation, and says so."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.evaluation.inference import OwnedThroughput
from services.evaluation.janitor import cleanup_reason, sweep
from services.evaluation.runner import evaluate_job
from services.platform.db import unit_of_work
from services.platform.tables import Event, Job, utcnow
from tests.evaluation.factories import (
    FAST,
    add_dataset,
    add_group,
    add_job,
    chart_answers,
    evaluating_job,
    settings_for,
)
from tests.evaluation.fake_bedrock import FakeBedrock


def cleanup_events(sessions: sessionmaker[Session]) -> list[Event]:
    with sessions() as session:
        return list(
            session.scalars(select(Event).where(Event.type == "evaluation.cleanup").order_by(Event.id))
        )


def test_the_rule_deletes_for_a_finished_job_or_past_the_age_limit_only() -> None:
    now = utcnow()
    young = OwnedThroughput("arn:young", "j", now - timedelta(hours=1), "InService")
    old = OwnedThroughput("arn:old", "j", now - timedelta(hours=7), "InService")
    assert cleanup_reason(young, "evaluating", now, 6) is None
    assert cleanup_reason(young, None, now, 6) is None
    assert cleanup_reason(young, "done", now, 6) == "its job is done"
    assert cleanup_reason(young, "cancelled", now, 6) == "its job is cancelled"
    assert cleanup_reason(old, "evaluating", now, 6) == "it is 7.0 h old, past TUNEBOT_EVAL_MAX_HOURS (6 h)"


def test_a_throughput_left_behind_by_a_failed_delete_is_cleaned_once_its_job_finished(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    job_id = evaluating_job(sessions, tmp_path, 4)
    settings = settings_for(tmp_path)
    fake = FakeBedrock(chart_answers, delete_fails=True)  # Bedrock refuses the runner's delete

    evaluate_job(sessions, settings, job_id, inference_factory=lambda _: fake, options=FAST)

    assert len(fake.throughputs) == 1, "the stand-in should have kept the throughput"
    (left_behind,) = fake.throughputs
    fake.delete_fails = False

    assert sweep(sessions, settings, fake) == [left_behind]

    assert not fake.throughputs
    (event,) = cleanup_events(sessions)
    assert event.subject_id == job_id
    assert event.payload["reason"] == "its job is done"
    assert event.payload["message"].startswith("charts-11b: deleted the Provisioned Throughput tunebot-eval-")
    assert "it no longer bills" in event.payload["message"]
    assert sweep(sessions, settings, fake) == []  # nothing left: no second event
    assert len(cleanup_events(sessions)) == 1


def test_a_throughput_in_use_stays_and_one_past_the_age_limit_goes(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    dataset_id = add_dataset(sessions, None)
    group_id = add_group(sessions, dataset_id)
    running = add_job(sessions, dataset_id, group_id, status="evaluating")
    stuck = add_job(sessions, dataset_id, group_id, model="90b", status="evaluating")
    cancelled = add_job(sessions, dataset_id, group_id, status="cancelled")
    fake = FakeBedrock(chart_answers)
    in_use = fake.leave_behind(running, timedelta(hours=2))
    too_old = fake.leave_behind(stuck, timedelta(hours=7))
    of_cancelled = fake.leave_behind(cancelled, timedelta(minutes=5))
    unknown_but_young = fake.leave_behind("0" * 32, timedelta(hours=1))
    unknown_and_old = fake.leave_behind(None, timedelta(hours=30))

    deleted = sweep(sessions, settings_for(tmp_path, eval_max_hours=6), fake)

    assert sorted(deleted) == sorted([too_old, of_cancelled, unknown_and_old])
    assert set(fake.throughputs) == {in_use, unknown_but_young}
    by_subject = {event.subject_id: event.payload for event in cleanup_events(sessions)}
    assert set(by_subject) == {stuck, cancelled, "unknown-job"}
    assert "past TUNEBOT_EVAL_MAX_HOURS (6 h)" in by_subject[stuck]["message"]
    assert by_subject[cancelled]["group_id"] == group_id


def test_a_delete_bedrock_refuses_is_retried_on_the_next_sweep(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    dataset_id = add_dataset(sessions, None)
    job_id = add_job(sessions, dataset_id, add_group(sessions, dataset_id), status="failed")
    fake = FakeBedrock(chart_answers, delete_fails=True)
    arn = fake.leave_behind(job_id, timedelta(minutes=1))
    settings = settings_for(tmp_path)

    assert sweep(sessions, settings, fake) == []
    assert cleanup_events(sessions) == []
    fake.delete_fails = False
    assert sweep(sessions, settings, fake) == [arn]


def test_sandbox_cleanups_say_sandbox(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    dataset_id = add_dataset(sessions, None)
    job_id = add_job(sessions, dataset_id, add_group(sessions, dataset_id), status="done")
    with unit_of_work(sessions) as session:
        job = session.get(Job, job_id)
        assert job is not None
        job.sandbox = True
    fake = FakeBedrock(chart_answers)
    fake.leave_behind(job_id, timedelta(minutes=1))
    sweep(sessions, settings_for(tmp_path), fake)
    (event,) = cleanup_events(sessions)
    assert event.payload["message"].startswith("sandbox: simulated results — charts-11b: deleted")

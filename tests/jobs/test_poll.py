"""Following jobs: one list call per page, a Get only on change, and each outcome recorded once."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.aws.clients import make_s3_client
from services.jobs.deps import JobDeps
from services.jobs.poll import poll_once
from services.jobs.service import cancel_job
from services.platform.errors import DomainError, ErrorKind
from services.platform.tables import Event
from tests.jobs.conftest import BUCKET, REGION, launch_one, moto_jobs, the_job

TRAINING_CSV = "step_number,epoch_number,training_loss,perplexity\n" + "".join(
    f"{step},{(step - 1) // 4},{2.5 - step * 0.1:.2f},{10 - step * 0.3:.2f}\n" for step in range(1, 13)
)
VALIDATION_CSV = "validation_loss\n2.1\n1.7\n1.5\n"


def event_types(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as session:
        return [event.type for event in session.scalars(select(Event).order_by(Event.id))]


def last_event(sessions: sessionmaker[Session]) -> Event:
    with sessions() as session:
        return session.scalars(select(Event).order_by(Event.id.desc()).limit(1)).one()


def write_metrics(output_s3_uri: str) -> None:
    prefix = output_s3_uri.removeprefix(f"s3://{BUCKET}/")
    folder = f"{prefix}/model-customization-job-abc123/training_artifacts"
    s3 = make_s3_client(REGION, None)
    s3.put_object(Bucket=BUCKET, Key=f"{folder}/step_wise_training_metrics.csv", Body=TRAINING_CSV.encode())
    s3.put_object(Bucket=BUCKET, Key=f"{folder}/validation_metrics.csv", Body=VALIDATION_CSV.encode())


def test_a_completed_job_gets_its_curves_and_a_loss_png_then_waits_for_evaluation(
    deps: JobDeps, dataset_id: str
) -> None:
    job = launch_one(deps, dataset_id)
    assert job.output_s3_uri is not None
    write_metrics(job.output_s3_uri)
    moto_jobs()[job.bedrock_job_name].status = "Completed"

    report = poll_once(deps)

    assert (report.list_calls, report.get_calls, report.changed) == (1, 1, [job.id])
    done = the_job(deps.sessions, job.id)
    assert done.status == "evaluating"
    assert done.metrics is not None
    assert [point["loss"] for point in done.metrics["validation"]] == [2.1, 1.7, 1.5]
    assert [point["step"] for point in done.metrics["validation"]] == [4, 8, 12]
    assert done.metrics["final_training_loss"] == pytest.approx(1.3)
    assert done.loss_curve_path is not None
    assert Path(done.loss_curve_path).read_bytes().startswith(b"\x89PNG")
    assert done.output_model_arn is not None
    completed = last_event(deps.sessions)
    assert completed.type == "job.completed"
    assert completed.payload["final_validation_loss"] == 1.5

    again = poll_once(deps)  # nothing active any more: no call at all, no second event
    assert (again.list_calls, again.get_calls) == (0, 0)
    assert event_types(deps.sessions).count("job.completed") == 1


def test_without_evaluation_a_completed_job_is_done_even_when_metrics_are_missing(
    deps: JobDeps, dataset_id: str
) -> None:
    job = launch_one(deps, dataset_id, evaluate=False)
    moto_jobs()[job.bedrock_job_name].status = "Completed"

    poll_once(deps)

    done = the_job(deps.sessions, job.id)
    assert (done.status, done.metrics, done.loss_curve_path) == ("done", None, None)
    assert "no metrics files found" in last_event(deps.sessions).payload["message"]


def test_a_failed_job_keeps_bedrocks_message_and_adds_the_likely_fix(deps: JobDeps, dataset_id: str) -> None:
    job = launch_one(deps, dataset_id)
    moto = moto_jobs()[job.bedrock_job_name]
    moto.status = "Failed"
    moto.failure_message = (
        "AccessDenied: Bedrock is not authorized to read s3://tunebot-test/tunebot/datasets"
    )

    poll_once(deps)

    failed = the_job(deps.sessions, job.id)
    assert failed.status == "failed"
    assert failed.failure_message == moto.failure_message
    assert failed.failure_hint is not None and "TUNEBOT_ROLE_ARN" in failed.failure_hint
    event = last_event(deps.sessions)
    assert (event.type, event.payload["failure_hint"]) == ("job.failed", failed.failure_hint)


def test_cancelling_a_training_job_stops_it_and_the_poll_confirms_it_once(
    deps: JobDeps, dataset_id: str
) -> None:
    job = launch_one(deps, dataset_id)

    cancelling = cancel_job(deps, job.id, requested_by="U1")

    assert cancelling.status == "cancelling"
    assert moto_jobs()[job.bedrock_job_name].status == "Stopped"
    assert "cannot be resumed" in last_event(deps.sessions).payload["message"]
    poll_once(deps)
    poll_once(deps)
    assert the_job(deps.sessions, job.id).status == "cancelled"
    assert event_types(deps.sessions)[-2:] == ["job.status", "job.cancelled"]
    assert "billed" in last_event(deps.sessions).payload["message"]


def test_a_waiting_job_is_cancelled_without_calling_bedrock(
    deps: JobDeps, dataset_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deps.settings, "max_concurrent_jobs", 1)
    launch_one(deps, dataset_id, key="first")
    waiting = launch_one(deps, dataset_id, key="second")
    assert waiting.status == "queued"

    cancelled = cancel_job(deps, waiting.id)

    assert cancelled.status == "cancelled"
    assert len(moto_jobs()) == 1
    assert "nothing was billed" in last_event(deps.sessions).payload["message"]
    with pytest.raises(DomainError) as again:
        cancel_job(deps, waiting.id)
    assert (again.value.kind, again.value.code) == (ErrorKind.CONFLICT, "not_cancellable")
    with pytest.raises(DomainError) as unknown:
        cancel_job(deps, "no-such-job")
    assert unknown.value.kind is ErrorKind.NOT_FOUND


def test_a_poll_lists_once_and_gets_only_the_jobs_that_changed(deps: JobDeps, dataset_id: str) -> None:
    deps.settings.max_concurrent_jobs = 5
    jobs = [launch_one(deps, dataset_id, key=f"k{index}") for index in range(4)]
    first = poll_once(deps)  # adoption-free launches already know "InProgress": nothing changed
    assert (first.list_calls, first.get_calls) == (1, 0)
    moto_jobs()[jobs[2].bedrock_job_name].status = "Stopping"

    report = poll_once(deps)

    assert (report.list_calls, report.get_calls, report.changed) == (1, 1, [jobs[2].id])
    assert the_job(deps.sessions, jobs[2].id).status == "cancelling"

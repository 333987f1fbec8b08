"""S3 answering 503 when a job completes: botocore's retries first, then the completion waits for the
next poll (nothing recorded, the metrics not lost), and after TUNEBOT_METRICS_UNREADABLE_SECONDS the job
completes and says plainly that its metrics could not be read. The errors are S3's own answers at
botocore's send boundary (tests/aws/http_answers.py), so botocore's retry mode judges them as AWS's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from services.aws.bedrock import BedrockJobs
from services.aws.clients import ClientOptions, bedrock_client, s3_client
from services.aws.s3 import JobOutputs
from services.jobs.deps import JobDeps
from services.jobs.poll import poll_once
from services.platform.tables import utcnow
from services.tuning.pricing import load_prices
from tests.aws.http_answers import HttpAnswers, s3_error
from tests.jobs.conftest import (
    AUTH,
    REGION,
    add_dataset,
    as_if_unreadable_for,
    events,
    launch_one,
    moto_jobs,
    sessions_of,
    settings_for,
    the_job,
)
from tests.jobs.test_poll import write_metrics

BOUND_SECONDS = 1200
ATTEMPTS = 3  # botocore's attempts per call in these tests (the first and two retries)


@pytest.fixture
def s3(aws: None) -> Any:
    return s3_client(ClientOptions(REGION, None, max_attempts=ATTEMPTS))


@pytest.fixture
def deps(aws: None, sessions: sessionmaker[Session], tmp_path: Path, s3: Any) -> JobDeps:
    settings = settings_for(tmp_path, metrics_unreadable_seconds=BOUND_SECONDS)
    return JobDeps(
        sessions=sessions,
        bedrock=BedrockJobs(bedrock_client(ClientOptions(REGION, None))),
        outputs=JobOutputs(s3),
        settings=settings,
        prices=load_prices(),
        owner="replica-1",
    )


def test_a_503_burst_longer_than_botocores_retries_holds_the_completion_and_keeps_the_metrics(
    deps: JobDeps, dataset_id: str, s3: Any, retry_delays: list[float]
) -> None:
    job = launch_one(deps, dataset_id, evaluate=False)
    assert job.output_s3_uri is not None
    write_metrics(job.output_s3_uri)
    moto_jobs()[job.bedrock_job_name].status = "Completed"
    # A burst of SlowDown: every attempt of this poll, and one more for the next read.
    burst = HttpAnswers(s3, "ListObjectsV2", [s3_error("SlowDown", 503)] * (ATTEMPTS + 1))

    first = poll_once(deps)

    assert burst.calls == ATTEMPTS, "botocore retried the 503s before giving up"
    assert len(retry_delays) == ATTEMPTS - 1
    held = the_job(deps.sessions, job.id)
    assert held.status == "training", "not done without its metrics"
    assert first.changed == [] and events(deps.sessions, "job.completed") == []
    assert held.status_read_error is not None and "SlowDown" in held.status_read_error
    assert held.status_next_read_at is not None and held.status_next_read_at > utcnow()
    assert deps.outputs.unavailable() == "SlowDown"

    poll_once(deps)  # within the backoff: S3 is not read again
    assert burst.calls == ATTEMPTS

    as_if_unreadable_for(deps.sessions, job.id, 60)
    second = poll_once(deps)  # the burst's last 503, then botocore's retry gets through

    assert burst.calls == ATTEMPTS + 2
    done = the_job(deps.sessions, job.id)
    assert second.changed == [job.id] and done.status == "done"
    assert done.metrics is not None and done.metrics["final_validation_loss"] == 1.5
    assert done.loss_curve_path is not None and Path(done.loss_curve_path).read_bytes().startswith(b"\x89PNG")
    assert (done.status_unreadable_since, done.status_next_read_at, done.status_read_error) == (
        None,
        None,
        None,
    )
    [completed] = events(deps.sessions, "job.completed")
    assert completed.payload["final_validation_loss"] == 1.5
    assert "could not be read" not in completed.payload["message"]
    assert deps.outputs.unavailable() is None


def test_after_the_bound_the_job_completes_and_says_its_metrics_could_not_be_read(
    deps: JobDeps, dataset_id: str, s3: Any, retry_delays: list[float]
) -> None:
    job = launch_one(deps, dataset_id, evaluate=False)
    assert job.output_s3_uri is not None
    write_metrics(job.output_s3_uri)
    moto_jobs()[job.bedrock_job_name].status = "Completed"
    down = HttpAnswers(s3, "ListObjectsV2", [s3_error("ServiceUnavailable", 503)] * (3 * ATTEMPTS))

    poll_once(deps)
    as_if_unreadable_for(deps.sessions, job.id, BOUND_SECONDS / 2)
    poll_once(deps)
    assert the_job(deps.sessions, job.id).status == "training", "half the bound: still waiting"
    as_if_unreadable_for(deps.sessions, job.id, BOUND_SECONDS)
    poll_once(deps)

    assert down.calls == 3 * ATTEMPTS
    done = the_job(deps.sessions, job.id)
    assert (done.status, done.metrics, done.loss_curve_path) == ("done", None, None)
    [completed] = events(deps.sessions, "job.completed")
    assert (
        "training completed (its metrics could not be read from S3 for 20 minutes (ServiceUnavailable)"
        in (completed.payload["message"])
    )
    assert completed.payload["final_training_loss"] is None


def test_readyz_says_not_ready_while_s3_fails_and_ready_again_once_the_metrics_are_read(
    client: TestClient, retry_delays: list[float]
) -> None:
    sessions = sessions_of(client)
    body = {"dataset_id": add_dataset(sessions), "models": ["11b"], "evaluate": False, "requested_by": "U1"}
    launched = client.post("/api/v1/jobs", json=body, headers={**AUTH, "Idempotency-Key": "slack-C1-1.1"})
    job = launched.json()["jobs"][0]
    write_metrics(job["output_s3_uri"])
    moto_jobs()[job["bedrock_job_name"]].status = "Completed"
    deps: JobDeps = client.app.state.runtime.wiring.job_deps  # type: ignore[attr-defined]
    attempts = deps.settings.aws_max_attempts
    HttpAnswers(deps.outputs.client, "ListObjectsV2", [s3_error("SlowDown", 503)] * attempts)

    poll_once(deps)

    not_ready = client.get("/readyz")
    assert not_ready.status_code == 503
    assert not_ready.json()["reason"].startswith("S3 unavailable (SlowDown)")
    assert client.get("/healthz").status_code == 200
    assert client.get(f"/api/v1/jobs/{job['id']}", headers=AUTH).json()["status"] == "training"

    as_if_unreadable_for(sessions, job["id"], 60)
    poll_once(deps)  # S3 answers again

    assert client.get("/readyz").status_code == 200
    shown = client.get(f"/api/v1/jobs/{job['id']}", headers=AUTH).json()
    assert shown["status"] == "done"
    assert shown["metrics"]["final_validation_loss"] == 1.5

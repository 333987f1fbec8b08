"""Slots and refusals: jobs wait in launch order for a slot or quota; throttling is retried with backoff."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.aws.bedrock import BedrockJobs
from services.aws.clients import make_bedrock_client
from services.jobs.deps import JobDeps
from services.jobs.poll import poll_once
from services.jobs.service import launch_jobs
from services.platform.tables import Event, Job
from tests.aws.http_answers import HttpAnswers, error
from tests.jobs.conftest import REGION, launch_request, make_deps, moto_jobs, settings_for


def refusals_of(client: Any, operation: str, errors: list[tuple[str, int]]) -> HttpAnswers:
    """The next HTTP attempts of one operation answered with errors, at botocore's send boundary, before
    moto: botocore's retry mode judges them as it would AWS's."""
    return HttpAnswers(client, operation, [error(code, status) for code, status in errors])


def jobs_by_age(sessions: sessionmaker[Session]) -> list[Job]:
    with sessions() as session:
        return list(session.scalars(select(Job).order_by(Job.created_at, Job.id)))


def types(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as session:
        return [event.type for event in session.scalars(select(Event).order_by(Event.id))]


@pytest.fixture
def client(aws: None) -> Any:
    return make_bedrock_client(REGION, None)


@pytest.fixture
def quota_deps(sessions: sessionmaker[Session], tmp_path: Path, client: Any) -> JobDeps:
    return make_deps(sessions, settings_for(tmp_path), bedrock=BedrockJobs(client))


def test_launches_above_the_limit_wait_and_start_in_order_as_slots_free(
    quota_deps: JobDeps, dataset_id: str
) -> None:
    for index in range(4):
        launch_jobs(quota_deps, launch_request(dataset_id, key=f"k{index}"))
    jobs = jobs_by_age(quota_deps.sessions)
    assert [job.status for job in jobs] == ["training", "training", "queued", "queued"]
    assert len(moto_jobs()) == 2
    with quota_deps.sessions() as session:
        positions = [
            e.payload["position"] for e in session.scalars(select(Event).where(Event.type == "job.queued"))
        ]
    assert positions == [1, 2]

    moto_jobs()[jobs[1].bedrock_job_name].status = "Failed"
    poll_once(quota_deps)

    assert [job.status for job in jobs_by_age(quota_deps.sessions)] == [
        "training",
        "failed",
        "training",
        "queued",
    ]
    assert jobs[2].bedrock_job_name in moto_jobs() and jobs[3].bedrock_job_name not in moto_jobs()
    assert types(quota_deps.sessions).count("job.queued") == 2  # no repeat for a job still waiting


def test_a_quota_refusal_queues_the_job_until_a_later_tick_succeeds(
    quota_deps: JobDeps, dataset_id: str, client: Any
) -> None:
    refusals = refusals_of(
        client, "CreateModelCustomizationJob", [("ServiceQuotaExceededException", 400)] * 2
    )

    launch_jobs(quota_deps, launch_request(dataset_id))
    [job] = jobs_by_age(quota_deps.sessions)
    assert job.status == "queued"
    poll_once(quota_deps)  # refused again: still queued, and not announced twice
    assert jobs_by_age(quota_deps.sessions)[0].status == "queued"
    poll_once(quota_deps)

    assert jobs_by_age(quota_deps.sessions)[0].status == "training"
    assert refusals.calls == 3
    assert types(quota_deps.sessions) == ["job.created", "job.queued", "job.submitted"]
    assert list(moto_jobs()) == [job.bedrock_job_name]


def test_throttling_and_server_errors_are_retried_by_botocore_with_backoff(
    quota_deps: JobDeps, dataset_id: str, client: Any, retry_delays: list[float]
) -> None:
    refusals = refusals_of(
        client,
        "CreateModelCustomizationJob",
        [("ThrottlingException", 429), ("InternalServerException", 500), ("ThrottlingException", 429)],
    )

    launch_jobs(quota_deps, launch_request(dataset_id))

    assert jobs_by_age(quota_deps.sessions)[0].status == "training"
    assert refusals.calls == 4
    # botocore's standard mode: a full-jitter delay within [0, 2^(n-1)] s before retry n.
    assert len(retry_delays) == 3
    assert all(0 <= delay <= 2**index for index, delay in enumerate(retry_delays))
    assert len(moto_jobs()) == 1


def test_throttling_that_outlasts_the_retries_postpones_the_job_to_the_next_tick(
    quota_deps: JobDeps, dataset_id: str, client: Any, retry_delays: list[float]
) -> None:
    refusals = refusals_of(client, "CreateModelCustomizationJob", [("ThrottlingException", 429)] * 5)

    launch_jobs(quota_deps, launch_request(dataset_id))
    assert jobs_by_age(quota_deps.sessions)[0].status == "queued"
    assert refusals.calls == quota_deps.settings.aws_max_attempts == 5  # botocore gave up, tunebot waits
    poll_once(quota_deps)

    assert jobs_by_age(quota_deps.sessions)[0].status == "training"
    assert len(moto_jobs()) == 1


def test_other_refusals_fail_the_job_with_bedrocks_message_and_a_fix(
    quota_deps: JobDeps, dataset_id: str, client: Any
) -> None:
    refusals_of(client, "CreateModelCustomizationJob", [("ValidationException", 400)])

    launch_jobs(quota_deps, launch_request(dataset_id))

    [job] = jobs_by_age(quota_deps.sessions)
    assert (job.status, job.failure_message) == ("failed", "ValidationException (injected)")
    assert job.failure_hint
    assert types(quota_deps.sessions)[-1] == "job.failed"


def test_the_poll_lists_over_a_hundred_active_jobs_in_one_call(
    quota_deps: JobDeps, dataset_id: str, client: Any
) -> None:
    quota_deps.settings.max_concurrent_jobs = 100
    lists = refusals_of(client, "ListModelCustomizationJobs", [])
    gets = refusals_of(client, "GetModelCustomizationJob", [])
    for index in range(120):
        launch_jobs(quota_deps, launch_request(dataset_id, key=f"k{index}"))
    for job in list(moto_jobs().values())[:3]:
        job.status = "Completed"
    gets.calls = 0

    report = poll_once(quota_deps)

    assert (lists.calls, report.list_calls) == (1, 1)
    assert gets.calls == report.get_calls == 3


def test_a_throttled_list_during_a_poll_is_retried_and_the_tick_goes_on(
    quota_deps: JobDeps, dataset_id: str, client: Any, retry_delays: list[float]
) -> None:
    [job_id] = launch_jobs(quota_deps, launch_request(dataset_id)).job_ids
    job = jobs_by_age(quota_deps.sessions)[0]
    moto_jobs()[job.bedrock_job_name].status = "Failed"
    lists = refusals_of(client, "ListModelCustomizationJobs", [("ThrottlingException", 400)])

    report = poll_once(quota_deps)

    assert (lists.calls, report.list_calls, report.changed) == (2, 1, [job_id])
    assert len(retry_delays) == 1
    assert jobs_by_age(quota_deps.sessions)[0].status == "failed"

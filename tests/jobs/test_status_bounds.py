"""Every state has a way out: a job whose status Bedrock cannot report is asked again with backoff and,
after a bound (at once when Bedrock no longer knows it), fails with a reason, frees its slot and says so."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.aws.bedrock import BedrockJobs
from services.aws.clients import ClientOptions, bedrock_client
from services.jobs.deps import JobDeps
from services.jobs.poll import poll_once
from services.jobs.service import launch_jobs
from services.platform.tables import Job, utcnow
from tests.aws.http_answers import HttpAnswers, error
from tests.jobs.conftest import (
    REGION,
    as_if_unreadable_for,
    events,
    launch_request,
    make_deps,
    moto_jobs,
    settings_for,
)

BOUND_SECONDS = 600


@pytest.fixture
def client(aws: None) -> Any:
    """One attempt per call: botocore's own retries are tested in tests/aws; here each failed read counts."""
    return bedrock_client(ClientOptions(REGION, None, max_attempts=1))


@pytest.fixture
def bounded(sessions: sessionmaker[Session], tmp_path: Path, client: Any) -> JobDeps:
    settings = settings_for(tmp_path, max_concurrent_jobs=1, status_unreadable_seconds=BOUND_SECONDS)
    return make_deps(sessions, settings, bedrock=BedrockJobs(client))


def refusals(client: Any, operation: str, code: str, status: int, times: int) -> HttpAnswers:
    return HttpAnswers(client, operation, [error(code, status)] * times)


def jobs(sessions: sessionmaker[Session]) -> list[Job]:
    with sessions() as session:
        return list(session.scalars(select(Job).order_by(Job.created_at, Job.id)))


def launch_two(deps: JobDeps, dataset_id: str) -> tuple[str, str]:
    first = launch_jobs(deps, launch_request(dataset_id, key="first")).job_ids[0]
    second = launch_jobs(deps, launch_request(dataset_id, key="second")).job_ids[0]
    return first, second


def test_a_job_bedrock_no_longer_knows_fails_at_once_and_the_queued_job_takes_its_slot(
    bounded: JobDeps, dataset_id: str
) -> None:
    first, second = launch_two(bounded, dataset_id)
    assert [job.status for job in jobs(bounded.sessions)] == ["training", "queued"]
    del moto_jobs()[jobs(bounded.sessions)[0].bedrock_job_name]  # e.g. the sandbox restarted

    report = poll_once(bounded)

    gone, started = jobs(bounded.sessions)
    assert (gone.id, started.id) == (first, second)
    assert gone.status == "failed" and started.status == "training"
    assert gone.failure_message is not None
    assert gone.failure_message.startswith("Bedrock no longer knows this job (ResourceNotFoundException)")
    assert "freed its slot" in gone.failure_message
    assert gone.failure_hint == "launch it again if you still need it"
    [failed] = events(bounded.sessions, "job.failed")
    assert failed.subject_id == first and "Bedrock no longer knows this job" in failed.payload["message"]
    assert report.changed == [first] and report.submitted == 1


def test_a_status_that_cannot_be_read_is_asked_again_with_backoff_and_fails_after_the_bound(
    bounded: JobDeps,
    dataset_id: str,
    client: Any,
) -> None:
    first, second = launch_two(bounded, dataset_id)
    moto_jobs()[jobs(bounded.sessions)[0].bedrock_job_name].status = "Completed"  # a change to read
    denied = refusals(client, "GetModelCustomizationJob", "AccessDeniedException", 403, 3)

    poll_once(bounded)
    waiting = jobs(bounded.sessions)[0]
    assert waiting.status == "training", "one failed read is not the end"
    assert waiting.status_unreadable_since is not None and waiting.status_next_read_at is not None
    assert waiting.status_next_read_at > utcnow(), "the next read waits (backoff)"
    assert waiting.status_read_error is not None and "AccessDeniedException" in waiting.status_read_error

    poll_once(bounded)  # within the backoff: Bedrock is not asked again
    assert denied.calls == 1

    as_if_unreadable_for(bounded.sessions, first, 60)
    poll_once(bounded)
    later = jobs(bounded.sessions)[0]
    assert denied.calls == 2 and later.status == "training"
    assert later.status_next_read_at is not None
    assert later.status_next_read_at - utcnow() >= timedelta(seconds=55), "the wait grew with the outage"

    as_if_unreadable_for(bounded.sessions, first, BOUND_SECONDS)
    poll_once(bounded)

    given_up, started = jobs(bounded.sessions)
    assert denied.calls == 3
    assert given_up.status == "failed" and started.id == second and started.status == "training"
    assert given_up.failure_message is not None
    assert given_up.failure_message.startswith(
        "tunebot could not read this job's status from Bedrock for 10 minutes (AccessDeniedException"
    )
    assert given_up.failure_hint is not None and "Bedrock console" in given_up.failure_hint
    assert [event.subject_id for event in events(bounded.sessions, "job.failed")] == [first]


def test_a_status_readable_again_before_the_bound_carries_on_as_if_nothing_happened(
    bounded: JobDeps,
    dataset_id: str,
    client: Any,
) -> None:
    first, _second = launch_two(bounded, dataset_id)
    refusals(client, "GetModelCustomizationJob", "ThrottlingException", 400, 1)
    refusals(client, "ListModelCustomizationJobs", "InternalServerException", 500, 1)

    poll_once(bounded)  # the list fails too: the job's own Get decides, and it is throttled
    assert jobs(bounded.sessions)[0].status_unreadable_since is not None

    moto_jobs()[jobs(bounded.sessions)[0].bedrock_job_name].status = "Completed"
    as_if_unreadable_for(bounded.sessions, first, BOUND_SECONDS - 60)
    poll_once(bounded)

    done = jobs(bounded.sessions)[0]
    assert done.status == "evaluating"
    assert done.status_unreadable_since is None and done.status_next_read_at is None
    assert done.status_read_error is None
    assert events(bounded.sessions, "job.failed") == []
    assert len(events(bounded.sessions, "job.completed")) == 1

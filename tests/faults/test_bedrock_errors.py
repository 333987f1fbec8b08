"""Bedrock's errors, injected by the proxy in front of moto into a running service: throttling and 5xx are
retried, a quota refusal queues, a validation refusal fails the job with Bedrock's message, and a
status Bedrock will not give (or a job it forgot) ends the job within its bound, with its slot freed."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from services.jobs.model import JobStatus
from tests.faults.harness import (
    BOUND_SECONDS,
    UNREADABLE_SECONDS,
    Counts,
    Replica,
    bedrock_jobs_by_row,
    complete_on_bedrock,
    count,
    events_of,
    finish,
    jobs_in,
    status_of,
    wait_until,
)
from tests.faults.proxy import FaultProxy, Rule
from tests.jobs.conftest import moto_jobs


def test_throttling_5xx_quota_and_validation_refusals(
    replicas: list[Replica],
    proxy: FaultProxy,
    sessions: sessionmaker[Session],
    dataset: str,
    record_counts: list[Counts],
) -> None:
    proxy.add(Rule("CreateModelCustomizationJob", error="validation"))
    refused = replicas[0].launch(dataset, "validation")
    assert refused.status_code == 201, refused.text
    refused_id = refused.json()["jobs"][0]["id"]
    assert status_of(sessions, refused_id) == JobStatus.FAILED

    proxy.add(Rule("CreateModelCustomizationJob", error="throttling", times=3))
    throttled = replicas[-1].launch(dataset, "throttling").json()["jobs"][0]["id"]
    assert status_of(sessions, throttled) == JobStatus.TRAINING, "retried with backoff within the call"

    proxy.add(Rule("CreateModelCustomizationJob", error="quota"))
    queued = replicas[0].launch(dataset, "quota").json()["jobs"][0]["id"]
    assert status_of(sessions, queued) == JobStatus.QUEUED
    wait_until(lambda: status_of(sessions, queued) == JobStatus.TRAINING, BOUND_SECONDS, replicas[0].tail)

    proxy.add(Rule("ListModelCustomizationJobs", error="internal", times=2))
    proxy.add(Rule("GetModelCustomizationJob", error="5xx", times=2))

    finish(sessions, replicas)

    counts = count(sessions, f"injected throttling, 5xx, quota, validation ({len(replicas)} replicas)")
    record_counts.append(counts)
    assert counts.statuses == {"done": 2, "failed": 1}, counts.line()
    assert list(counts.bedrock_jobs_per_job.values()) == [1, 1], counts.line()
    assert list(counts.completed_events_per_job.values()) == [1, 1], counts.line()
    assert bedrock_jobs_by_row().get(refused_id, 0) == 0
    [failed] = [job for job in jobs_in(sessions) if job.id == refused_id]
    assert failed.failure_message == "ValidationException (injected)", "Bedrock's own message is kept"
    assert proxy.calls["CreateModelCustomizationJob"] >= 1 + 4 + 2


def test_a_status_bedrock_will_not_give_or_a_job_it_forgot_ends_within_the_bound(
    replicas: list[Replica],
    proxy: FaultProxy,
    sessions: sessionmaker[Session],
    dataset: str,
    record_counts: list[Counts],
) -> None:
    denied = replicas[0].launch(dataset, "denied").json()["jobs"][0]["id"]
    proxy.add(Rule("GetModelCustomizationJob", error="access", times=-1))
    assert complete_on_bedrock() == 1  # a change to read, which Bedrock refuses to show from now on
    wait_until(lambda: status_of(sessions, denied) == JobStatus.FAILED, BOUND_SECONDS, replicas[0].tail)
    proxy.clear()

    forgotten = replicas[-1].launch(dataset, "forgotten").json()["jobs"][0]["id"]
    name = next(job.bedrock_job_name for job in jobs_in(sessions) if job.id == forgotten)
    del moto_jobs()[name]
    wait_until(lambda: status_of(sessions, forgotten) == JobStatus.FAILED, BOUND_SECONDS, replicas[0].tail)

    counts = count(sessions, f"status unreadable / job forgotten ({len(replicas)} replicas)")
    record_counts.append(counts)
    assert counts.non_final == 0 and counts.statuses == {"failed": 2}, counts.line()
    by_id = {job.id: job for job in jobs_in(sessions)}
    denied_message = by_id[denied].failure_message or ""
    assert denied_message.startswith("tunebot could not read this job's status from Bedrock for ")
    assert "(AccessDeniedException: AccessDeniedException (injected))" in denied_message
    assert "freed its slot" in denied_message
    assert by_id[denied].finished_at is not None and by_id[denied].submitted_at is not None
    took = (by_id[denied].finished_at - by_id[denied].submitted_at).total_seconds()
    counts.scenario += (
        f"; the unreadable job failed {took:.0f} s after submission (bound {UNREADABLE_SECONDS} s)"
    )
    assert (by_id[forgotten].failure_message or "").startswith("Bedrock no longer knows this job")
    assert sorted(event.subject_id for event in events_of(sessions, "job.failed")) == sorted(
        [denied, forgotten]
    )

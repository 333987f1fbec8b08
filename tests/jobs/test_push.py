"""Push: Bedrock's job state changes through moto's EventBridge (a rule on Bedrock's event) into moto's SQS,
applied by the poll's guarded apply: duplicates and out-of-order events change nothing.

The event is the one Bedrock documents for a model customization job ("How EventBridge for Amazon Bedrock
works", https://docs.aws.amazon.com/bedrock/latest/userguide/monitoring-eventbridge-how-it-works.html):
``source`` aws.bedrock, ``detail-type`` "Model Customization Job State Change", ``resources`` [the job's
ARN], ``detail`` with ``version`` "0.0", ``jobName``, ``jobArn`` and ``outputModelName``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.aws.bedrock import BedrockJobs, JobDetail
from services.aws.clients import ClientOptions, make_client
from services.aws.errors import TransientError
from services.aws.queue import EVENT_DETAIL_TYPE, EVENT_PATTERN, EVENT_SOURCE, JobEventQueue
from services.jobs.deps import JobDeps
from services.jobs.poll import follow_one, poll_once
from services.jobs.push import handle_events
from services.platform.tables import Event
from tests.jobs.conftest import (
    ACCOUNT,
    AUTH,
    REGION,
    add_dataset,
    launch_one,
    make_deps,
    moto_jobs,
    sessions_of,
    the_job,
)
from tests.servers import ready_service, service_env, set_env

RULE = "tunebot-job-events"


def aws_client(service: str) -> Any:
    return make_client(service, ClientOptions(REGION))


@pytest.fixture
def queue_url(aws: None) -> str:
    """An SQS queue that an EventBridge rule on Bedrock's job events delivers to, as the README sets up."""
    sqs = aws_client("sqs")
    url: str = sqs.create_queue(QueueName=RULE)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events = aws_client("events")
    events.put_rule(Name=RULE, EventPattern=json.dumps(EVENT_PATTERN))
    events.put_targets(Rule=RULE, Targets=[{"Id": "queue", "Arn": arn}])
    return url


@pytest.fixture
def queue(queue_url: str) -> JobEventQueue:
    return JobEventQueue(aws_client("sqs"), queue_url)


def publish(job_name: str) -> None:
    """What Bedrock publishes when the job's state changes (its documented event shape)."""
    arn = moto_jobs()[job_name].job_arn
    detail = {"version": "0.0", "jobName": job_name, "jobArn": arn, "outputModelName": f"{job_name}-model"}
    answer = aws_client("events").put_events(
        Entries=[
            {
                "Source": EVENT_SOURCE,
                "DetailType": EVENT_DETAIL_TYPE,
                "Resources": [arn],
                "Detail": json.dumps(detail),
            }
        ]
    )
    assert answer["FailedEntryCount"] == 0


def waiting_messages(queue_url: str) -> int:
    attributes = aws_client("sqs").get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def events_of(sessions: sessionmaker[Session], job_id: str) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(Event.type).where(Event.subject_id == job_id).order_by(Event.id)))


def test_a_state_change_event_reaches_the_outbox_without_a_poll(
    deps: JobDeps, dataset_id: str, queue: JobEventQueue, queue_url: str
) -> None:
    job = launch_one(deps, dataset_id, evaluate=False)
    moto_jobs()[job.bedrock_job_name].status = "Failed"
    moto_jobs()[job.bedrock_job_name].failure_message = "Bedrock is not authorized to read s3://x"
    publish(job.bedrock_job_name)

    report = handle_events(deps, queue, wait_seconds=1)

    assert (report.received, report.changed) == (1, [job.bedrock_job_name])
    failed = the_job(deps.sessions, job.id)
    assert (failed.status, failed.failure_message) == ("failed", "Bedrock is not authorized to read s3://x")
    assert events_of(deps.sessions, job.id)[-1] == "job.failed"
    assert waiting_messages(queue_url) == 0  # handled messages are deleted


def test_duplicate_events_announce_the_change_once(
    deps: JobDeps, dataset_id: str, queue: JobEventQueue, queue_url: str
) -> None:
    job = launch_one(deps, dataset_id, evaluate=False)
    moto_jobs()[job.bedrock_job_name].status = "Completed"
    for _ in range(3):  # EventBridge delivers at least once; SQS too
        publish(job.bedrock_job_name)

    reports = [handle_events(deps, queue, wait_seconds=1) for _ in range(3)]

    assert sum(report.received for report in reports) == 3
    assert [name for report in reports for name in report.changed] == [job.bedrock_job_name]
    assert the_job(deps.sessions, job.id).status == "done"
    assert events_of(deps.sessions, job.id).count("job.completed") == 1
    assert poll_once(deps).changed == []  # the reconciling poll finds nothing left to do
    assert waiting_messages(queue_url) == 0


def test_a_late_event_of_an_older_state_changes_nothing(
    deps: JobDeps, dataset_id: str, queue: JobEventQueue
) -> None:
    job = launch_one(deps, dataset_id, evaluate=False)
    moto = moto_jobs()[job.bedrock_job_name]
    moto.status = "Stopping"
    publish(job.bedrock_job_name)  # the Stopping event, delivered late ...
    moto.status = "Stopped"
    publish(job.bedrock_job_name)
    assert follow_one(deps, job.bedrock_job_name)  # ... after the Stopped one was applied
    assert the_job(deps.sessions, job.id).status == "cancelled"
    before = events_of(deps.sessions, job.id)

    report = handle_events(deps, queue, wait_seconds=1)

    assert report.received == 2 and report.changed == []
    assert the_job(deps.sessions, job.id).status == "cancelled"
    assert events_of(deps.sessions, job.id) == before


class StaleAfterRace(BedrockJobs):
    """Bedrock's answer to one slow reader: while its Get is in flight, another reader records a newer
    state, and then the slow Get returns the older one it read."""

    def __init__(self, inner: BedrockJobs, on_get: Any) -> None:
        self._inner = inner
        self._on_get = on_get

    def get_job(self, name: str) -> JobDetail:
        older = self._inner.get_job(name)
        self._on_get()
        return older


def test_a_slow_reader_never_overwrites_a_newer_status(
    deps: JobDeps, dataset_id: str, sessions: sessionmaker[Session]
) -> None:
    job = launch_one(deps, dataset_id, evaluate=False)
    moto = moto_jobs()[job.bedrock_job_name]
    moto.status = "Stopping"

    def another_replica_sees_stopped() -> None:
        moto.status = "Stopped"
        assert follow_one(deps, job.bedrock_job_name)

    slow = make_deps(
        sessions,
        deps.settings,
        owner="replica-2",
        bedrock=StaleAfterRace(deps.bedrock, another_replica_sees_stopped),
    )

    assert follow_one(slow, job.bedrock_job_name) is False

    settled = the_job(deps.sessions, job.id)
    assert (settled.status, settled.bedrock_status) == ("cancelled", "Stopped")
    assert events_of(deps.sessions, job.id).count("job.status") == 0  # no "stopping" after "stopped"


def test_messages_that_are_not_bedrock_job_events_are_dropped_and_change_nothing(
    deps: JobDeps, dataset_id: str, queue: JobEventQueue, queue_url: str
) -> None:
    job = launch_one(deps, dataset_id, evaluate=False)
    moto_jobs()[job.bedrock_job_name].status = "Completed"
    sqs = aws_client("sqs")
    for body in (
        "not json",
        json.dumps(["a", "list"]),
        json.dumps({"source": "aws.s3", "detail-type": "Object Created", "detail": {}}),
        json.dumps({"source": EVENT_SOURCE, "detail-type": EVENT_DETAIL_TYPE, "detail": {"jobArn": "x"}}),
        json.dumps(
            {
                "source": EVENT_SOURCE,
                "detail-type": EVENT_DETAIL_TYPE,
                "detail": {"jobName": "other-team-job"},
            }
        ),
    ):
        sqs.send_message(QueueUrl=queue_url, MessageBody=body)

    report = handle_events(deps, queue, wait_seconds=1)

    assert (report.received, report.unusable, report.changed) == (5, 4, [])
    assert the_job(deps.sessions, job.id).status == "training"  # only the poll will see it
    assert waiting_messages(queue_url) == 0


def test_a_finished_job_frees_its_slot_for_a_queued_one_at_once(
    deps: JobDeps, dataset_id: str, queue: JobEventQueue
) -> None:
    deps.settings.max_concurrent_jobs = 1
    first = launch_one(deps, dataset_id, key="first", evaluate=False)
    second = launch_one(deps, dataset_id, key="second", evaluate=False)
    assert second.status == "queued"
    moto_jobs()[first.bedrock_job_name].status = "Completed"
    publish(first.bedrock_job_name)

    report = handle_events(deps, queue, wait_seconds=1)

    assert report.submitted == 1
    assert the_job(deps.sessions, second.id).status == "training"


@pytest.fixture
def push_client(
    queue_url: str, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    settings = service_env(
        database_url,
        tmp_path,
        TUNEBOT_POLL_SECONDS="5",
        TUNEBOT_EVENTS_QUEUE_URL=queue_url,
        TUNEBOT_RECONCILE_SECONDS="3600",  # the first poll runs at start-up, the next in an hour
    )
    set_env(monkeypatch, settings)
    with ready_service() as client:
        yield client


def test_the_service_listens_and_applies_a_pushed_change_while_the_poll_waits_an_hour(
    push_client: TestClient,
) -> None:
    sessions = sessions_of(push_client)
    dataset_id = add_dataset(sessions)
    launched = push_client.post(
        "/api/v1/jobs",
        headers={**AUTH, "Idempotency-Key": "push-1"},
        json={"dataset_id": dataset_id, "models": ["11b"], "requested_by": "U1", "evaluate": False},
    )
    assert launched.status_code == 201, launched.json()
    [job_id] = [job["id"] for job in launched.json()["jobs"]]
    job = the_job(sessions, job_id)
    assert job.status == "training"
    moto_jobs()[job.bedrock_job_name].status = "Completed"
    publish(job.bedrock_job_name)

    deadline = time.monotonic() + 60  # generous: one long poll of the listener is enough
    while the_job(sessions, job_id).status != "done":
        assert time.monotonic() < deadline, "the pushed change was not applied"
        time.sleep(0.1)
    assert events_of(sessions, job_id)[-1] == "job.completed"
    assert ACCOUNT in moto_jobs()[job.bedrock_job_name].job_arn


class Unreachable(BedrockJobs):
    """Bedrock timing out on every Get, after botocore's retries."""

    def __init__(self) -> None:
        pass

    def get_job(self, name: str) -> JobDetail:
        raise TransientError("ReadTimeoutError", "Read timeout on endpoint URL", "GetModelCustomizationJob")


def test_an_event_whose_job_bedrock_cannot_report_now_stays_on_the_queue(
    deps: JobDeps, dataset_id: str, queue: JobEventQueue, queue_url: str, sessions: sessionmaker[Session]
) -> None:
    job = launch_one(deps, dataset_id, evaluate=False)
    moto_jobs()[job.bedrock_job_name].status = "Completed"
    publish(job.bedrock_job_name)
    unreachable = make_deps(sessions, deps.settings, bedrock=Unreachable())

    report = handle_events(unreachable, queue, wait_seconds=1)

    assert (report.received, report.kept, report.changed) == (1, 1, [])
    assert waiting_messages(queue_url) == 1  # SQS delivers it again after its visibility timeout
    assert the_job(deps.sessions, job.id).status == "training"

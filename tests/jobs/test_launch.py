"""Launching: one idempotency key makes one group and one Bedrock job per model, whatever happens."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.aws.bedrock import BedrockJobs, JobSpec
from services.aws.clients import make_bedrock_client
from services.aws.errors import TransientError
from services.jobs.deps import JobDeps
from services.jobs.service import launch_jobs
from services.jobs.submit import submit_ready
from services.platform.errors import DomainError, ErrorKind
from services.platform.tables import Job, JobGroup
from tests.jobs.conftest import (
    REGION,
    ROLE_ARN,
    add_dataset,
    events,
    launch_request,
    make_deps,
    moto_jobs,
    settings_for,
)


def job_rows(sessions: sessionmaker[Session]) -> list[Job]:
    with sessions() as session:
        return list(session.scalars(select(Job).order_by(Job.model)))


def test_a_launch_submits_one_bedrock_job_named_after_the_row(deps: JobDeps, dataset_id: str) -> None:
    result = launch_jobs(deps, launch_request(dataset_id))

    assert result.created
    [job] = job_rows(deps.sessions)
    assert job.id == result.job_ids[0]
    assert job.status == "training"
    assert job.bedrock_job_name == f"tunebot-{job.id}"
    assert job.client_request_token == job.id
    assert (
        (job.epochs, job.learning_rate)
        == (job.recommended_epochs, job.recommended_learning_rate)
        == (8, 1e-5)
    )
    made = moto_jobs()[job.bedrock_job_name]
    assert made.client_request_token == job.id
    assert made.hyper_parameters == {"epochCount": "8", "batchSize": "1", "learningRate": "1e-05"}
    assert made.base_model_identifier == "meta.llama3-2-11b-instruct-v1:0:128k"
    assert made.training_data_config == {"s3Uri": "s3://tunebot-test/tunebot/datasets/charts/train.jsonl"}
    assert made.output_data_config == {"s3Uri": f"s3://tunebot-test/tunebot/jobs/{job.id}/output"}
    assert {"key": "tunebot-job", "value": job.id} in made.job_tags
    assert made.role_arn == ROLE_ARN
    assert [event.type for event in events(deps.sessions)] == ["job.created", "job.submitted"]


def test_the_same_key_again_returns_the_same_group_and_never_a_second_job(
    deps: JobDeps, dataset_id: str
) -> None:
    first = launch_jobs(deps, launch_request(dataset_id, models=("11b", "90b")))
    again = launch_jobs(deps, launch_request(dataset_id, models=("11b", "90b")))

    assert not again.created
    assert (again.group_id, sorted(again.job_ids)) == (first.group_id, sorted(first.job_ids))
    assert len(moto_jobs()) == 2
    with deps.sessions() as session:
        assert session.scalars(select(JobGroup)).one().id == first.group_id
    assert len(events(deps.sessions, "job.submitted")) == 2


def test_chosen_values_are_stored_beside_the_recommended_ones_with_a_warning(
    deps: JobDeps, dataset_id: str
) -> None:
    result = launch_jobs(deps, launch_request(dataset_id, epochs=4, learning_rate=2e-5))

    [job] = job_rows(deps.sessions)
    assert (job.epochs, job.learning_rate) == (4, 2e-5)
    assert (job.recommended_epochs, job.recommended_learning_rate) == (8, 1e-5)
    assert any("4 epochs is outside the recommended 7-10" in warning for warning in result.warnings)
    assert moto_jobs()[job.bedrock_job_name].hyper_parameters["epochCount"] == "4"


@pytest.mark.parametrize(
    ("override", "field"), [({"epochs": 11}, "epochs"), ({"learning_rate": 0.5}, "learning_rate")]
)
def test_values_outside_bedrocks_range_are_refused_naming_the_field(
    deps: JobDeps, dataset_id: str, override: dict[str, Any], field: str
) -> None:
    with pytest.raises(DomainError) as refused:
        launch_jobs(deps, launch_request(dataset_id, **override))
    assert (refused.value.kind, refused.value.code, refused.value.field) == (
        ErrorKind.INVALID,
        "out_of_range",
        field,
    )
    assert moto_jobs() == {}
    assert job_rows(deps.sessions) == []


def test_a_dataset_that_is_not_ready_cannot_be_launched(deps: JobDeps) -> None:
    checking = add_dataset(deps.sessions, status="checking")
    with pytest.raises(DomainError) as refused:
        launch_jobs(deps, launch_request(checking))
    assert (refused.value.kind, refused.value.field) == (ErrorKind.CONFLICT, "dataset_id")
    assert refused.value.message == (
        f"dataset {checking} (charts) is checking: only a ready dataset uploaded to S3 can be trained; "
        f"its report says what to fix (`tunebot datasets show {checking}`)"
    )
    with pytest.raises(DomainError) as missing:
        launch_jobs(deps, launch_request("nope"))
    assert missing.value.code == "dataset_not_found"


def test_a_launch_above_the_cost_limit_needs_an_admins_approval(
    aws: None, sessions: sessionmaker[Session], tmp_path: Path, dataset_id: str
) -> None:
    deps = make_deps(sessions, settings_for(tmp_path, max_launch_cost_usd=10))

    with pytest.raises(DomainError) as unapproved:
        launch_jobs(deps, launch_request(dataset_id))
    assert (unapproved.value.kind, unapproved.value.code) == (ErrorKind.FORBIDDEN, "approval_required")
    assert "UADMIN1" in unapproved.value.message
    with pytest.raises(DomainError) as not_admin:
        launch_jobs(deps, launch_request(dataset_id, approved_by="U1"))
    assert not_admin.value.code == "not_an_admin"

    launch_jobs(deps, launch_request(dataset_id, approved_by="UADMIN1"))
    with sessions() as session:
        group = session.scalars(select(JobGroup)).one()
        assert group.approved_by == "UADMIN1"
        assert group.cost_estimate_usd is not None and group.cost_estimate_usd > 10
    assert len(moto_jobs()) == 1


class CrashAfterCreate(BedrockJobs):
    """Bedrock accepts the job, then the process dies before tunebot records it."""

    def create_job(self, spec: JobSpec) -> str:
        super().create_job(spec)
        raise KeyboardInterrupt("process killed")


def test_a_crash_after_bedrock_accepted_the_job_never_makes_a_second_one(
    aws: None, sessions: sessionmaker[Session], tmp_path: Path, dataset_id: str
) -> None:
    settings = settings_for(tmp_path)
    crashing = make_deps(sessions, settings, bedrock=CrashAfterCreate(make_bedrock_client(REGION, None)))
    with pytest.raises(KeyboardInterrupt):
        launch_jobs(crashing, launch_request(dataset_id))
    [job] = job_rows(sessions)
    assert job.status == "submitting"
    assert len(moto_jobs()) == 1

    restarted = make_deps(sessions, settings, owner="replica-2")
    again = launch_jobs(restarted, launch_request(dataset_id))  # the caller retries with its key
    submit_ready(restarted)

    [job] = job_rows(sessions)
    assert again.job_ids == [job.id]
    assert job.status == "training"
    assert job.bedrock_job_arn is not None and job.bedrock_job_arn.endswith(job.bedrock_job_name)
    assert list(moto_jobs()) == [job.bedrock_job_name]
    [submitted] = events(sessions, "job.submitted")
    assert submitted.payload["adopted"] is True


class TimeoutAfterCreate(BedrockJobs):
    """Bedrock accepts the job but the answer never arrives (a read timeout, retried to exhaustion)."""

    def create_job(self, spec: JobSpec) -> str:
        super().create_job(spec)
        raise TransientError(
            "ReadTimeoutError", "Read timeout on endpoint URL", "CreateModelCustomizationJob"
        )


def test_a_job_whose_create_answer_was_lost_is_adopted_on_the_next_tick(
    aws: None, sessions: sessionmaker[Session], tmp_path: Path, dataset_id: str
) -> None:
    settings = settings_for(tmp_path)
    timing_out = make_deps(sessions, settings, bedrock=TimeoutAfterCreate(make_bedrock_client(REGION, None)))
    launch_jobs(timing_out, launch_request(dataset_id))
    [job] = job_rows(sessions)
    assert job.status == "queued"

    submit_ready(make_deps(sessions, settings))

    [job] = job_rows(sessions)
    assert job.status == "training"
    assert list(moto_jobs()) == [job.bedrock_job_name]
    assert events(sessions, "job.submitted")[0].payload["adopted"] is True

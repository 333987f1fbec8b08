"""Fixtures for the job service: moto in process for S3 and Bedrock, a ready dataset, and the deps."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from moto import mock_aws
from moto.backends import get_backend
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from services.aws.bedrock import BedrockJobs
from services.aws.clients import make_bedrock_client, make_s3_client
from services.aws.s3 import JobOutputs
from services.jobs.deps import JobDeps
from services.jobs.service import LaunchRequest, launch_jobs
from services.platform.config import Settings, load_settings
from services.platform.db import unit_of_work
from services.platform.tables import Dataset, Event, Job, utcnow
from services.tuning.pricing import load_prices
from tests.servers import ACCOUNT, AUTH, BUCKET, REGION, ROLE_ARN, TOKEN, ready_service, service_env, set_env

__all__ = ["ACCOUNT", "AUTH", "BUCKET", "REGION", "ROLE_ARN", "TOKEN"]  # the tests' names, from tests.servers


def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    aws_env(monkeypatch)
    with mock_aws():
        make_s3_client(REGION, None).create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        yield


def moto_jobs() -> dict[str, Any]:
    """moto's Bedrock jobs by name: tests move them, since moto's jobs never finish on their own."""
    jobs: dict[str, Any] = get_backend("bedrock")[ACCOUNT][REGION].model_customization_jobs
    return jobs


def settings_for(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "s3_uri": f"s3://{BUCKET}/tunebot",
        "role_arn": ROLE_ARN,
        "data_dir": tmp_path / "data",
        "backend": "bedrock",
        "admins": ["UADMIN1"],
    }
    values.update(overrides)
    return load_settings(**values)


def make_deps(
    sessions: sessionmaker[Session],
    settings: Settings,
    owner: str = "replica-1",
    bedrock: BedrockJobs | None = None,
) -> JobDeps:
    return JobDeps(
        sessions=sessions,
        bedrock=bedrock or BedrockJobs(make_bedrock_client(REGION, settings.aws_endpoint_url)),
        outputs=JobOutputs(make_s3_client(REGION, settings.aws_endpoint_url)),
        settings=settings,
        prices=load_prices(),
        owner=owner,
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return settings_for(tmp_path)


@pytest.fixture
def deps(aws: None, sessions: sessionmaker[Session], settings: Settings) -> JobDeps:
    return make_deps(sessions, settings)


def add_dataset(sessions: sessionmaker[Session], *, train: int = 300, status: str = "ready") -> str:
    with unit_of_work(sessions) as session:
        dataset = Dataset(
            name="charts",
            status=status,
            source_uri="s3://tunebot-test/raw/charts.zip",
            s3_uri=f"s3://{BUCKET}/tunebot/datasets/charts",
            created_by="U1",
            report={
                "counts": {"train": train, "validation": 50, "test": 40},
                "tokens": {"train_total": 300_000, "validation_total": 50_000, "test_total": 40_000},
            },
        )
        session.add(dataset)
        session.flush()
        return dataset.id


@pytest.fixture
def dataset_id(sessions: sessionmaker[Session]) -> str:
    return add_dataset(sessions)


def launch_request(dataset_id: str, key: str = "key-1", **overrides: Any) -> LaunchRequest:
    values: dict[str, Any] = {
        "idempotency_key": key,
        "dataset_id": dataset_id,
        "models": ("11b",),
        "requested_by": "U1",
    }
    values.update(overrides)
    return LaunchRequest(**values)


def the_job(sessions: sessionmaker[Session], job_id: str) -> Job:
    with sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def launch_one(deps: JobDeps, dataset_id: str, key: str = "k", **overrides: Any) -> Job:
    """Launch one job through the service's use case; returns its row."""
    [job_id] = launch_jobs(deps, launch_request(dataset_id, key=key, **overrides)).job_ids
    return the_job(deps.sessions, job_id)


@pytest.fixture
def client(
    aws: None, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    # moto runs in this process (mock_aws): a check's worker process could not reach it.
    set_env(monkeypatch, service_env(database_url, tmp_path, TUNEBOT_CHECK_RUNS_IN="server"))
    with ready_service() as client:
        yield client


def sessions_of(client: TestClient) -> sessionmaker[Session]:
    sessions: sessionmaker[Session] = client.app.state.runtime.sessions  # type: ignore[attr-defined]
    return sessions


def as_if_unreadable_for(sessions: sessionmaker[Session], job_id: str, seconds: float) -> None:
    """The clock, moved: the job has been unreadable for ``seconds`` and its next read is due now."""
    with unit_of_work(sessions) as session:
        session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(
                status_unreadable_since=utcnow() - timedelta(seconds=seconds),
                status_next_read_at=utcnow() - timedelta(seconds=1),
            )
        )


def events(sessions: sessionmaker[Session], type_: str | None = None) -> list[Event]:
    """The outbox's events (of ``type_`` when given), oldest first."""
    with sessions() as session:
        query = select(Event).order_by(Event.id)
        if type_ is not None:
            query = query.where(Event.type == type_)
        return list(session.scalars(query))

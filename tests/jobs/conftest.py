"""Fixtures for the job service: moto in process for S3 and Bedrock, a ready dataset, and the deps."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest
from fastapi.testclient import TestClient
from moto import mock_aws
from moto.backends import get_backend
from sqlalchemy.orm import Session, sessionmaker

from services.api.app import create_app
from services.aws.bedrock import BedrockJobs
from services.aws.clients import make_bedrock_client, make_s3_client
from services.aws.s3 import JobOutputs
from services.jobs.deps import JobDeps
from services.jobs.service import LaunchRequest, launch_jobs
from services.platform.config import Settings, load_settings
from services.platform.db import unit_of_work
from services.platform.tables import Dataset, Job
from services.tuning.pricing import load_prices

ACCOUNT = "123456789012"
REGION: Final = "us-west-2"
BUCKET = "tunebot-test"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/TunebotBedrock"
TOKEN = "jobs-api-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


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
    for name, value in {
        "TUNEBOT_DATABASE_URL": database_url,
        "TUNEBOT_API_TOKEN": TOKEN,
        "TUNEBOT_BACKEND": "bedrock",
        "TUNEBOT_S3_URI": f"s3://{BUCKET}/tunebot",
        "TUNEBOT_ROLE_ARN": ROLE_ARN,
        "TUNEBOT_DATA_DIR": str(tmp_path / "data"),
        "TUNEBOT_POLL_SECONDS": "3600",
        # moto runs in this process (mock_aws): a check's worker process could not reach it.
        "TUNEBOT_CHECK_RUNS_IN": "server",
    }.items():
        monkeypatch.setenv(name, value)
    with TestClient(create_app(load_settings(), role="service")) as client:
        deadline = time.monotonic() + 30
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, client.get("/readyz").json()
            time.sleep(0.05)
        yield client


def sessions_of(client: TestClient) -> sessionmaker[Session]:
    sessions: sessionmaker[Session] = client.app.state.runtime.sessions  # type: ignore[attr-defined]
    return sessions

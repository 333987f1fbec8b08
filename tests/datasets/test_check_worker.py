"""The service's dataset check runs in a worker process, not in the server's: an upload through the API
against a moto server on loopback (a worker process cannot see an in-process moto), checked, uploaded,
and a worker that died replaced for the next check."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from fastapi.testclient import TestClient
from moto.server import ThreadedMotoServer

from services.api.app import create_app
from services.aws.clients import make_s3_client
from services.datasets.check_worker import CheckRunner
from services.platform.config import load_settings
from tests.conftest import free_port
from tests.datasets.fixtures import make_llava, make_zip
from tests.jobs.conftest import AUTH, BUCKET, REGION, ROLE_ARN, TOKEN


@pytest.fixture
def moto_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    httpx.post(url + "/moto-api/reset", timeout=10)  # the server's state is this process's moto state
    for name, value in {
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    make_s3_client(REGION, url).create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    yield url
    httpx.post(url + "/moto-api/reset", timeout=10)
    server.stop()


@pytest.fixture
def service_env(moto_url: str, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "TUNEBOT_DATABASE_URL": database_url,
        "TUNEBOT_API_TOKEN": TOKEN,
        "TUNEBOT_BACKEND": "bedrock",
        "TUNEBOT_S3_URI": f"s3://{BUCKET}/tunebot",
        "TUNEBOT_ROLE_ARN": ROLE_ARN,
        "TUNEBOT_DATA_DIR": str(tmp_path / "data"),
        "TUNEBOT_POLL_SECONDS": "3600",
    }.items():  # TUNEBOT_CHECK_RUNS_IN left at its default
        monkeypatch.setenv(name, value)


@contextmanager
def ready_service() -> Iterator[TestClient]:
    with TestClient(create_app(load_settings(), role="service")) as client:
        deadline = time.monotonic() + 30
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, client.get("/readyz").json()
            time.sleep(0.05)
        yield client


@pytest.fixture
def client(service_env: None) -> Iterator[TestClient]:
    with ready_service() as client:
        yield client


def runner_of(client: TestClient) -> CheckRunner:
    runner = client.app.state.runtime.wiring.check_deps.runner  # type: ignore[attr-defined]
    assert isinstance(runner, CheckRunner)
    return runner


def upload_and_wait(client: TestClient, tmp_path: Path, name: str) -> dict[str, Any]:
    folder = make_llava(tmp_path / name, 120, text_only=110)
    archive = make_zip(tmp_path / f"{name}.zip", folder).read_bytes()
    accepted = client.post(
        "/api/v1/datasets", files={"file": (f"{name}.zip", archive)}, data={"created_by": "U1"}, headers=AUTH
    )
    assert accepted.status_code == 202, accepted.json()
    deadline = time.monotonic() + 120
    while True:
        dataset: dict[str, Any] = client.get(f"/api/v1/datasets/{accepted.json()['id']}", headers=AUTH).json()
        if dataset["status"] != "checking":
            return dataset
        assert time.monotonic() < deadline, dataset
        time.sleep(0.2)


def keys_under(moto_url: str, uri: str) -> set[str]:
    prefix = uri.removeprefix(f"s3://{BUCKET}/")
    listed = make_s3_client(REGION, moto_url).list_objects_v2(Bucket=BUCKET, Prefix=prefix + "/")
    return {item["Key"].removeprefix(prefix + "/") for item in listed.get("Contents", [])}


def test_an_uploaded_dataset_is_checked_in_a_worker_process_and_uploaded(
    client: TestClient, moto_url: str, tmp_path: Path
) -> None:
    dataset = upload_and_wait(client, tmp_path, "charts")

    assert dataset["status"] == "ready", dataset
    assert dataset["report"]["counts"]["accepted"] == 120
    assert {"train.jsonl", "validation.jsonl", "report.json"} <= keys_under(moto_url, dataset["s3_uri"])
    worker = runner_of(client).worker_pid()
    assert worker != os.getpid()
    assert worker in {child.pid for child in psutil.Process().children(recursive=True)}


def test_a_worker_that_died_is_replaced_and_the_next_check_succeeds(
    client: TestClient, moto_url: str, tmp_path: Path
) -> None:
    assert upload_and_wait(client, tmp_path, "first")["status"] == "ready"
    runner = runner_of(client)
    dead = runner.worker_pid()
    os.kill(dead, signal.SIGKILL)

    second = upload_and_wait(client, tmp_path, "second")

    assert second["status"] == "ready", second
    assert runner.worker_pid() != dead


def test_the_worker_stops_with_the_server(service_env: None, tmp_path: Path) -> None:
    with ready_service() as client:
        assert upload_and_wait(client, tmp_path, "charts")["status"] == "ready"
        worker = psutil.Process(runner_of(client).worker_pid())

    assert not worker.is_running()  # the server's stop joined it

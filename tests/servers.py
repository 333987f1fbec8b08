"""What tests start a job service with: moto on loopback, the service's TUNEBOT_* settings, a service
that answers /readyz (in process, or `tunebot serve` as a process with the CLI against it), and an upload
waited on until its check ends.

The moto server is for what runs outside this process (a check worker, `tunebot serve`); tests that stay
in process use ``tests.jobs.conftest.aws`` (moto in process) instead.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
from fastapi.testclient import TestClient
from moto.server import ThreadedMotoServer

from services.api.app import create_app
from services.aws.clients import make_s3_client
from services.platform.config import load_settings
from tests.datasets.fixtures import make_llava, make_zip

# The tests' AWS account, bucket and role (moto's), and the API token of every service they start.
ACCOUNT = "123456789012"
REGION: Final = "us-west-2"
BUCKET = "tunebot-test"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/TunebotBedrock"
TOKEN = "jobs-api-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TUNEBOT_BIN = str(Path(sys.executable).with_name("tunebot"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def moto_on_loopback(monkeypatch: pytest.MonkeyPatch, *, point_aws_at_it: bool = True) -> Iterator[str]:
    """A moto server on a free loopback port with the tests' bucket, reset before and after; its URL.

    With ``point_aws_at_it`` every AWS client of this process and its children goes to it
    (AWS_ENDPOINT_URL); without, callers put something between (a fault proxy) and say where.
    """
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    httpx.post(url + "/moto-api/reset", timeout=10)  # the server's state is this process's moto state
    environment = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": REGION}
    if point_aws_at_it:
        environment["AWS_ENDPOINT_URL"] = url
    set_env(monkeypatch, environment)
    make_s3_client(REGION, url).create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    try:
        yield url
    finally:
        httpx.post(url + "/moto-api/reset", timeout=10)
        server.stop()


def service_env(database_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The settings of a job service on Bedrock (moto's) with the tests' bucket and role; ``extra`` adds
    or overrides (TUNEBOT_POLL_SECONDS="5" for one that polls)."""
    return {
        "TUNEBOT_DATABASE_URL": database_url,
        "TUNEBOT_API_TOKEN": TOKEN,
        "TUNEBOT_BACKEND": "bedrock",
        "TUNEBOT_S3_URI": f"s3://{BUCKET}/tunebot",
        "TUNEBOT_ROLE_ARN": ROLE_ARN,
        "TUNEBOT_DATA_DIR": str(tmp_path / "data"),
        "TUNEBOT_POLL_SECONDS": "3600",
        **extra,
    }


def sandbox_env(database_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The settings of a sandbox job service whose simulated jobs train in a second."""
    return {
        "TUNEBOT_DATABASE_URL": database_url,
        "TUNEBOT_API_TOKEN": TOKEN,
        "TUNEBOT_BACKEND": "sandbox",
        "TUNEBOT_DATA_DIR": str(tmp_path / "data"),
        "TUNEBOT_POLL_SECONDS": "5",
        "TUNEBOT_SANDBOX_TRAIN_SECONDS": "1",
        **extra,
    }


def set_env(monkeypatch: pytest.MonkeyPatch, values: Mapping[str, str]) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)


@contextmanager
def ready_service() -> Iterator[TestClient]:
    """The job service of the environment's settings, in process, once /readyz says it is ready."""
    with TestClient(create_app(load_settings(), role="service")) as client:
        deadline = time.monotonic() + 120  # migrating a fresh database can take a minute on a busy machine
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, client.get("/readyz").json()
            time.sleep(0.05)
        yield client


def wait_for_answer(
    client: TestClient, path: str, done: Callable[[dict[str, Any]], bool], seconds: float = 120
) -> dict[str, Any]:
    """GET ``path`` until ``done`` says yes of its answer; the last answer is in the failure."""
    deadline = time.monotonic() + seconds
    while True:
        body: dict[str, Any] = client.get(path, headers=AUTH).json()
        if done(body):
            return body
        assert time.monotonic() < deadline, str(body)[:3000]
        time.sleep(0.25)


def upload_and_wait(
    client: TestClient, tmp_path: Path, name: str = "charts", records: int = 120, images: int = 10
) -> dict[str, Any]:
    """Upload a LLaVA zip of ``records`` (``images`` of them with an image) and wait for its check."""
    folder = make_llava(tmp_path / name, records, text_only=records - images)
    archive = make_zip(tmp_path / f"{name}.zip", folder).read_bytes()
    accepted = client.post(
        "/api/v1/datasets", files={"file": (f"{name}.zip", archive)}, data={"created_by": "U1"}, headers=AUTH
    )
    assert accepted.status_code == 202, accepted.json()
    return wait_for_answer(
        client, f"/api/v1/datasets/{accepted.json()['id']}", lambda dataset: dataset["status"] != "checking"
    )


@contextmanager
def serve(
    env: Mapping[str, str], log: Path, role: str | None = "service", seconds: float = 90
) -> Iterator[str]:
    """`tunebot serve --role ROLE` as a process (``role`` None: everything, as `make run` starts it), once
    it answers /readyz; its base URL. Its log goes to a file (a pipe nobody reads would fill up and stall
    the server), and is in the failure when it does not start."""
    port = free_port()
    command = [TUNEBOT_BIN, "serve", "--port", str(port), *(["--role", role] if role else [])]
    with log.open("w") as sink:
        process = subprocess.Popen(command, env={**os.environ, **env}, stdout=sink, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: process.poll() is not None or _ready(base), seconds, lambda: log.read_text()[-3000:]
        )
        assert process.poll() is None, log.read_text()[-3000:]
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _ready(base: str) -> bool:
    try:
        return httpx.get(base + "/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until(condition: Callable[[], Any], seconds: float, explain: Callable[[], str] = str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, explain()
        time.sleep(0.2)


def cli(base: str, *args: str, group: str = "jobs") -> subprocess.CompletedProcess[str]:
    """`tunebot GROUP ARGS` as a process against the service at ``base``."""
    env = {**os.environ, "TUNEBOT_SERVICE_URL": base, "TUNEBOT_API_TOKEN": TOKEN}
    return subprocess.run([TUNEBOT_BIN, group, *args], env=env, capture_output=True, text=True, timeout=120)

"""The service's dataset check runs in a worker process, not in the server's: an upload through the API
against a moto server on loopback (a worker process cannot see an in-process moto), checked, uploaded,
and a worker that died replaced for the next check."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from fastapi.testclient import TestClient

from services.aws.clients import make_s3_client
from services.datasets.check_worker import CheckRunner
from services.datasets.pipeline import PrepareOptions
from tests.datasets.test_progress import bedrock_lines
from tests.servers import BUCKET, REGION, ready_service, set_env, upload_and_wait
from tests.servers import service_env as service_env_of


@pytest.fixture
def service_env(moto_url: str, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, service_env_of(database_url, tmp_path))  # TUNEBOT_CHECK_RUNS_IN left at its default


@pytest.fixture
def client(service_env: None) -> Iterator[TestClient]:
    with ready_service() as client:
        yield client


def runner_of(client: TestClient) -> CheckRunner:
    runner = client.app.state.runtime.wiring.check_deps.runner  # type: ignore[attr-defined]
    assert isinstance(runner, CheckRunner)
    return runner


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


def test_a_check_in_the_worker_process_reports_its_progress_before_it_returns(tmp_path: Path) -> None:
    source = tmp_path / "sums.jsonl"
    source.write_text("\n".join(bedrock_lines(300)) + "\n", encoding="utf-8")
    reports: list[tuple[str, int, int | None]] = []
    runner = CheckRunner(None)
    try:
        report = runner.run(
            str(source),
            PrepareOptions(out_dir=tmp_path / "out"),
            lambda stage, done, total: reports.append((stage, done, total)),
        )
    finally:
        runner.close()

    read = [(done, total) for stage, done, total in reports if stage == "read"]
    assert read[0] == (50, 300) and read[-1] == (300, 300)  # counted before reading, then every record
    assert [done for done, _ in read] == sorted(done for done, _ in read)
    assert report.counts.records == 300

"""The fault suite's fixtures: moto on loopback behind the fault proxy, the replicas, and the printed counts.

Run by `.ci/run` as its own step (`pytest -m faults tests/faults`), once on SQLite with one replica and
once on PostgreSQL (``TUNEBOT_TEST_DATABASE_URL``) with two replicas; `make test` deselects it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import free_port
from tests.evaluation.factories import chart_answers
from tests.faults.bedrock_standin import BedrockStandIn
from tests.faults.harness import Counts, Replica, service_env
from tests.faults.proxy import FaultProxy
from tests.jobs.conftest import BUCKET, REGION, add_dataset, moto_jobs
from tests.slack_stub import SlackStub

_COUNTS: list[Counts] = []
COUNTS_PROPERTY = "fault_counts"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/faults/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.faults)
            item.add_marker(pytest.mark.timeout(300))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Collect the counts a scenario recorded: under pytest-xdist they travel from the worker that ran it
    to this (the controlling) process in the report's user_properties."""
    if report.when != "teardown":
        return
    for name, value in report.user_properties:
        if name == COUNTS_PROPERTY:
            _COUNTS.append(Counts(**json.loads(str(value))))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _COUNTS:
        return
    terminalreporter.section("fault suite counts")
    for counts in sorted(_COUNTS, key=lambda c: c.scenario):
        terminalreporter.write_line(counts.line())
    # Off: a job left non-final, a job made twice on Bedrock, a job announced completed twice, a post
    # made twice, a Provisioned Throughput left running, or an evaluation scored twice.
    bad = [
        c
        for c in _COUNTS
        if c.non_final
        or max(c.bedrock_jobs_per_job.values(), default=0) > 1
        or max(c.completed_events_per_job.values(), default=0) > 1
        or max(c.slack_posts_per_event.values(), default=1) != 1
        or c.throughputs_left
        or max(c.evaluations_completed_per_job.values(), default=2) != 2  # one per variant
    ]
    terminalreporter.write_line(
        f"scenarios={len(_COUNTS)} jobs={sum(c.jobs for c in _COUNTS)} "
        f"bedrock_jobs={sum(sum(c.bedrock_jobs_per_job.values()) for c in _COUNTS)} "
        f"job.completed={sum(sum(c.completed_events_per_job.values()) for c in _COUNTS)} "
        f"slack_posts={sum(sum(c.slack_posts_per_event.values()) for c in _COUNTS)} "
        f"non_final={sum(c.non_final for c in _COUNTS)} "
        f"throughputs_left={sum(c.throughputs_left or 0 for c in _COUNTS)} scenarios_off={len(bad)}"
    )


@pytest.fixture
def record_counts(request: pytest.FixtureRequest) -> Iterator[list[Counts]]:
    """Counts a test records are printed at the end of the run."""
    recorded: list[Counts] = []
    yield recorded
    for counts in recorded:
        request.node.user_properties.append((COUNTS_PROPERTY, json.dumps(dataclasses.asdict(counts))))


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    httpx.post(url + "/moto-api/reset", timeout=10)  # the server's state is this process's moto state
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    boto3.client("s3", region_name=REGION, endpoint_url=url).create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    fault_proxy = FaultProxy(url, BedrockStandIn(_custom_models, chart_answers))
    yield fault_proxy
    fault_proxy.close()
    httpx.post(url + "/moto-api/reset", timeout=10)
    server.stop()


def _custom_models() -> set[str]:
    """The custom models Bedrock has: those of the jobs that completed (on moto)."""
    return {job.output_model_arn for job in moto_jobs().values() if job.status == "Completed"}


@pytest.fixture
def moto_url(proxy: FaultProxy) -> str:
    """moto itself, behind the proxy: for the scenarios' own set-up, which no fault may touch."""
    return f"http://{proxy.upstream}"


@pytest.fixture
def service_settings() -> dict[str, str]:
    """Environment the replicas get on top of the suite's (a scenario parametrizes it to change a bound)."""
    return {}


@pytest.fixture
def replica_count(database_url: str) -> int:
    """Two replicas on PostgreSQL (the deployment that scales out), one on SQLite (the embedded one)."""
    return 2 if database_url.startswith("postgresql") else 1


@pytest.fixture
def replicas(
    database_url: str,
    tmp_path: Path,
    proxy: FaultProxy,
    replica_count: int,
    sessions: sessionmaker[Session],
    service_settings: dict[str, str],
) -> Iterator[list[Replica]]:
    """The service's replicas, started, with ``service_settings`` on top of the suite's environment."""
    env = service_env(
        database_url, tmp_path / "data", proxy.url, TUNEBOT_MAX_CONCURRENT_JOBS="2", **service_settings
    )
    started = [Replica(env, tmp_path / f"replica-{n}.log") for n in range(replica_count)]
    try:
        for replica in started:
            replica.start()
        yield started
    finally:
        proxy.clear()
        for replica in started:
            replica.stop()


@pytest.fixture
def dataset(sessions: sessionmaker[Session]) -> str:
    return add_dataset(sessions)


# TUNEBOT_SLACK_DELIVERY_LEASE_SECONDS in the scenarios: how long a dead bot's events stay its own
LEASE_SECONDS = 5


@pytest.fixture
def bots_database_url() -> str | None:
    """The database URL the bots use when not the suite's (a test behind a cuttable proxy overrides it)."""
    return None


@pytest.fixture
def bots(
    database_url: str,
    tmp_path: Path,
    proxy: FaultProxy,
    replica_count: int,
    slack_stub: SlackStub,
    bots_database_url: str | None,
) -> Iterator[list[Replica]]:
    """The service with its Slack bot in each process (`--role all`), posting to the strict stand-in."""
    env = service_env(
        bots_database_url or database_url,
        tmp_path / "data",
        proxy.url,
        TUNEBOT_MAX_CONCURRENT_JOBS="2",
        SLACK_BOT_TOKEN="xoxb-test-token",
        SLACK_SIGNING_SECRET="fault-suite-signing-secret",
        TUNEBOT_SLACK_API_URL=slack_stub.api_url,
        TUNEBOT_SLACK_DELIVERY_LEASE_SECONDS=str(LEASE_SECONDS),
    )
    started = [Replica(env, tmp_path / f"bot-{n}.log", role="all") for n in range(replica_count)]
    try:
        for replica in started:
            replica.start()
        yield started
    finally:
        proxy.clear()
        for hold in slack_stub.holds:
            hold.release.set()
        for replica in started:
            replica.stop()

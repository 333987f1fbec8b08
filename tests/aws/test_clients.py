"""Every production wiring builds its AWS clients through services.aws.clients, so each one follows the
configured retry policy (AWS_RETRY_MODE, AWS_MAX_ATTEMPTS), region, endpoint and timeouts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws
from sqlalchemy.orm import Session, sessionmaker

from services.aws.clients import EXPECT_CONTINUE_MIN_BYTES, make_s3_client
from services.aws.runtime import make_inference
from services.datasets.cli import _s3_client
from services.datasets.service import make_check_deps
from services.evaluation.testset import DatasetFiles, DatasetLocation, dataset_files
from services.jobs.deps import make_job_deps
from services.platform.config import Settings, load_settings
from services.platform.doctor import Clients

ENDPOINT = "http://127.0.0.1:9"  # nothing listens: building a client sends nothing


def policy(client: Any) -> tuple[str, int, str, str | None]:
    retries = client.meta.config.retries
    return retries["mode"], retries["total_max_attempts"], client.meta.region_name, client.meta.endpoint_url


def adaptive_settings(tmp_path: Path) -> Settings:
    return load_settings(
        AWS_RETRY_MODE="adaptive",
        AWS_MAX_ATTEMPTS=3,
        AWS_ENDPOINT_URL=ENDPOINT,
        s3_uri="s3://tunebot-test/tunebot",
        data_dir=tmp_path / "data",
    )


def test_the_job_service_check_service_and_evaluation_follow_the_configured_policy(
    tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    settings = adaptive_settings(tmp_path)
    expected = ("adaptive", 3, "us-west-2", ENDPOINT)

    job_deps = make_job_deps(settings, sessions, "replica-1")
    check_deps = make_check_deps(settings, sessions, "replica-1")
    inference = make_inference(settings)
    files = dataset_files(settings, DatasetLocation("d1", None, "s3://tunebot-test/tunebot/d1"))

    assert policy(job_deps.bedrock._client) == expected
    assert policy(job_deps.outputs._s3) == expected
    assert check_deps.s3 is not None and policy(check_deps.s3) == expected
    assert policy(inference.runtime) == expected and policy(inference.control) == expected
    assert isinstance(files, DatasetFiles) and policy(files._s3) == expected


def test_the_prepare_cli_keeps_the_policy_and_widens_the_pool_for_its_uploads(tmp_path: Path) -> None:
    client = _s3_client(adaptive_settings(tmp_path), concurrency=32)
    assert policy(client) == ("adaptive", 3, "us-west-2", ENDPOINT)
    assert client.meta.config.max_pool_connections == 36


def test_the_doctor_is_impatient_since_a_person_waits(tmp_path: Path) -> None:
    clients = Clients(adaptive_settings(tmp_path))
    sts, bedrock = clients("sts"), clients("bedrock", "us-east-1")
    assert policy(sts) == ("adaptive", 2, "us-west-2", ENDPOINT)
    assert policy(bedrock)[2] == "us-east-1"
    assert (sts.meta.config.connect_timeout, sts.meta.config.read_timeout) == (5, 10)


def test_an_image_is_put_without_waiting_for_100_continue_a_large_body_still_waits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Below 2 MB the interim answer only costs a round trip (the AWS SDK for Kotlin's threshold, see
    services/aws/clients.py); botocore itself asks for it with every body."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = make_s3_client("us-west-2", None)
        client.create_bucket(
            Bucket="expect-test", CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
        )
        expects: list[object] = []
        client.meta.events.register_first(
            "before-send.s3.PutObject", lambda request, **_: expects.append(request.headers.get("Expect"))
        )
        large = b"x" * (EXPECT_CONTINUE_MIN_BYTES + 1)

        client.put_object(Bucket="expect-test", Key="chart.png", Body=b"\x89PNG" * 2000)
        client.put_object(Bucket="expect-test", Key="big.bin", Body=large)

        assert expects == [None, b"100-continue"]
        stored = client.get_object(Bucket="expect-test", Key="chart.png")["Body"].read()
        assert stored == b"\x89PNG" * 2000

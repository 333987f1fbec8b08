"""Starting the sandbox: its settings carry the stand-in's credentials to every AWS client built from
them (no caller passes keys along, none can forget), nothing prints them, and a second start in the
same process works against the bucket the first one made."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from services.aws.clients import ClientOptions, s3_client
from services.aws.s3 import TRAINING_METRICS_FILE
from services.datasets.service import make_check_deps
from services.evaluation.testset import TEST_FILE, DatasetLocation, dataset_files
from services.jobs.deps import make_job_deps
from services.platform.config import load_settings
from services.sandbox.trainer import SANDBOX_CREDENTIALS, SANDBOX_S3_URI, start_sandbox

BUCKET = SANDBOX_S3_URI.removeprefix("s3://").split("/")[0]


def test_every_client_built_from_the_sandbox_settings_reaches_its_s3(
    tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    # The suite's environment has no AWS credentials (tests/conftest.py): a client built without the
    # stand-in's keys fails with NoCredentialsError, as the comparison's test-set read once did.
    sandbox = start_sandbox(load_settings(data_dir=tmp_path / "data"))
    try:
        settings = sandbox.settings
        s3 = s3_client(ClientOptions.from_settings(settings))
        s3.put_object(Bucket=BUCKET, Key="tunebot/datasets/d1/test.jsonl", Body=b'{"line": 1}\n')
        s3.put_object(
            Bucket=BUCKET, Key="tunebot/out/j1/training_artifacts/" + TRAINING_METRICS_FILE, Body=b"s"
        )

        location = DatasetLocation("d1", None, f"{SANDBOX_S3_URI}/datasets/d1")
        assert list(dataset_files(settings, location).lines(TEST_FILE)) == ['{"line": 1}']
        job_deps = make_job_deps(settings, sessions, "replica-1", sandbox=True)
        assert job_deps.outputs.read_files(f"{SANDBOX_S3_URI}/out/j1", (TRAINING_METRICS_FILE,)) == {
            TRAINING_METRICS_FILE: "s"
        }
        assert (
            job_deps.bedrock._client.list_model_customization_jobs()["modelCustomizationJobSummaries"] == []
        )
        check_deps = make_check_deps(settings, sessions, "replica-1", sandbox=True)
        assert check_deps.s3 is not None and check_deps.s3.head_bucket(Bucket=BUCKET)
        # A copy a caller makes of the settings keeps the stand-in's keys ...
        copied = settings.model_copy(update={"poll_seconds": 30})
        assert copied.stand_in_credentials == SANDBOX_CREDENTIALS
        # ... and nothing that prints settings shows them.
        shown = repr(settings) + str(settings.model_dump()) + settings.model_dump_json()
        assert not any(key in shown for key in SANDBOX_CREDENTIALS)
    finally:
        sandbox.stop()


def test_settings_from_the_environment_never_carry_stand_in_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("_STAND_IN_CREDENTIALS", '["a", "b"]')
    monkeypatch.setenv("STAND_IN_CREDENTIALS", '["a", "b"]')
    settings = load_settings()
    assert settings.stand_in_credentials is None
    assert ClientOptions.from_settings(settings).credentials is None  # boto3's default chain


def test_the_sandbox_starts_twice_in_one_process(tmp_path: Path) -> None:
    first = start_sandbox(load_settings(data_dir=tmp_path / "first"))
    try:
        # moto's state belongs to the process: the bucket exists already (BucketAlreadyOwnedByYou).
        second = start_sandbox(load_settings(data_dir=tmp_path / "second"))
        try:
            assert first.settings.aws_endpoint_url != second.settings.aws_endpoint_url
            for name, sandbox in (("first", first), ("second", second)):
                s3 = s3_client(ClientOptions.from_settings(sandbox.settings))
                s3.put_object(Bucket=BUCKET, Key=f"probe/{name}", Body=name.encode())
            listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="probe/")["Contents"]
            assert {item["Key"] for item in listed} >= {"probe/first", "probe/second"}
        finally:
            second.stop()
    finally:
        first.stop()

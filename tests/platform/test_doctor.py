"""`tunebot doctor` against real stand-ins: a moto server for AWS, a local Slack Web API."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.stub import Stubber
from moto.server import ThreadedMotoServer

from services.aws.clients import ClientOptions, make_bedrock_client, make_client, make_s3_client
from services.platform.config import load_settings
from services.platform.db import make_engine
from services.platform.doctor import BASE_MODELS, check_model_access
from services.platform.migrate import upgrade
from services.tuning.pricing import load_prices
from tests.conftest import TUNEBOT_BIN, free_port
from tests.slack_stub import SlackStub

SECRET_KEY = "doctor-secret-access-key"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "bedrock.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_env(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ACCESS_KEY_ID": "AKIADOCTORTEST",
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_REGION": "us-west-2",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def run_doctor(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TUNEBOT_BIN, "doctor"], env={**os.environ, **env}, capture_output=True, text=True, timeout=120
    )


def lines_by_check(output: str) -> dict[str, str]:
    return {line.split(":", 1)[0].split(None, 1)[1]: line for line in output.strip().splitlines()}


def test_everything_configured_reports_ok_lines_and_never_a_secret(
    aws_env: dict[str, str], database_url: str, slack_stub: SlackStub
) -> None:
    make_s3_client("us-west-2", aws_env["AWS_ENDPOINT_URL"]).create_bucket(
        Bucket="tunebot-data", CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
    )
    iam = make_client("iam", ClientOptions("us-west-2", aws_env["AWS_ENDPOINT_URL"]))
    role_arn = iam.create_role(RoleName="TunebotBedrock", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"][
        "Arn"
    ]
    upgrade(make_engine(database_url))
    slack_stub.responses["auth.test"] = {"ok": True, "user": "tunebot", "team": "Acme"}
    env = {
        **aws_env,
        "TUNEBOT_DATABASE_URL": database_url,
        "TUNEBOT_ROLE_ARN": role_arn,
        "TUNEBOT_S3_URI": "s3://tunebot-data/ft",
        "TUNEBOT_BACKEND": "bedrock",
        "SLACK_BOT_TOKEN": "xoxb-doctor-secret-token",
        "SLACK_SIGNING_SECRET": "doctor-signing-secret",
        "TUNEBOT_SLACK_API_URL": slack_stub.api_url,
    }
    result = run_doctor(env)
    checks = lines_by_check(result.stdout)
    assert checks["database"].startswith("OK   database:")
    assert checks["aws credentials"] == "OK   aws credentials: account 123456789012"
    assert checks["aws region"] == "OK   aws region: us-west-2"
    assert checks["role arn"] == "OK   role arn: TunebotBedrock trusts bedrock.amazonaws.com"
    assert checks["s3 bucket"] == "OK   s3 bucket: tunebot-data"
    assert checks["slack"] == "OK   slack: bot tunebot in Acme"
    # moto has no foundation-model catalogue: the check fails there, with the reason and the fix
    assert checks["model access"].startswith("FAIL model access:")
    assert "request access to Llama 3.2 11B/90B Vision" in checks["model access"]
    assert result.returncode == 1
    assert slack_stub.calls_to("auth.test")[0].authorization == "Bearer xoxb-doctor-secret-token"
    for secret in (SECRET_KEY, "xoxb-doctor-secret-token", "doctor-signing-secret"):
        assert secret not in result.stdout + result.stderr


def test_each_broken_dependency_gets_a_fail_line_with_its_fix(
    aws_env: dict[str, str], database_url: str, slack_stub: SlackStub
) -> None:
    slack_stub.responses["auth.test"] = {"ok": False, "error": "invalid_auth"}
    env = {
        **aws_env,
        "AWS_REGION": "eu-west-1",
        "TUNEBOT_DATABASE_URL": database_url,  # never migrated
        "TUNEBOT_ROLE_ARN": "arn:aws:iam::123456789012:role/Missing",
        "TUNEBOT_S3_URI": "s3://no-such-bucket/x",
        "TUNEBOT_BACKEND": "bedrock",
        "SLACK_BOT_TOKEN": "xoxb-doctor-secret-token",
        "TUNEBOT_SLACK_API_URL": slack_stub.api_url,
    }
    result = run_doctor(env)
    checks = lines_by_check(result.stdout)
    assert result.returncode == 1
    assert checks["database"].endswith("-> run `tunebot db upgrade`")
    assert checks["aws region"] == (
        "FAIL aws region: eu-west-1: Llama 3.2 fine-tuning runs only in us-west-2 -> set AWS_REGION=us-west-2"
    )
    assert checks["role arn"].startswith("FAIL role arn: cannot read Missing (NoSuchEntity")
    assert checks["s3 bucket"].startswith("FAIL s3 bucket: no-such-bucket:")
    assert checks["slack"] == (
        "FAIL slack: auth.test said invalid_auth -> reinstall the app and copy its bot token"
    )
    assert "Traceback" not in result.stderr


def test_missing_credentials_and_settings_are_named(database_url: str) -> None:
    env = {
        "TUNEBOT_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
        "TUNEBOT_BACKEND": "bedrock",
    }
    result = run_doctor(env)
    checks = lines_by_check(result.stdout)
    assert checks["database"].startswith("FAIL database: cannot connect")
    assert checks["aws credentials"].startswith("FAIL aws credentials: none found by boto3's default chain")
    assert checks["role arn"] == (
        "FAIL role arn: TUNEBOT_ROLE_ARN is not set -> create the role from aws/trust-policy.json and set it"
    )
    assert checks["slack"].startswith("SKIP slack: SLACK_BOT_TOKEN is not set")


def test_sandbox_backend_skips_the_aws_checks(database_url: str) -> None:
    upgrade(make_engine(database_url))
    result = run_doctor({"TUNEBOT_DATABASE_URL": database_url})
    checks = lines_by_check(result.stdout)
    assert checks["aws"].startswith("SKIP aws: sandbox backend")
    assert result.returncode == 0


def test_placeholder_prices_are_a_warning_with_the_way_to_set_real_ones(
    database_url: str, tmp_path: Path
) -> None:
    upgrade(make_engine(database_url))
    shipped = run_doctor({"TUNEBOT_DATABASE_URL": database_url})
    assert lines_by_check(shipped.stdout)["prices"] == (
        "WARN prices: 4 placeholder and 6 unconfirmed prices (as of 2026-11-26): estimates say so "
        "-> set real ones in TUNEBOT_PRICES_FILE (`tunebot prices` shows each price's source)"
    )
    assert shipped.returncode == 0  # a warning, not a failure: the sandbox and estimates still work

    table = json.loads(load_prices().model_dump_json())
    for model in table["models"].values():
        for price in model.values():
            price["status"], price["source"] = "published", "our Bedrock pricing page, 2026-11-30"
    confirmed = tmp_path / "prices.json"
    confirmed.write_text(json.dumps(table))
    real = run_doctor({"TUNEBOT_DATABASE_URL": database_url, "TUNEBOT_PRICES_FILE": str(confirmed)})
    assert lines_by_check(real.stdout)["prices"] == "OK   prices: all published, as of 2026-11-26"

    confirmed.write_text('{"as_of": "soon"}')
    broken = run_doctor({"TUNEBOT_DATABASE_URL": database_url, "TUNEBOT_PRICES_FILE": str(confirmed)})
    assert lines_by_check(broken.stdout)["prices"].startswith("FAIL prices: price table ")
    assert broken.returncode == 1 and "Traceback" not in broken.stderr


def test_tunebot_prices_prints_each_price_with_its_date_source_and_status(tmp_path: Path) -> None:
    shown = subprocess.run([TUNEBOT_BIN, "prices"], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == "Prices as of 2026-11-26 (USD, us-west-2), from the shipped default table"
    assert "Llama 3.2 11B" in lines and "Llama 3.2 90B" in lines
    training = next(line for line in lines if line.strip().startswith("training, per million tokens"))
    assert "$    4.00  placeholder" in training and "not published in our reference material" in training
    assert lines[-1].startswith("10 prices are placeholders or unconfirmed, so every estimate says so")
    assert "TUNEBOT_PRICES_FILE" in lines[-1]

    missing = subprocess.run(
        [TUNEBOT_BIN, "prices"],
        env={**os.environ, "TUNEBOT_PRICES_FILE": str(tmp_path / "none.json")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (
        missing.returncode == 2 and "cannot be read" in missing.stderr and "Traceback" not in missing.stderr
    )


def test_model_access_ok_when_bedrock_knows_both_models(aws_env: dict[str, str]) -> None:
    client = make_bedrock_client("us-west-2", None)
    with Stubber(client) as stub:
        for model_id in BASE_MODELS:
            stub.add_response(
                "get_foundation_model",
                {
                    "modelDetails": {
                        "modelArn": f"arn:aws:bedrock:us-west-2::foundation-model/{model_id}",
                        "modelId": model_id,
                    }
                },
                {"modelIdentifier": model_id},
            )
        result = check_model_access(load_settings(), lambda *_args: client)  # type: ignore[arg-type]
    assert result.line() == "OK   model access: Llama 3.2 11B and 90B Vision"


def events_queue_line(env: dict[str, str], **overrides: object) -> str:
    from services.platform.doctor import Clients, check_events_queue

    settings = load_settings(aws_endpoint_url=env["AWS_ENDPOINT_URL"], **overrides)
    return check_events_queue(settings, Clients(settings)).line()


def test_events_queue_is_skipped_when_push_is_off_and_checked_when_on(aws_env: dict[str, str]) -> None:
    assert events_queue_line(aws_env, poll_seconds=60) == (
        "SKIP events queue: TUNEBOT_EVENTS_QUEUE_URL is not set; jobs are polled every 60 s "
        "-> see the README's Push section for changes within seconds"
    )
    sqs = make_client("sqs", ClientOptions("us-west-2", aws_env["AWS_ENDPOINT_URL"]))
    url = sqs.create_queue(QueueName="tunebot-job-events")["QueueUrl"]
    closed = events_queue_line(aws_env, events_queue_url=url)
    assert closed.startswith("FAIL events queue: tunebot-job-events's policy does not let EventBridge")
    assert closed.endswith("-> apply aws/events-queue-policy.json to the queue")

    policy = json.loads(
        (Path(__file__).resolve().parents[2] / "aws" / "events-queue-policy.json").read_text()
    )
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    sqs.send_message(QueueUrl=url, MessageBody="{}")
    assert events_queue_line(aws_env, events_queue_url=url, reconcile_seconds=300) == (
        "OK   events queue: tunebot-job-events, 1 waiting; the poll reconciles every 300 s"
    )

    missing = events_queue_line(aws_env, events_queue_url=url.rsplit("/", 1)[0] + "/no-such-queue")
    assert missing.startswith("FAIL events queue: cannot read no-such-queue (")
    assert missing.endswith("grant the sqs actions of aws/caller-policy.json")
    assert SECRET_KEY not in closed + missing

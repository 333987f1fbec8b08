"""Given environment variables, start-up either gets validated settings or one line naming the problem."""

from __future__ import annotations

import subprocess

import pytest

from services.platform.config import ConfigError, load_settings
from tests.conftest import TUNEBOT_BIN


def test_defaults_run_embedded_on_sqlite() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite:///./tunebot.db"
    assert settings.poll_seconds == 60
    assert settings.aws_region == "us-west-2"
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.max_concurrent_jobs == 2
    assert not settings.slack_http_enabled and not settings.slack_socket_mode


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("TUNEBOT_POLL_SECONDS", "often", "TUNEBOT_POLL_SECONDS: Input should be a valid integer"),
        ("TUNEBOT_POLL_SECONDS", "1", "TUNEBOT_POLL_SECONDS: Input should be greater than or equal to 5"),
        ("TUNEBOT_ROLE_ARN", "arn:aws:iam::12:role/x", "TUNEBOT_ROLE_ARN: expected an IAM role ARN"),
        (
            "TUNEBOT_ROLE_ARN",
            "arn:aws:iam::123456789012:user/bob",
            "TUNEBOT_ROLE_ARN: expected an IAM role ARN",
        ),
        (
            "TUNEBOT_SLACK_API_URL",
            "slack.com/api",
            "TUNEBOT_SLACK_API_URL: expected the Slack Web API base URL",
        ),
        ("TUNEBOT_SERVICE_URL", "ftp://service", "TUNEBOT_SERVICE_URL: expected a URL"),
        ("AWS_ENDPOINT_URL", "localhost:5000", "AWS_ENDPOINT_URL: expected a URL"),
        ("TUNEBOT_DATABASE_URL", "mysql://db/x", "TUNEBOT_DATABASE_URL: expected a SQLAlchemy URL"),
        ("TUNEBOT_S3_URI", "bucket/prefix", "TUNEBOT_S3_URI: expected s3://bucket/prefix"),
        ("TUNEBOT_BACKEND", "local", "TUNEBOT_BACKEND: Input should be 'bedrock' or 'sandbox'"),
        ("TUNEBOT_ADMINS", "U123,alice", "TUNEBOT_ADMINS: expected comma-separated Slack IDs"),
        (
            "TUNEBOT_ALLOWED_CHANNELS",
            "#general",
            "TUNEBOT_ALLOWED_CHANNELS: expected comma-separated Slack IDs",
        ),
        ("TUNEBOT_MAX_CONCURRENT_JOBS", "0", "TUNEBOT_MAX_CONCURRENT_JOBS: Input should be greater than"),
        ("TUNEBOT_MAX_LAUNCH_COST_USD", "-5", "TUNEBOT_MAX_LAUNCH_COST_USD: Input should be greater than"),
        ("TUNEBOT_MAX_UPLOAD_MB", "lots", "TUNEBOT_MAX_UPLOAD_MB: Input should be a valid integer"),
        ("TUNEBOT_EVAL_MAX_HOURS", "0", "TUNEBOT_EVAL_MAX_HOURS: Input should be greater than 0"),
        (
            "TUNEBOT_SANDBOX_TRAIN_SECONDS",
            "x",
            "TUNEBOT_SANDBOX_TRAIN_SECONDS: Input should be a valid integer",
        ),
        ("TUNEBOT_LOG_LEVEL", "LOUD", "TUNEBOT_LOG_LEVEL: Input should be"),
        ("AWS_REGION", "oregon", "AWS_REGION: expected an AWS region"),
        (
            "TUNEBOT_EVENTS_QUEUE_URL",
            "tunebot-job-events",
            "TUNEBOT_EVENTS_QUEUE_URL: expected an SQS queue URL",
        ),
        (
            "TUNEBOT_RECONCILE_SECONDS",
            "2",
            "TUNEBOT_RECONCILE_SECONDS: Input should be greater than or equal to 5",
        ),
        ("SLACK_BOT_TOKEN", "xoxp-user-token", "SLACK_BOT_TOKEN: expected a bot token starting xoxb-"),
        ("SLACK_APP_TOKEN", "xoxb-wrong-kind", "SLACK_APP_TOKEN: expected an app-level token starting xapp-"),
    ],
)
def test_a_bad_value_names_the_variable_and_what_it_expects(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as raised:
        load_settings()
    message = str(raised.value)
    assert expected in message
    assert "\n" not in message


def test_with_push_on_the_poll_only_reconciles_at_its_own_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNEBOT_POLL_SECONDS", "30")
    assert (load_settings().push_enabled, load_settings().job_poll_seconds) == (False, 30)
    monkeypatch.setenv(
        "TUNEBOT_EVENTS_QUEUE_URL", "https://sqs.us-west-2.amazonaws.com/123456789012/tunebot-job-events"
    )
    assert (load_settings().push_enabled, load_settings().job_poll_seconds) == (True, 300)
    monkeypatch.setenv("TUNEBOT_RECONCILE_SECONDS", "900")
    assert load_settings().job_poll_seconds == 900


def test_values_are_normalised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNEBOT_ADMINS", " U01ADMIN , U02ADMIN ")
    monkeypatch.setenv("TUNEBOT_S3_URI", "s3://my-bucket/tunebot/")
    monkeypatch.setenv("TUNEBOT_DATABASE_URL", "postgresql://postgres@db:5432/tunebot")
    monkeypatch.setenv("TUNEBOT_SLACK_API_URL", "http://127.0.0.1:9999/api")
    settings = load_settings()
    assert settings.admins == ["U01ADMIN", "U02ADMIN"]
    assert settings.s3_uri == "s3://my-bucket/tunebot"
    assert settings.database_url == "postgresql+psycopg://postgres@db:5432/tunebot"
    assert settings.slack_api_url == "http://127.0.0.1:9999/api/"


def test_slack_modes_follow_the_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1-2-3")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "shh")
    assert load_settings().slack_http_enabled
    assert not load_settings().slack_socket_mode
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-2")
    assert load_settings().slack_socket_mode


def test_dotenv_file_is_read(tmp_path: object) -> None:
    with open(".env", "w") as env_file:
        env_file.write("TUNEBOT_POLL_SECONDS=15\n")
    assert load_settings().poll_seconds == 15


def test_secrets_never_appear_in_errors_or_reprs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxp-very-secret-value")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "signing-secret-value")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert "very-secret-value" not in str(raised.value)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-very-secret-value")
    settings = load_settings()
    assert "very-secret-value" not in repr(settings)
    assert "signing-secret-value" not in repr(settings)


def test_serve_refuses_to_start_on_a_bad_value_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNEBOT_POLL_SECONDS", "soon")
    result = subprocess.run([TUNEBOT_BIN, "serve"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "configuration error: TUNEBOT_POLL_SECONDS: Input should be a valid integer, "
        "unable to parse string as an integer"
    )
    assert "Traceback" not in result.stderr


def test_role_service_needs_an_api_token() -> None:
    result = subprocess.run(
        [TUNEBOT_BIN, "serve", "--role", "service"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "TUNEBOT_API_TOKEN: required for --role service" in result.stderr

"""Settings: every environment variable tunebot reads, validated once at start-up.

Read with ``load_settings()``; pass the object down. Nothing else in the code reads ``os.environ``
for tunebot's own settings (AWS credentials stay with boto3's default chain).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlparse

from pydantic import Field, PrivateAttr, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ROLE_ARN_PATTERN = re.compile(r"^arn:aws[a-zA-Z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
S3_URI_PATTERN = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^\s]*)?$")
SLACK_ID_PATTERN = re.compile(r"^[A-Z0-9]{2,}$")

Backend = Literal["bedrock", "sandbox"]


class ConfigError(Exception):
    """A setting has a value tunebot cannot use; the message is one line for the operator."""


def _check_http_url(value: str | None, what: str) -> str | None:
    if value is None or value == "":
        return None
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"expected {what}, an http:// or https:// URL such as https://example.com")
    return value.rstrip("/")


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    """tunebot's configuration. Field aliases are the environment variable names."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        hide_input_in_errors=True,
    )

    # Slack (the bot's half)
    slack_bot_token: SecretStr | None = Field(None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(None, alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field("https://slack.com/api/", alias="TUNEBOT_SLACK_API_URL")

    # The service's half
    database_url: str = Field("sqlite:///./tunebot.db", alias="TUNEBOT_DATABASE_URL")
    service_url: str | None = Field(None, alias="TUNEBOT_SERVICE_URL")
    api_token: SecretStr | None = Field(None, alias="TUNEBOT_API_TOKEN")
    role_arn: str | None = Field(None, alias="TUNEBOT_ROLE_ARN")
    s3_uri: str | None = Field(None, alias="TUNEBOT_S3_URI")
    poll_seconds: int = Field(60, ge=5, le=3600, alias="TUNEBOT_POLL_SECONDS")
    # Push (optional): the SQS queue an EventBridge rule delivers Bedrock's job state changes to; with it
    # the poll becomes a reconciliation every TUNEBOT_RECONCILE_SECONDS.
    events_queue_url: str | None = Field(None, alias="TUNEBOT_EVENTS_QUEUE_URL")
    reconcile_seconds: int = Field(300, ge=5, le=86_400, alias="TUNEBOT_RECONCILE_SECONDS")
    backend: Backend | None = Field(None, alias="TUNEBOT_BACKEND")
    data_dir: Path = Field(Path("./tunebot-data"), alias="TUNEBOT_DATA_DIR")
    prices_file: Path | None = Field(None, alias="TUNEBOT_PRICES_FILE")

    # Limits and policy
    max_concurrent_jobs: int = Field(2, ge=1, le=100, alias="TUNEBOT_MAX_CONCURRENT_JOBS")
    max_launch_cost_usd: float = Field(500.0, ge=0, alias="TUNEBOT_MAX_LAUNCH_COST_USD")
    max_upload_mb: int = Field(500, ge=1, le=10_000, alias="TUNEBOT_MAX_UPLOAD_MB")
    # Where the service runs a dataset's check: a worker process (off the server's GIL), or the server's
    # own process (only for tests whose AWS stand-in lives in that process).
    check_runs_in: Literal["worker", "server"] = Field("worker", alias="TUNEBOT_CHECK_RUNS_IN")
    eval_max_hours: float = Field(6.0, gt=0, le=72, alias="TUNEBOT_EVAL_MAX_HOURS")
    # How long the bot holds the events it claimed for Slack; a bot that dies holding them leaves them to
    # its restart or another replica after this long, and they are looked for in Slack before posting.
    slack_delivery_lease_seconds: int = Field(60, ge=5, le=3600, alias="TUNEBOT_SLACK_DELIVERY_LEASE_SECONDS")
    # How often the bot reads a shared file's check to update its "Checking…" message in place.
    slack_progress_seconds: float = Field(3.0, ge=0.05, le=60, alias="TUNEBOT_SLACK_PROGRESS_SECONDS")
    # How long a job's status may stay unreadable on Bedrock (throttling, 5xx, AccessDenied, network)
    # before tunebot stops following it, fails it with the reason and frees its slot.
    status_unreadable_seconds: int = Field(
        3600, ge=10, le=7 * 24 * 3600, alias="TUNEBOT_STATUS_UNREADABLE_SECONDS"
    )
    # How long a completed job waits for its metrics while S3 cannot be read (503 SlowDown, 5xx, network)
    # before it completes without them and says so.
    metrics_unreadable_seconds: int = Field(
        1800, ge=10, le=7 * 24 * 3600, alias="TUNEBOT_METRICS_UNREADABLE_SECONDS"
    )
    sandbox_train_seconds: int = Field(20, ge=1, le=3600, alias="TUNEBOT_SANDBOX_TRAIN_SECONDS")
    admins: Annotated[list[str], NoDecode] = Field(default_factory=list, alias="TUNEBOT_ADMINS")
    allowed_channels: Annotated[list[str], NoDecode] = Field(
        default_factory=list, alias="TUNEBOT_ALLOWED_CHANNELS"
    )
    # Whether launches may happen in a DM with the bot. Unset: yes without an allow-list, no with one
    # (a DM would otherwise be a way around TUNEBOT_ALLOWED_CHANNELS).
    allow_dms: bool | None = Field(None, alias="TUNEBOT_ALLOW_DMS")
    # s3:// prefixes a dataset named by a Slack user or an API caller may be read from (the service's
    # role can read far more); empty: the bucket of TUNEBOT_S3_URI only.
    allowed_s3_prefixes: Annotated[list[str], NoDecode] = Field(
        default_factory=list, alias="TUNEBOT_ALLOWED_S3_PREFIXES"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", alias="TUNEBOT_LOG_LEVEL")

    # AWS (credentials come from boto3's default chain, never from here)
    aws_region: str = Field("us-west-2", alias="AWS_REGION")
    aws_endpoint_url: str | None = Field(None, alias="AWS_ENDPOINT_URL")
    # botocore's own retry policy for every AWS client (services/aws/clients.py); the names are botocore's.
    aws_retry_mode: Literal["standard", "adaptive"] = Field("standard", alias="AWS_RETRY_MODE")
    aws_max_attempts: int = Field(5, ge=1, le=20, alias="AWS_MAX_ATTEMPTS")
    # The key pair of a local stand-in for AWS (the sandbox's moto server), set only by
    # ``pointed_at_stand_in``: a private attribute, so no environment variable or .env line can set it
    # and no dump, log or error shows it; copies of these settings keep it.
    _stand_in_credentials: tuple[str, str] | None = PrivateAttr(default=None)

    @field_validator("slack_api_url")
    @classmethod
    def _slack_api_url(cls, value: str) -> str:
        checked = _check_http_url(value, "the Slack Web API base URL")
        assert checked is not None
        return checked + "/"

    @field_validator("events_queue_url")
    @classmethod
    def _queue_url(cls, value: str | None) -> str | None:
        return _check_http_url(
            value, "an SQS queue URL such as https://sqs.us-west-2.amazonaws.com/<account>/<queue>"
        )

    @field_validator("service_url", "aws_endpoint_url")
    @classmethod
    def _optional_urls(cls, value: str | None) -> str | None:
        return _check_http_url(value, "a URL")

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", value):
            raise ValueError(
                "expected a SQLAlchemy URL starting sqlite:/// or postgresql+psycopg://user@host:5432/db"
            )
        if value.startswith("postgresql://"):
            # The psycopg 3 driver is the one we ship; plain postgresql:// would ask for psycopg2.
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value

    @field_validator("role_arn")
    @classmethod
    def _role_arn(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        if not ROLE_ARN_PATTERN.match(value):
            raise ValueError("expected an IAM role ARN like arn:aws:iam::123456789012:role/TunebotBedrock")
        return value

    @field_validator("s3_uri")
    @classmethod
    def _s3_uri(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        if not S3_URI_PATTERN.match(value):
            raise ValueError("expected s3://bucket/prefix with a valid bucket name")
        return value.rstrip("/")

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, value: SecretStr | None) -> SecretStr | None:
        if (
            value is not None
            and value.get_secret_value()
            and not value.get_secret_value().startswith("xoxb-")
        ):
            raise ValueError("expected a bot token starting xoxb- (Slack app > OAuth & Permissions)")
        return value if value is None or value.get_secret_value() else None

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, value: SecretStr | None) -> SecretStr | None:
        if (
            value is not None
            and value.get_secret_value()
            and not value.get_secret_value().startswith("xapp-")
        ):
            raise ValueError("expected an app-level token starting xapp- (Slack app > Basic Information)")
        return value if value is None or value.get_secret_value() else None

    @field_validator("slack_signing_secret", "api_token")
    @classmethod
    def _empty_secret_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        return value if value is None or value.get_secret_value() else None

    @field_validator("allowed_s3_prefixes")
    @classmethod
    def _s3_prefixes(cls, value: list[str]) -> list[str]:
        for item in value:
            if not S3_URI_PATTERN.match(item):
                raise ValueError(f"expected comma-separated s3://bucket or s3://bucket/prefix, got {item!r}")
        return value

    @field_validator("admins", "allowed_channels", "allowed_s3_prefixes", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("admins", "allowed_channels")
    @classmethod
    def _slack_ids(cls, value: list[str]) -> list[str]:
        for item in value:
            if not SLACK_ID_PATTERN.match(item):
                raise ValueError(f"expected comma-separated Slack IDs such as U012ABCDEF, got {item!r}")
        return value

    @field_validator("aws_region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not re.match(r"^[a-z]{2}(-gov)?-[a-z]+-\d$", value):
            raise ValueError("expected an AWS region such as us-west-2")
        return value

    def pointed_at_stand_in(self, credentials: tuple[str, str], **changes: object) -> Settings:
        """A copy for a local stand-in of AWS: ``changes`` (its endpoint, bucket, role) applied and its
        key pair carried, so every AWS client built from the copy signs for the stand-in and no caller
        has to remember to pass the keys along."""
        copy = self.model_copy(update=changes)
        copy._stand_in_credentials = credentials
        return copy

    @property
    def stand_in_credentials(self) -> tuple[str, str] | None:
        """The stand-in's key pair (see ``pointed_at_stand_in``); None: boto3's default chain applies."""
        return self._stand_in_credentials

    # Derived views, so callers never re-derive them differently.
    @property
    def slack_http_enabled(self) -> bool:
        return self.slack_bot_token is not None and self.slack_signing_secret is not None

    @property
    def slack_socket_mode(self) -> bool:
        return self.slack_http_enabled and self.slack_app_token is not None

    @property
    def s3_read_prefixes(self) -> tuple[str, ...]:
        """Where users' datasets may be read: TUNEBOT_ALLOWED_S3_PREFIXES, else TUNEBOT_S3_URI's bucket."""
        if self.allowed_s3_prefixes:  # each ends in "/" so s3://bucket/team never admits s3://bucket/teamX
            return tuple(prefix.rstrip("/") + "/" for prefix in self.allowed_s3_prefixes)
        if self.s3_uri:
            return ("s3://" + self.s3_uri.removeprefix("s3://").split("/", 1)[0] + "/",)
        return ()

    @property
    def push_enabled(self) -> bool:
        return self.events_queue_url is not None

    @property
    def job_poll_seconds(self) -> int:
        """How often jobs are polled: the reconciliation interval when events push the changes."""
        return self.reconcile_seconds if self.push_enabled else self.poll_seconds

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _describe(error: ValidationError) -> str:
    """One line per bad variable: its name and what it expects (never the value: it may be a secret)."""
    lines = []
    aliases = {name: field.alias or name for name, field in Settings.model_fields.items()}
    for item in error.errors():
        location = item["loc"][0] if item["loc"] else "?"
        variable = aliases.get(str(location), str(location))
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"{variable}: {message}")
    return "; ".join(lines)


def load_settings(**overrides: object) -> Settings:
    """Read the environment (and .env) once; raise ConfigError with one readable line on bad values."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise ConfigError(f"configuration error: {_describe(error)}") from None

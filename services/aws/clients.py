"""The one way tunebot builds a boto3 client: region, endpoint, botocore's retry mode, timeouts.

Every AWS client of the service, the CLI, the doctor and the sandbox comes from ``make_client`` (or its
typed shorthands), so the retry policy is botocore's own (``standard`` or ``adaptive``, with
``max_attempts`` from ``AWS_RETRY_MODE`` / ``AWS_MAX_ATTEMPTS``) and never a hand-written loop, and every
client has connect and read timeouts. Credentials come from boto3's default chain; an explicit pair
exists only for the sandbox's stand-in on loopback.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import boto3
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.utils import determine_content_length

if TYPE_CHECKING:
    from mypy_boto3_bedrock import BedrockClient
    from mypy_boto3_bedrock_runtime import BedrockRuntimeClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

    from services.platform.config import Settings

RetryMode = Literal["standard", "adaptive"]
DEFAULT_RETRY_MODE: RetryMode = "standard"
DEFAULT_MAX_ATTEMPTS = 5  # the first call and four retries, botocore's exponential backoff with jitter


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """Where a client points and how patiently it calls; build one with ``from_settings``."""

    region: str | None  # None: boto3's default chain (AWS_DEFAULT_REGION, the profile)
    endpoint_url: str | None = None
    retry_mode: RetryMode = DEFAULT_RETRY_MODE
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_pool_connections: int = 10
    credentials: tuple[str, str] | None = None  # a stand-in's only (Settings.stand_in_credentials)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> ClientOptions:
        options = cls(
            region=settings.aws_region,
            endpoint_url=settings.aws_endpoint_url,
            retry_mode=settings.aws_retry_mode,
            max_attempts=settings.aws_max_attempts,
            credentials=settings.stand_in_credentials,
        )
        return replace(options, **overrides)

    def config(self) -> Config:
        return Config(
            # total_max_attempts counts the first call, as AWS_MAX_ATTEMPTS does; Config's "max_attempts"
            # would count retries only.
            retries={"mode": self.retry_mode, "total_max_attempts": self.max_attempts},
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            max_pool_connections=self.max_pool_connections,
        )


def make_client(service: str, options: ClientOptions) -> Any:
    """A boto3 client of ``service`` (``s3``, ``bedrock``, ``bedrock-runtime``, ``sqs``, ``sts``, ``iam``)."""
    key_id, secret = options.credentials or (None, None)
    return boto3.client(
        service,  # type: ignore[call-overload]
        region_name=options.region,
        endpoint_url=options.endpoint_url,
        config=options.config(),
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
    )


def bedrock_client(options: ClientOptions) -> BedrockClient:
    client: BedrockClient = make_client("bedrock", options)
    return client


def bedrock_runtime_client(options: ClientOptions) -> BedrockRuntimeClient:
    client: BedrockRuntimeClient = make_client("bedrock-runtime", options)
    return client


def s3_client(options: ClientOptions) -> S3Client:
    client: S3Client = make_client("s3", options)
    client.meta.events.register("before-sign.s3.PutObject", _no_expect_for_small_bodies)
    return client


# A PutObject body under this size goes without ``Expect: 100-continue``: waiting for S3's interim answer
# costs a round trip per object, worth it only when sending a body to a refusal would waste more. The
# AWS SDK for Kotlin's S3 client does the same (continueHeaderThresholdBytes, default 2 MB:
# https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/s3/aws.sdk.kotlin.services.s3/-s3-client/-config/-builder/continue-header-threshold-bytes.html);
# botocore sends it with every body. The header is not signed (botocore leaves ``expect`` out).
EXPECT_CONTINUE_MIN_BYTES = 2 * 1024 * 1024


def _no_expect_for_small_bodies(request: AWSRequest, **_: Any) -> None:
    if "Expect" not in request.headers:
        return
    # Over HTTPS botocore streams the body with its checksum as a trailer (aws-chunked), which has no
    # length of its own; the header then says the body's.
    decoded = request.headers.get("X-Amz-Decoded-Content-Length")
    size = int(decoded) if decoded is not None else determine_content_length(request.body)
    if size is not None and size < EXPECT_CONTINUE_MIN_BYTES:
        del request.headers["Expect"]


def sqs_client(options: ClientOptions) -> SQSClient:
    client: SQSClient = make_client("sqs", options)
    return client


def make_bedrock_client(
    region: str, endpoint_url: str | None, credentials: tuple[str, str] | None = None
) -> BedrockClient:
    """The Bedrock control-plane client with the default retry policy (see ``ClientOptions``)."""
    return bedrock_client(ClientOptions(region, endpoint_url, credentials=credentials))


def make_s3_client(
    region: str, endpoint_url: str | None, credentials: tuple[str, str] | None = None
) -> S3Client:
    """An S3 client with the default retry policy (see ``ClientOptions``)."""
    return s3_client(ClientOptions(region, endpoint_url, credentials=credentials))


def has_credentials() -> bool:
    """Whether boto3's default chain finds any credentials (it does not check that they work)."""
    return boto3.session.Session().get_credentials() is not None

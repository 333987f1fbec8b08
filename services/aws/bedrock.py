"""The only module that calls boto3's ``bedrock`` client: create, find, list and stop customization jobs.

Jobs are addressed by name, never by ARN (the names are ours and unique; moto cannot look jobs up by
ARN). Throttling and 5xx answers are retried with exponential backoff and jitter; a quota refusal is
its own exception so the caller can queue instead of failing; everything else is a ``BedrockError``
carrying Bedrock's own message.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError

from services.tuning.recommend import ModelSize

if TYPE_CHECKING:
    from mypy_boto3_bedrock import BedrockClient

log = logging.getLogger(__name__)

BASE_MODELS: dict[ModelSize, str] = {
    "11b": "meta.llama3-2-11b-instruct-v1:0:128k",
    "90b": "meta.llama3-2-90b-instruct-v1:0:128k",
}
JOB_NAME_PREFIX = "tunebot-"
LIST_PAGE_SIZE = 1000  # Bedrock's maximum: one call covers the usual number of active jobs
RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "TooManyRequestsException",
        "ServiceUnavailableException",
        "InternalServerException",
        "InternalFailure",
        "RequestTimeout",
    }
)
QUOTA_CODES = frozenset({"ServiceQuotaExceededException", "LimitExceededException"})
NOT_FOUND_CODES = frozenset({"ResourceNotFoundException"})

T = TypeVar("T")


class BedrockError(Exception):
    """Bedrock refused or failed a call; ``message`` is Bedrock's own text."""

    def __init__(self, code: str, message: str, operation: str) -> None:
        super().__init__(f"{operation}: {code}: {message}")
        self.code = code
        self.message = message
        self.operation = operation


class QuotaExceeded(BedrockError):
    """The account's quota of concurrent customization jobs is used up: wait for a slot."""


class JobNotFound(BedrockError):
    """No customization job has that name."""


class NameInUse(BedrockError):
    """A job with that name exists already (perhaps ours, made by a call whose answer was lost)."""


class TransientError(BedrockError):
    """Throttling or a server error that outlasted every retry: try again on a later tick."""


@dataclass(frozen=True, slots=True)
class JobSpec:
    """Everything one ``CreateModelCustomizationJob`` call needs; built by the service layer."""

    job_name: str
    custom_model_name: str
    model: ModelSize
    role_arn: str
    training_s3_uri: str
    validation_s3_uri: str | None
    output_s3_uri: str
    epochs: int
    learning_rate: float
    client_request_token: str
    tags: dict[str, str] = field(default_factory=dict)

    def hyper_parameters(self) -> dict[str, str]:
        # Llama 3.2 takes exactly these three; learningRateWarmupSteps (Titan's) is rejected.
        return {
            "epochCount": str(self.epochs),
            "batchSize": "1",
            "learningRate": f"{self.learning_rate:g}",
        }


@dataclass(frozen=True, slots=True)
class JobSummary:
    name: str
    status: str


@dataclass(frozen=True, slots=True)
class JobDetail:
    name: str
    arn: str
    status: str
    client_request_token: str | None
    failure_message: str | None
    output_model_arn: str | None
    output_s3_uri: str | None


def make_bedrock_client(
    region: str, endpoint_url: str | None, credentials: tuple[str, str] | None = None
) -> BedrockClient:
    """A client whose own retries are off: ``BedrockJobs`` retries, so every attempt is counted once.

    ``credentials`` is only for the sandbox's stand-in; otherwise boto3's default chain applies.
    """
    config = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=10, read_timeout=60)
    key_id, secret = credentials or (None, None)
    return boto3.client(
        "bedrock",
        region_name=region,
        endpoint_url=endpoint_url,
        config=config,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
    )


class BedrockJobs:
    """Bedrock's customization-job API, as tunebot uses it."""

    def __init__(
        self,
        client: BedrockClient,
        *,
        attempts: int = 5,
        base_delay: float = 0.5,
        max_delay: float = 20.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._attempts = attempts
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._sleep = sleep

    def create_job(self, spec: JobSpec) -> str:
        """Submit ``spec``; return the job's ARN."""
        arguments: dict[str, Any] = {
            "jobName": spec.job_name,
            "customModelName": spec.custom_model_name,
            "roleArn": spec.role_arn,
            "baseModelIdentifier": BASE_MODELS[spec.model],
            "customizationType": "FINE_TUNING",
            "trainingDataConfig": {"s3Uri": spec.training_s3_uri},
            "outputDataConfig": {"s3Uri": spec.output_s3_uri},
            "hyperParameters": spec.hyper_parameters(),
            "clientRequestToken": spec.client_request_token,
            "jobTags": [{"key": key, "value": value} for key, value in sorted(spec.tags.items())],
        }
        if spec.validation_s3_uri is not None:
            arguments["validationDataConfig"] = {"validators": [{"s3Uri": spec.validation_s3_uri}]}
        response = self._call(
            "CreateModelCustomizationJob", self._client.create_model_customization_job, **arguments
        )
        return str(response["jobArn"])

    def get_job(self, name: str) -> JobDetail:
        """The job called ``name``; raises ``JobNotFound`` when there is none."""
        response = self._call(
            "GetModelCustomizationJob", self._client.get_model_customization_job, jobIdentifier=name
        )
        output: dict[str, Any] = dict(response.get("outputDataConfig", {}))
        return JobDetail(
            name=str(response["jobName"]),
            arn=str(response["jobArn"]),
            status=str(response["status"]),
            client_request_token=response.get("clientRequestToken"),
            failure_message=response.get("failureMessage"),
            output_model_arn=response.get("outputModelArn"),
            output_s3_uri=output.get("s3Uri"),
        )

    def find_job(self, name: str) -> JobDetail | None:
        """The job called ``name``, or None: how a retried submit finds the job it already made."""
        try:
            return self.get_job(name)
        except JobNotFound:
            return None

    def list_jobs(self, name_contains: str = JOB_NAME_PREFIX) -> Iterator[list[JobSummary]]:
        """tunebot's jobs, newest first, one page (one call) at a time; stop iterating to stop calling."""
        token: str | None = None
        while True:
            arguments: dict[str, Any] = {
                "nameContains": name_contains,
                "maxResults": LIST_PAGE_SIZE,
                "sortBy": "CreationTime",
                "sortOrder": "Descending",
            }
            if token:
                arguments["nextToken"] = token
            response = self._call(
                "ListModelCustomizationJobs", self._client.list_model_customization_jobs, **arguments
            )
            yield [
                JobSummary(name=str(item["jobName"]), status=str(item["status"]))
                for item in response.get("modelCustomizationJobSummaries", [])
            ]
            token = response.get("nextToken")
            if not token:
                return

    def stop_job(self, name: str) -> None:
        """Ask Bedrock to stop the job; it cannot be resumed and the tokens it used are billed."""
        self._call("StopModelCustomizationJob", self._client.stop_model_customization_job, jobIdentifier=name)

    def _call(self, operation: str, method: Callable[..., T], **arguments: Any) -> T:
        for attempt in range(1, self._attempts + 1):
            try:
                return method(**arguments)
            except ClientError as error:
                code = str(error.response.get("Error", {}).get("Code", "Unknown"))
                message = str(error.response.get("Error", {}).get("Message", ""))
                status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
                if code in QUOTA_CODES:
                    raise QuotaExceeded(code, message, operation) from None
                if code == "ResourceInUseException" or "currently in use" in message:
                    raise NameInUse(code, message, operation) from None
                if code in NOT_FOUND_CODES:
                    raise JobNotFound(code, message, operation) from None
                if code not in RETRYABLE_CODES and status < 500:
                    raise BedrockError(code, message, operation) from None
                failure: BedrockError = TransientError(code, message, operation)
            except (ConnectionError, HTTPClientError) as error:
                failure = TransientError(type(error).__name__, str(error), operation)
            except BotoCoreError as error:
                raise BedrockError(type(error).__name__, str(error), operation) from None
            if attempt == self._attempts:
                raise failure
            delay = min(self._max_delay, self._base_delay * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
            log.warning(
                "bedrock call retried",
                extra={"operation": operation, "code": failure.code, "attempt": attempt, "delay": delay},
            )
            self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

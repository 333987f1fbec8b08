"""Bedrock's customization-job API as tunebot uses it: create, find, list and stop fine-tuning jobs.

Jobs are addressed by name, never by ARN (the names are ours and unique; moto cannot look jobs up by
ARN). Throttling and 5xx answers are retried by botocore (the client's retry mode, ``clients.py``);
what outlasts them, and every refusal, is an ``AwsError`` of ``errors.py``: ``QuotaExceeded`` lets the
caller queue instead of failing, ``TransientError`` postpones to a later tick, ``NameInUse`` and
``NotFound`` drive the exactly-once submit, anything else carries Bedrock's own message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from services.aws.errors import NotFound, aws_errors
from services.tuning.recommend import ModelSize

if TYPE_CHECKING:
    from mypy_boto3_bedrock import BedrockClient

BASE_MODELS: dict[ModelSize, str] = {
    "11b": "meta.llama3-2-11b-instruct-v1:0:128k",
    "90b": "meta.llama3-2-90b-instruct-v1:0:128k",
}
JOB_NAME_PREFIX = "tunebot-"
LIST_PAGE_SIZE = 1000  # Bedrock's maximum: one call covers the usual number of active jobs
T = TypeVar("T")


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


class BedrockJobs:
    """Bedrock's customization-job API, as tunebot uses it."""

    def __init__(self, client: BedrockClient) -> None:
        self._client = client

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
        """The job called ``name``; raises ``NotFound`` when there is none."""
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
        except NotFound:
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
        with aws_errors(operation):
            return method(**arguments)

"""The inference boundary: the only module of the evaluation that calls boto3.

It holds ``bedrock-runtime`` ``Converse`` (one answer per test example) and the Provisioned Throughput
calls of ``bedrock`` (a custom Llama 3.2 model answers only on Provisioned Throughput). Everything the
runner needs is the ``Inference`` protocol, so tests and benchmarks put a stand-in at this one seam.

Error mapping, so callers never read botocore codes:
- ``Throttled``: Bedrock asked us to slow down (throttling, service unavailable, model not ready).
  The runner halves its concurrency and retries.
- ``TransientError``: a timeout or a 5xx; retried without reading it as a throttle signal.
- ``ExampleRejected``: Bedrock refused this one request (``ValidationException``: an image it cannot
  read, a prompt too long); the example is stored as missing.
- ``InferenceError``: anything else (access denied, unknown model ...), with what to do about it.

``Converse`` is never retried here (the runner's adaptive loop owns retries, so every attempt counts
once); the control-plane Provisioned Throughput calls retry throttling a few times themselves.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError, ReadTimeoutError

if TYPE_CHECKING:
    from mypy_boto3_bedrock import BedrockClient
    from mypy_boto3_bedrock_runtime import BedrockRuntimeClient

log = logging.getLogger(__name__)

OWNER_TAG = "tunebot:owner"
OWNER_VALUE = "tunebot"
JOB_TAG = "tunebot:job"
THROUGHPUT_NAME_PREFIX = "tunebot-eval-"
IN_SERVICE = "InService"
THROUGHPUT_FAILED = "Failed"

THROTTLE_CODES = frozenset(
    {
        "ThrottlingException",
        "TooManyRequestsException",
        "ServiceUnavailableException",
        "ModelNotReadyException",
    }
)
TRANSIENT_CODES = frozenset(
    {"InternalServerException", "InternalFailure", "ModelTimeoutException", "RequestTimeout"}
)
NOT_FOUND_CODES = frozenset({"ResourceNotFoundException"})
_HINTS = {
    "AccessDeniedException": (
        "give the service's AWS identity bedrock:InvokeModel (Converse) and the Provisioned Throughput "
        "actions (Create/Get/List/Delete ProvisionedModelThroughput, ListTagsForResource)"
    ),
    "ServiceQuotaExceededException": (
        "ask for more 'no-commitment model units for custom models' in Service Quotas (Amazon Bedrock), "
        "or wait for another evaluation to finish and run this one again"
    ),
    "ResourceNotFoundException": (
        "the model or Provisioned Throughput no longer exists; check the job's model ARN"
    ),
    "ValidationException": "Bedrock refused the request as invalid; its message names the field",
}

T = TypeVar("T")


class InferenceError(Exception):
    """An inference or Provisioned Throughput call failed; the message says what to do."""

    def __init__(self, code: str, message: str, operation: str) -> None:
        hint = _HINTS.get(code)
        super().__init__(f"{operation}: {code}: {message}" + (f" ({hint})" if hint else ""))
        self.code = code
        self.message = message
        self.operation = operation


class Throttled(InferenceError):
    """Bedrock asked us to slow down: back off and retry with less concurrency."""


class TransientError(InferenceError):
    """A timeout or server error: retry, but it says nothing about our request rate."""


class ExampleRejected(InferenceError):
    """Bedrock refused this request as invalid; another example may well succeed."""


class ThroughputNotReady(InferenceError):
    """The Provisioned Throughput did not reach InService within the time given."""


class Reply(NamedTuple):
    text: str
    input_tokens: int
    output_tokens: int


class OwnedThroughput(NamedTuple):
    arn: str
    job_id: str | None
    created_at: datetime | None
    status: str


class Inference(Protocol):
    """What the evaluation needs from Bedrock. ``BedrockInference`` is the real one."""

    def converse(
        self,
        model_id: str,
        system: str | None,
        question: str,
        image_bytes: bytes | None,
        image_format: str | None,
        *,
        max_tokens: int = 512,
    ) -> Reply: ...

    def create_provisioned_throughput(self, model_arn: str, name: str, tags: Mapping[str, str]) -> str: ...

    def describe_provisioned_throughput(self, arn_or_name: str) -> OwnedThroughput | None: ...

    def wait_in_service(self, arn: str, timeout: float) -> None: ...

    def delete_provisioned_throughput(self, arn: str) -> None: ...

    def list_owned_provisioned_throughputs(self) -> list[OwnedThroughput]: ...


def throughput_name(job_id: str) -> str:
    """The Provisioned Throughput name of a job's evaluation (unique per job, within Bedrock's 63)."""
    return f"{THROUGHPUT_NAME_PREFIX}{job_id}"[:63]


def converse_request(
    model_id: str,
    system: str | None,
    question: str,
    image_bytes: bytes | None,
    image_format: str | None,
    max_tokens: int,
) -> dict[str, Any]:
    """The Converse arguments: text then image, as in the training records; greedy decoding."""
    content: list[dict[str, Any]] = []
    if question:
        content.append({"text": question})
    if image_bytes is not None:
        if image_format is None:
            raise ValueError("an image needs its format (gif, jpeg, png or webp)")
        content.append({"image": {"format": image_format, "source": {"bytes": image_bytes}}})
    if not content:
        raise ValueError("a question needs text or an image")
    request: dict[str, Any] = {
        "modelId": model_id,
        "messages": [{"role": "user", "content": content}],
        "inferenceConfig": {"maxTokens": max_tokens, "temperature": 0.0},
    }
    if system:
        request["system"] = [{"text": system}]
    return request


def reply_from_response(response: Mapping[str, Any]) -> Reply:
    message = response.get("output", {}).get("message", {})
    text = "".join(str(part.get("text", "")) for part in message.get("content", []))
    usage = response.get("usage", {})
    return Reply(text.strip(), int(usage.get("inputTokens", 0)), int(usage.get("outputTokens", 0)))


def _client_error(error: ClientError, operation: str) -> InferenceError:
    details = error.response.get("Error", {})
    code = str(details.get("Code", "Unknown"))
    message = str(details.get("Message", "")) or str(error)
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    if code in THROTTLE_CODES:
        return Throttled(code, message, operation)
    if code in TRANSIENT_CODES or status >= 500:
        return TransientError(code, message, operation)
    if code == "ValidationException" and operation == "Converse":
        return ExampleRejected(code, message, operation)
    return InferenceError(code, message, operation)


def _mapped(operation: str, call: Callable[[], T]) -> T:
    try:
        return call()
    except ClientError as error:
        raise _client_error(error, operation) from None
    except (ConnectionError, HTTPClientError, ReadTimeoutError) as error:
        raise TransientError(type(error).__name__, str(error), operation) from None
    except BotoCoreError as error:
        raise InferenceError(type(error).__name__, str(error), operation) from None


def make_clients(region: str, endpoint_url: str | None) -> tuple[BedrockRuntimeClient, BedrockClient]:
    """Clients with botocore's own retries off: every attempt is decided (and counted) by tunebot."""
    config = Config(
        retries={"max_attempts": 1, "mode": "standard"},
        connect_timeout=10,
        read_timeout=120,
        max_pool_connections=64,
    )
    runtime = boto3.client("bedrock-runtime", region_name=region, endpoint_url=endpoint_url, config=config)
    control = boto3.client("bedrock", region_name=region, endpoint_url=endpoint_url, config=config)
    return runtime, control


@dataclass
class BedrockInference:
    """``Inference`` on real boto3 clients."""

    runtime: BedrockRuntimeClient
    control: BedrockClient
    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 20.0
    poll_seconds: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    def converse(
        self,
        model_id: str,
        system: str | None,
        question: str,
        image_bytes: bytes | None,
        image_format: str | None,
        *,
        max_tokens: int = 512,
    ) -> Reply:
        request = converse_request(model_id, system, question, image_bytes, image_format, max_tokens)
        response = _mapped("Converse", lambda: self.runtime.converse(**request))
        return reply_from_response(response)

    def _control(self, operation: str, call: Callable[[], T]) -> T:
        """A control-plane call, retried on throttling and 5xx with full-jitter backoff."""
        for attempt in range(1, self.attempts + 1):
            try:
                return _mapped(operation, call)
            except (Throttled, TransientError) as error:
                if attempt == self.attempts:
                    raise
                delay = random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))
                log.info("bedrock retry", extra={"operation": operation, "code": error.code, "delay": delay})
                self.sleep(delay)
        raise AssertionError("unreachable")

    def create_provisioned_throughput(self, model_arn: str, name: str, tags: Mapping[str, str]) -> str:
        """One model unit, no commitment (hourly), tagged as tunebot's; returns its ARN.

        One client token for all of this call's attempts, so a retry after a lost answer returns the
        same throughput, never a second. (Across calls, callers look the name up first.)
        """
        all_tags = {**tags, OWNER_TAG: OWNER_VALUE}
        token = uuid.uuid4().hex
        response = self._control(
            "CreateProvisionedModelThroughput",
            lambda: self.control.create_provisioned_model_throughput(
                clientRequestToken=token,
                modelUnits=1,
                provisionedModelName=name,
                modelId=model_arn,
                tags=[{"key": key, "value": value} for key, value in sorted(all_tags.items())],
            ),
        )
        return str(response["provisionedModelArn"])

    def describe_provisioned_throughput(self, arn_or_name: str) -> OwnedThroughput | None:
        """Its ARN, status (Creating, InService, Updating, Failed) and creation time; None when gone."""
        try:
            response = self._control(
                "GetProvisionedModelThroughput",
                lambda: self.control.get_provisioned_model_throughput(provisionedModelId=arn_or_name),
            )
        except InferenceError as error:
            if error.code in NOT_FOUND_CODES:
                return None
            raise
        created = response.get("creationTime")
        return OwnedThroughput(
            arn=str(response["provisionedModelArn"]),
            job_id=None,
            created_at=created if isinstance(created, datetime) else None,
            status=str(response["status"]),
        )

    def wait_in_service(self, arn: str, timeout: float) -> None:
        """Return once the throughput is InService; raise if it failed or ``timeout`` seconds passed."""
        deadline = self.clock() + timeout
        while True:
            response = self._control(
                "GetProvisionedModelThroughput",
                lambda: self.control.get_provisioned_model_throughput(provisionedModelId=arn),
            )
            status = str(response["status"])
            if status == IN_SERVICE:
                return
            if status == THROUGHPUT_FAILED:
                raise InferenceError(
                    "ProvisionedThroughputFailed",
                    str(response.get("failureMessage") or "Bedrock gave no reason"),
                    "GetProvisionedModelThroughput",
                )
            remaining = deadline - self.clock()
            if remaining <= 0:
                raise ThroughputNotReady(
                    "Timeout", f"still {status} after {timeout:.0f} s", "GetProvisionedModelThroughput"
                )
            self.sleep(min(self.poll_seconds, remaining))

    def delete_provisioned_throughput(self, arn: str) -> None:
        """Delete it; one that is already gone counts as deleted."""
        try:
            self._control(
                "DeleteProvisionedModelThroughput",
                lambda: self.control.delete_provisioned_model_throughput(provisionedModelId=arn),
            )
        except InferenceError as error:
            if error.code not in NOT_FOUND_CODES:
                raise

    def _summaries(self) -> Iterator[Mapping[str, Any]]:
        token: str | None = None
        while True:
            arguments: dict[str, Any] = {"nameContains": THROUGHPUT_NAME_PREFIX, "maxResults": 1000}
            if token:
                arguments["nextToken"] = token
            response = self._control(
                "ListProvisionedModelThroughputs",
                partial(self.control.list_provisioned_model_throughputs, **arguments),
            )
            yield from response.get("provisionedModelSummaries", [])
            token = response.get("nextToken")
            if not token:
                return

    def list_owned_provisioned_throughputs(self) -> list[OwnedThroughput]:
        """Every throughput tagged tunebot:owner=tunebot, with the job it was made for."""
        owned = []
        for summary in self._summaries():
            arn = str(summary["provisionedModelArn"])
            try:
                response = self._control(
                    "ListTagsForResource", partial(self.control.list_tags_for_resource, resourceARN=arn)
                )
            except InferenceError as error:
                if error.code in NOT_FOUND_CODES:
                    continue  # deleted between the list and this call
                raise
            tags = {str(tag["key"]): str(tag["value"]) for tag in response.get("tags", [])}
            if tags.get(OWNER_TAG) != OWNER_VALUE:
                continue
            created = summary.get("creationTime")
            owned.append(
                OwnedThroughput(
                    arn=arn,
                    job_id=tags.get(JOB_TAG),
                    created_at=created if isinstance(created, datetime) else None,
                    status=str(summary.get("status", "")),
                )
            )
        return owned


def make_inference(region: str, endpoint_url: str | None) -> BedrockInference:
    runtime, control = make_clients(region, endpoint_url)
    return BedrockInference(runtime=runtime, control=control)

"""The evaluation's port to a model: the ``Inference`` protocol and the pure Converse request/reply.

The runner asks for answers and Provisioned Throughputs only through ``Inference``, so tests and
benchmarks put a stand-in at this one seam and the evaluation never sees boto3. The real one is
``services.aws.runtime.BedrockInference``; its failures are ``services.aws.errors`` types:

- ``Throttled``: Bedrock asked us to slow down (after botocore's retries): the runner halves its
  concurrency and sends the example again later.
- ``TransientError``: a timeout or a 5xx (after botocore's retries): sent again, not read as a throttle.
- ``Rejected``: Bedrock refused this one request (an image it cannot read, a prompt too long); the
  example is stored as missing.
- ``ThroughputNotReady``: the Provisioned Throughput did not reach InService within the time given.
- ``AwsError``: anything else (access denied, unknown model ...), with what to do about it.

Building the Converse request and reading its reply are pure, so they live here with the domain.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple, Protocol

OWNER_TAG = "tunebot:owner"
OWNER_VALUE = "tunebot"
JOB_TAG = "tunebot:job"
THROUGHPUT_NAME_PREFIX = "tunebot-eval-"
IN_SERVICE = "InService"
THROUGHPUT_FAILED = "Failed"


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
    """What the evaluation needs from Bedrock. ``services.aws.runtime.BedrockInference`` is the real one."""

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

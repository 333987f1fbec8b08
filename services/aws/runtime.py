"""Bedrock's runtime as the evaluation uses it: ``Converse``, one answer per test example.

``BedrockInference`` is the real ``services.evaluation.inference.Inference``: ``converse`` on a
``bedrock-runtime`` client plus the Provisioned Throughput calls of ``throughput.py``. The request and
the reply are built and read by the evaluation's pure functions; this module only calls and maps errors
(``errors.py``: ``Throttled``, ``TransientError``, ``Rejected`` for a request Bedrock refuses as invalid).
Throttling and 5xx answers are first retried by botocore (the client's retry mode); the runner's loop
then decides what a throttle that outlasted them means for its concurrency (evaluation/variant.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from services.aws.clients import ClientOptions, bedrock_client, bedrock_runtime_client
from services.aws.errors import aws_errors
from services.aws.throughput import HINTS, ProvisionedThroughputs
from services.evaluation.inference import Reply, converse_request, reply_from_response

if TYPE_CHECKING:
    from mypy_boto3_bedrock_runtime import BedrockRuntimeClient

    from services.platform.config import Settings

CONVERSE_READ_TIMEOUT = 120.0  # a 90B answer about a large image can take a minute
POOL_CONNECTIONS = 64  # above the runner's highest concurrency


@dataclass(kw_only=True)
class BedrockInference(ProvisionedThroughputs):
    """``Inference`` on real boto3 clients."""

    runtime: BedrockRuntimeClient

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
        with aws_errors("Converse", HINTS):
            response = self.runtime.converse(**request)
        return reply_from_response(response)


def make_inference(settings: Settings) -> BedrockInference:
    """The production ``Inference``: both clients with the configured retry policy."""
    options = ClientOptions.from_settings(
        settings, read_timeout=CONVERSE_READ_TIMEOUT, max_pool_connections=POOL_CONNECTIONS
    )
    return BedrockInference(runtime=bedrock_runtime_client(options), control=bedrock_client(options))

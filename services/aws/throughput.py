"""Bedrock's Provisioned Throughput API as the evaluation uses it: create, describe, wait, delete, list.

A custom Llama 3.2 model answers only on Provisioned Throughput. ``ProvisionedThroughputs`` makes one
(1 model unit, no commitment, tagged as tunebot's), polls it until InService, deletes it, and lists the
ones tunebot owns for the janitor. Throttling and 5xx answers are retried by botocore (the client's
retry mode, ``clients.py``); what outlasts them is an ``errors.py`` type with a hint saying what to do.
The lifecycle around it (adopt after a restart, record the ARN, bill the hours) is the evaluation's
(``services/evaluation/throughput.py``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from services.aws.errors import AwsError, NotFound, TransientError, aws_errors
from services.evaluation.inference import (
    IN_SERVICE,
    JOB_TAG,
    OWNER_TAG,
    OWNER_VALUE,
    THROUGHPUT_FAILED,
    THROUGHPUT_NAME_PREFIX,
    OwnedThroughput,
)

if TYPE_CHECKING:
    from mypy_boto3_bedrock import BedrockClient

# What to do, by Bedrock's error code, for the runtime and the Provisioned Throughput calls alike.
HINTS = {
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


class ThroughputNotReady(TransientError):
    """The Provisioned Throughput did not reach InService within the time given."""


@dataclass(kw_only=True)
class ProvisionedThroughputs:
    """Provisioned Throughput calls on a real ``bedrock`` client."""

    control: BedrockClient
    poll_seconds: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    def _control(self, operation: str, call: Callable[[], T]) -> T:
        with aws_errors(operation, HINTS):
            return call()

    def create_provisioned_throughput(self, model_arn: str, name: str, tags: Mapping[str, str]) -> str:
        """One model unit, no commitment (hourly), tagged as tunebot's; returns its ARN.

        One client token for all of botocore's attempts of this call, so a retry after a lost answer
        returns the same throughput, never a second. (Across calls, callers look the name up first.)
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
        except NotFound:
            return None
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
                raise AwsError(
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
        with suppress(NotFound):
            self._control(
                "DeleteProvisionedModelThroughput",
                lambda: self.control.delete_provisioned_model_throughput(provisionedModelId=arn),
            )

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
            except NotFound:
                continue  # deleted between the list and this call
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

"""Reads a finished job's files from its S3 output prefix: the one place the job service reads S3.

Bedrock's folder layout under the prefix varies (``model-customization-job-<id>/training_artifacts/``
today), so files are found by name anywhere under the prefix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from services.datasets.upload import split_s3_uri

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

TRAINING_METRICS_FILE = "step_wise_training_metrics.csv"
VALIDATION_METRICS_FILE = "validation_metrics.csv"
MAX_METRICS_BYTES = 50 * 1024 * 1024


class OutputsError(Exception):
    """The output prefix cannot be read; the message names it and what to check."""


def make_s3_client(
    region: str, endpoint_url: str | None, credentials: tuple[str, str] | None = None
) -> S3Client:
    """``credentials`` is only for the sandbox's stand-in; otherwise boto3's default chain applies."""
    key_id, secret = credentials or (None, None)
    return boto3.client(
        "s3",
        region_name=region,
        endpoint_url=endpoint_url,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
    )


class JobOutputs:
    def __init__(self, s3: S3Client) -> None:
        self._s3 = s3

    def read_files(self, prefix_uri: str, names: tuple[str, ...]) -> dict[str, str]:
        """The text of each file in ``names`` found under ``prefix_uri`` (the newest when several)."""
        bucket, prefix = split_s3_uri(prefix_uri)
        found: dict[str, tuple[str, float]] = {}
        try:
            paginator = self._s3.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=bucket, Prefix=f"{prefix}/" if prefix else ""):
                for item in page.get("Contents", []):
                    key = item["Key"]
                    name = key.rsplit("/", 1)[-1]
                    stamp = item["LastModified"].timestamp()
                    if name in names and (name not in found or stamp > found[name][1]):
                        found[name] = (key, stamp)
            texts = {}
            for name, (key, _stamp) in found.items():
                body = self._s3.get_object(Bucket=bucket, Key=key)["Body"].read(MAX_METRICS_BYTES)
                texts[name] = body.decode("utf-8", errors="replace")
        except (ClientError, BotoCoreError) as error:
            raise OutputsError(
                f"cannot read the job's output under {prefix_uri} ({error}): check that the service's "
                "credentials may List and Get objects there"
            ) from None
        return texts

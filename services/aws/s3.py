"""S3 URIs, and a finished job's files read from its S3 output prefix (the job service's one S3 read).

Bedrock's folder layout under the prefix varies (``model-customization-job-<id>/training_artifacts/``
today), so files are found by name anywhere under the prefix.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from services.aws.errors import AwsError, TransientError, aws_errors

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

TRAINING_METRICS_FILE = "step_wise_training_metrics.csv"
VALIDATION_METRICS_FILE = "validation_metrics.csv"
MAX_METRICS_BYTES = 50 * 1024 * 1024
# How long a failed read keeps /readyz "not ready" without a newer read: a little longer than the longest
# wait between two reads of a job whose metrics are held back (services.jobs.bounds.MAX_RETRY_SECONDS).
FAILURE_REMEMBERED_SECONDS = 960.0


class OutputsError(Exception):
    """The output prefix cannot be read; the message names it and what to check.

    ``transient``: S3 was unavailable (503 SlowDown / ServiceUnavailable, a 5xx, a lost connection) after
    botocore's retries, so reading again later may succeed; ``code`` is AWS's (or botocore's) error code.
    """

    def __init__(self, message: str, *, code: str, transient: bool) -> None:
        super().__init__(message)
        self.code = code
        self.transient = transient


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ("bucket", "some/prefix") with no trailing slash."""
    if not uri.startswith("s3://"):
        raise ValueError(f"expected an s3:// URI such as s3://bucket/prefix, got {uri}")
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    if not bucket:
        raise ValueError(f"expected an s3:// URI with a bucket name, got {uri}")
    return bucket, prefix.strip("/")


class JobOutputs:
    def __init__(self, s3: S3Client) -> None:
        self._s3 = s3
        self._lock = threading.Lock()
        self._failed: tuple[str, float] | None = None  # (code, monotonic time) of the last failed read

    @property
    def client(self) -> S3Client:
        """The S3 client these reads go through (tests answer for S3 at its send boundary)."""
        return self._s3

    def unavailable(self) -> str | None:
        """The error code of the last read, when it failed transiently lately and none succeeded since."""
        with self._lock:
            if self._failed is None:
                return None
            code, at = self._failed
            if time.monotonic() - at > FAILURE_REMEMBERED_SECONDS:
                self._failed = None
                return None
            return code

    def read_files(self, prefix_uri: str, names: tuple[str, ...]) -> dict[str, str]:
        """The text of each file in ``names`` found under ``prefix_uri`` (the newest when several)."""
        bucket, prefix = split_s3_uri(prefix_uri)
        try:
            with aws_errors("ReadJobOutputs"):
                texts = self._read(bucket, prefix, names)
        except AwsError as error:
            transient = isinstance(error, TransientError)
            with self._lock:
                self._failed = (error.code, time.monotonic()) if transient else None
            what_to_do = (
                "S3 is unavailable; tunebot reads again later"
                if transient
                else "check that the service's credentials may List and Get objects there"
            )
            raise OutputsError(
                f"cannot read the job's output under {prefix_uri} ({error.code}: {error.message}): "
                + what_to_do,
                code=error.code,
                transient=transient,
            ) from None
        with self._lock:
            self._failed = None
        return texts

    def _read(self, bucket: str, prefix: str, names: tuple[str, ...]) -> dict[str, str]:
        found: dict[str, tuple[str, float]] = {}
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
        return texts

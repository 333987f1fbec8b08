"""What the sweep use cases need: the job service's dependencies, and S3 for the subsets' files."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from services.jobs.deps import JobDeps

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True, slots=True)
class SweepDeps:
    jobs: JobDeps
    s3: S3Client | None  # None when TUNEBOT_S3_URI is not set: a sweep then says so

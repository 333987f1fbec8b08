"""Upload a prepared folder to S3 in parallel, skipping objects that are already there unchanged.

"Unchanged" means the same size and the same content hash. One listing of the prefix gives every
object's size and ETag; for a single-part upload without KMS the ETag is the MD5 of the content, so
most objects are compared without any extra call. When the ETag is not an MD5 (multipart, KMS), the
SHA-256 we store in the object's metadata on upload decides, at the price of one HEAD.

Images go first, then the JSON Lines files, then report.json, so a record never points at an image
that is not there yet.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from boto3.s3.transfer import TransferConfig, create_transfer_manager
from s3transfer.futures import TransferFuture

from services.aws.errors import AwsError, aws_errors
from services.aws.s3 import split_s3_uri

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

HASH_METADATA = "sha256"
MULTIPART_THRESHOLD = 64 * 1024 * 1024
CONTENT_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".jsonl": "application/jsonl",
    ".json": "application/json",
}

ProgressCallback = Callable[[int, int], None]


class UploadError(Exception):
    """The upload failed; the message says which object and what to check."""


@dataclass(frozen=True, slots=True)
class UploadSummary:
    uploaded: int
    skipped: int
    bytes_uploaded: int


def upload_folder(
    out_dir: Path,
    s3_uri: str,
    client: S3Client,
    *,
    max_concurrency: int = 16,
    progress: ProgressCallback | None = None,
) -> UploadSummary:
    bucket, prefix = split_s3_uri(s3_uri)
    files = list(_upload_order(out_dir))
    existing = _existing_objects(client, bucket, prefix)
    config = TransferConfig(
        max_concurrency=max_concurrency,
        multipart_threshold=MULTIPART_THRESHOLD,
        use_threads=True,
    )
    uploaded = skipped = sent = done = 0
    # One phase at a time: every image is there before any file that points at one.
    for phase in _phases(files):
        futures: list[tuple[str, TransferFuture]] = []
        with create_transfer_manager(client, config) as manager:
            for path in phase:
                key = _object_key(prefix, path.relative_to(out_dir).as_posix())
                sha256, md5 = _hashes(path)
                size = path.stat().st_size
                if _unchanged(client, bucket, key, existing.get(key), size, sha256, md5):
                    skipped += 1
                    done += 1
                    if progress:
                        progress(done, len(files))
                    continue
                extra = {"Metadata": {HASH_METADATA: sha256}}
                content_type = CONTENT_TYPES.get(path.suffix)
                if content_type:
                    extra["ContentType"] = content_type  # type: ignore[assignment]
                future = manager.upload(str(path), bucket, key, extra_args=extra)
                futures.append((key, future))
                sent += size
            for key, future in futures:
                try:
                    future.result()
                except Exception as exc:
                    raise UploadError(
                        f"uploading s3://{bucket}/{key} failed ({type(exc).__name__}: {exc}): check the "
                        "bucket exists and your credentials may write to it"
                    ) from None
                uploaded += 1
                done += 1
                if progress:
                    progress(done, len(files))
    return UploadSummary(uploaded=uploaded, skipped=skipped, bytes_uploaded=sent)


def _upload_order(out_dir: Path) -> Iterator[Path]:
    yield from sorted((out_dir / "images").glob("*.*")) if (out_dir / "images").is_dir() else iter(())
    for name in ("train.jsonl", "validation.jsonl", "test.jsonl", "report.json"):
        if (out_dir / name).is_file():
            yield out_dir / name


def _phases(files: list[Path]) -> list[list[Path]]:
    images = [path for path in files if path.parent.name == "images"]
    records = [path for path in files if path.suffix == ".jsonl"]
    report = [path for path in files if path.name == "report.json"]
    return [phase for phase in (images, records, report) if phase]


def _object_key(prefix: str, relative: str) -> str:
    return f"{prefix}/{relative}" if prefix else relative


def _hashes(path: Path) -> tuple[str, str]:
    sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha256.update(block)
            md5.update(block)
    return sha256.hexdigest(), md5.hexdigest()


def _existing_objects(client: S3Client, bucket: str, prefix: str) -> dict[str, tuple[int, str]]:
    """Every object under the prefix as key -> (size, ETag without quotes), from one listing."""
    found: dict[str, tuple[int, str]] = {}
    paginator = client.get_paginator("list_objects_v2")
    try:
        with aws_errors("ListObjectsV2"):
            for page in paginator.paginate(Bucket=bucket, Prefix=f"{prefix}/" if prefix else ""):
                for item in page.get("Contents", []):
                    found[item["Key"]] = (item["Size"], item["ETag"].strip('"'))
    except AwsError as exc:
        raise UploadError(
            f"cannot list s3://{bucket}/{prefix} ({exc}): check the bucket exists and your credentials "
            "may read and write it"
        ) from None
    return found


def _unchanged(
    client: S3Client,
    bucket: str,
    key: str,
    listed: tuple[int, str] | None,
    size: int,
    sha256: str,
    md5: str,
) -> bool:
    if listed is None or listed[0] != size:
        return False
    if listed[1] == md5:
        return True
    head = client.head_object(Bucket=bucket, Key=key)
    return head.get("Metadata", {}).get(HASH_METADATA) == sha256

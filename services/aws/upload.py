"""Upload a prepared folder to S3 in parallel, skipping objects that are already there unchanged.

"Unchanged" means the same size and the same content hash. One listing of the prefix gives every
object's size and ETag; for a single-part upload without KMS the ETag is the MD5 of the content, so
most objects are compared without any extra call. When the ETag is not an MD5 (multipart, KMS), the
SHA-256 we store in the object's metadata on upload decides, at the price of one HEAD.

Images go first, then the JSON Lines files, then report.json, so a record never points at an image
that is not there yet. ``EarlyUploads`` sends images while the dataset is still being prepared (the
upload's round trips then overlap the image work); ``upload_folder`` afterwards finds them unchanged
and sends only the rest, and anything an early upload failed to send. It is handed what the early
uploads know of the prefix (their listing and what they put since), so it does not list it again: a
listing of a large dataset's images is a long answer to build and to parse, paid after all the image
work, when nothing else overlaps it.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from boto3.s3.transfer import TransferConfig, create_transfer_manager
from s3transfer.futures import TransferFuture

from services.aws.errors import AwsError, aws_errors
from services.aws.s3 import split_s3_uri

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

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
    known: Mapping[str, tuple[int, str]] | None = None,
) -> UploadSummary:
    """Upload ``out_dir`` under ``s3_uri``, skipping objects there unchanged.

    ``known``: what is under the prefix as key -> (size, MD5), from ``EarlyUploads.known_objects()``;
    None lists the prefix.
    """
    bucket, prefix = split_s3_uri(s3_uri)
    files = list(_upload_order(out_dir))
    existing = known if known is not None else _existing_objects(client, bucket, prefix)
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


class EarlyUploads:
    """Uploads files of a folder still being written, at most ``max_concurrency`` at once, each file
    once, with the key, content type and hash metadata ``upload_folder`` gives it (so that it later
    finds the object unchanged). An object already there with the same size and MD5 is not sent again.
    Best effort: when the prefix cannot be listed nothing is sent early, and a failed upload is only
    counted; ``upload_folder`` sends whatever is missing or different, and says what went wrong."""

    def __init__(self, out_dir: Path, s3_uri: str, client: S3Client, max_concurrency: int = 16) -> None:
        self._out_dir = out_dir
        self._bucket, self._prefix = split_s3_uri(s3_uri)
        self._client = client
        try:
            self._existing: dict[str, tuple[int, str]] | None = _existing_objects(
                client, self._bucket, self._prefix
            )
        except UploadError:
            self._existing = None  # upload_folder will say what is wrong with the bucket
        self._pool = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="s3-early-upload")
        self._submitted: set[str] = set()
        self._lock = threading.Lock()
        self._put_here: dict[str, tuple[int, str]] = {}  # key -> (size, MD5) of each object this run put
        self.uploaded = 0
        self.bytes_uploaded = 0
        self.failed = 0

    def submit(self, relative: str) -> None:
        """Upload ``out_dir/relative`` (a file already complete on disk) unless it was submitted before."""
        if self._existing is None or relative in self._submitted:
            return
        self._submitted.add(relative)
        self._pool.submit(self._put, relative).add_done_callback(self._count_failure)

    def close(self) -> None:
        """Wait for every upload submitted."""
        self._pool.shutdown(wait=True)

    def known_objects(self) -> dict[str, tuple[int, str]] | None:
        """After ``close``: the objects under the prefix as key -> (size, MD5) as this run knows them,
        the listing taken at the start updated with every object put since; None when the prefix could
        not be listed (``upload_folder`` then lists it and says what is wrong)."""
        if self._existing is None:
            return None
        with self._lock:
            return {**self._existing, **self._put_here}

    def _put(self, relative: str) -> None:
        path = self._out_dir / relative
        data = path.read_bytes()
        key = _object_key(self._prefix, relative)
        listed = (self._existing or {}).get(key)
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        if listed == (len(data), md5):
            return  # there already, unchanged: upload_folder counts it as skipped
        self._client.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=data,
            ContentType=CONTENT_TYPES.get(path.suffix, "binary/octet-stream"),
            Metadata={HASH_METADATA: hashlib.sha256(data).hexdigest()},
        )
        with self._lock:
            self.uploaded += 1
            self.bytes_uploaded += len(data)
            self._put_here[key] = (len(data), md5)

    def _count_failure(self, future: Future[None]) -> None:
        if future.exception() is not None:
            with self._lock:
                self.failed += 1
            log.info("an early upload failed; the final upload sends it again")


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

"""Image work: each distinct image read, decoded, normalised and stored once, in a process pool.

A worker returns only the image's hash, format and size, never its bytes, so nothing piles up in the
parent. ``ImageStage`` remembers at most IMAGE_MEMORY distinct images (to process each once) and reads
images a Bedrock record already keeps in S3 with bounded concurrency.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from services.aws.s3 import split_s3_uri
from services.datasets.images import ImagePolicy, normalise_image, read_image_bytes
from services.datasets.model import Finding, ImageRef, error
from services.datasets.writer import StoredImage, store_image

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Images read from S3 at once (GetObject calls in flight); more would only queue in botocore's pool.
S3_CONCURRENCY = 16
# An S3 object read for an image is read no further than this: Bedrock refuses images over 10 MB.
MAX_S3_IMAGE_BYTES = 64 << 20


@dataclass(frozen=True, slots=True)
class ImageJob:
    ref: ImageRef
    out_dir: str
    policy: ImagePolicy
    allowed_root: str | None = None  # when set, local image paths must resolve inside it
    display_root: str | None = None  # messages name local images relative to it


def shown_label(ref: ImageRef, display_root: str | None) -> str:
    """How a message names an image: its path inside the dataset, never where it sits on this machine."""
    if ref.path is None:
        return "the record's embedded image" if ref.data is not None else ref.label
    if display_root is not None:
        relative = os.path.relpath(ref.path, display_root)
        if not relative.startswith(".."):
            return Path(relative).as_posix()
    return Path(ref.path).name if display_root is not None else ref.path


@dataclass(frozen=True, slots=True)
class ImageOutcome:
    """What a worker sends back: never the image bytes."""

    image: StoredImage | None
    findings: tuple[Finding, ...]


def process_image(job: ImageJob) -> ImageOutcome:
    """Read, normalise and store one image (runs in a worker process)."""
    if (
        job.allowed_root is not None
        and job.ref.path is not None
        and not _inside(job.ref.path, job.allowed_root)
    ):
        outside = error(
            "image_missing",
            f"image {shown_label(job.ref, job.display_root)} is outside the dataset: only files inside the "
            "uploaded dataset are read; put the image in the dataset and use a path relative to it",
        )
        return ImageOutcome(None, (outside,))
    label = shown_label(job.ref, job.display_root)
    data = read_image_bytes(job.ref, label=label)
    if isinstance(data, Finding):
        return ImageOutcome(None, (data,))
    try:
        result = normalise_image(data, label, None, job.policy)
    except Exception:  # a decoder bug on hostile bytes must reject this image, not the run
        return ImageOutcome(
            None,
            (
                error(
                    "image_unreadable",
                    f"image {label} could not be decoded: export it again as PNG",
                ),
            ),
        )
    if isinstance(result, Finding):
        return ImageOutcome(None, (result,))
    stored = StoredImage(result.sha256, result.format, result.width, result.height)
    store_image(Path(job.out_dir), stored, result.data)
    return ImageOutcome(stored, result.warnings)


def _inside(path: str, root: str) -> bool:
    """True when ``path``, with every link and ``..`` resolved, lies under ``root``."""
    return Path(path).resolve().is_relative_to(Path(root).resolve())


class _InlineExecutor(Executor):
    """Runs work at submit time: for one worker, without the cost of starting a pool."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def make_executor(workers: int) -> Executor:
    if workers <= 1:
        return _InlineExecutor()
    # fork starts workers in milliseconds; it is only safe while this process has no other threads.
    methods = multiprocessing.get_all_start_methods()
    method = "fork" if "fork" in methods and threading.active_count() == 1 else "spawn"
    if method == "spawn" and "forkserver" in methods:
        method = "forkserver"
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method))


# Distinct images remembered at once. An image seen again after being forgotten is simply processed
# again (the result is the same and its file is already there), so this bounds memory, not correctness.
IMAGE_MEMORY = 2048


class ImageStage:
    """Submits each distinct image once (within IMAGE_MEMORY) and hands out its shared future."""

    def __init__(
        self,
        executor: Executor,
        out_dir: Path,
        policy: ImagePolicy,
        s3: S3Client | None,
        allowed_root: Path | None = None,
        display_root: Path | None = None,
        s3_prefixes: tuple[str, ...] | None = None,
        s3_concurrency: int = S3_CONCURRENCY,
    ) -> None:
        self._executor = executor
        self._out_dir = str(out_dir)
        self._policy = policy
        self._s3 = s3
        self._allowed_root = str(allowed_root) if allowed_root is not None else None
        self._display_root = str(display_root) if display_root is not None else None
        self._seen: OrderedDict[bytes, Future[ImageOutcome] | ImageOutcome] = OrderedDict()
        self._s3_prefixes = s3_prefixes
        self._fetches = ThreadPoolExecutor(max_workers=s3_concurrency, thread_name_prefix="s3-image")

    def close(self) -> None:
        self._fetches.shutdown(wait=True, cancel_futures=True)

    def submit(self, ref: ImageRef) -> tuple[Future[ImageOutcome], bool]:
        key = self._key(ref)
        known = self._seen.get(key)
        if known is not None:
            self._seen.move_to_end(key)
            if isinstance(known, ImageOutcome):
                resolved: Future[ImageOutcome] = Future()
                resolved.set_result(known)
                return resolved, False
            return known, False
        future = (
            self._fetches.submit(self._fetch_and_process, ref)
            if ref.uri is not None
            else self._executor.submit(process_image, self._job(ref))
        )
        self._seen[key] = future
        if len(self._seen) > IMAGE_MEMORY:
            self._seen.popitem(last=False)
        return future, True

    def compact(self) -> None:
        """Remember finished images by their outcome alone: a Future, with its lock, weighs ~10x more."""
        for key, known in self._seen.items():
            if isinstance(known, Future) and known.done():
                self._seen[key] = known.result()

    @staticmethod
    def _key(ref: ImageRef) -> bytes:
        digest = hashlib.blake2b(digest_size=16)
        if ref.data is not None:
            digest.update(b"data:" + ref.data)
        else:
            digest.update((f"path:{ref.path}" if ref.path is not None else f"uri:{ref.uri}").encode())
        return digest.digest()

    def _job(self, ref: ImageRef) -> ImageJob:
        return ImageJob(ref, self._out_dir, self._policy, self._allowed_root, self._display_root)

    def _fetch_and_process(self, ref: ImageRef) -> ImageOutcome:
        """An image a Bedrock record already keeps in S3: fetched (at most ``s3_concurrency`` at once)
        and then checked like any other."""
        uri = ref.uri or ""
        if self._s3_prefixes is not None and not any(uri.startswith(prefix) for prefix in self._s3_prefixes):
            allowed = ", ".join(self._s3_prefixes) or "none"
            return _missing(
                f"image {uri} is outside the S3 locations tunebot may read ({allowed}; "
                "TUNEBOT_ALLOWED_S3_PREFIXES): copy the images there or ask the operator to allow the bucket"
            )
        if self._s3 is None:
            return _missing(f"image {uri} is in S3 but no S3 access is configured: set AWS credentials")
        try:
            bucket, key = split_s3_uri(uri)
            if ref.bucket_owner:
                answer = self._s3.get_object(Bucket=bucket, Key=key, ExpectedBucketOwner=ref.bucket_owner)
            else:
                answer = self._s3.get_object(Bucket=bucket, Key=key)
            body = answer["Body"].read(MAX_S3_IMAGE_BYTES + 1)
        except Exception:  # any S3 failure means the same thing to the user: the image is not readable
            return _missing(
                f"image {uri} cannot be read from S3 (it is missing, its bucket owner differs from "
                "bucketOwner, or the role cannot read it): check the object and its permissions"
            )
        fetched = ImageRef(data=body, declared_format=ref.declared_format)
        return self._executor.submit(process_image, self._job(fetched)).result()


def _missing(message: str) -> ImageOutcome:
    return ImageOutcome(None, (error("image_missing", message),))

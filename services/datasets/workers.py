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
from concurrent.futures import CancelledError, Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
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


def process_images(jobs: tuple[ImageJob, ...]) -> list[ImageOutcome]:
    """A batch of images in one task (runs in a worker process): one message each way for several
    images, so the pool's pickling and wake-ups cost little next to the decodes."""
    return [process_image(job) for job in jobs]


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


# Images sent to a worker in one task, and the bytes of embedded images one task may carry: enough to
# make the pool's per-task cost small, few enough that every worker always has work queued.
BATCH_IMAGES = 4
BATCH_BYTES = 4 << 20


class _BatchedFuture(Future[ImageOutcome]):
    """An image given to the stage's batches. Asking for its result while it is not done sends the
    open batch first: this image's, if it is still open, and otherwise work for the pool while the
    caller waits. A stage and its futures are used from one thread (the read pass)."""

    def __init__(self, stage: ImageStage) -> None:
        super().__init__()
        self._stage: ImageStage | None = stage

    def result(self, timeout: float | None = None) -> ImageOutcome:
        stage, self._stage = self._stage, None
        if stage is not None and not self.done():
            stage.flush()
        return super().result(timeout)


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
        batch_images: int = BATCH_IMAGES,
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
        # One task per image for the inline executor (it runs at submit time), batches for a pool.
        self._batch_images = 1 if isinstance(executor, _InlineExecutor) else batch_images
        self._batch: list[tuple[ImageJob, _BatchedFuture]] = []
        self._batch_bytes = 0

    def close(self) -> None:
        # Reached with images still batched only when reading stopped early: they are not wanted.
        batch, self._batch = self._batch, []
        for _, future in batch:
            future.cancel()
        self._fetches.shutdown(wait=True, cancel_futures=True)

    def flush(self) -> None:
        """Send the open batch to the pool."""
        batch, self._batch, self._batch_bytes = self._batch, [], 0
        if not batch:
            return
        for _, future in batch:
            future.set_running_or_notify_cancel()
        task = self._executor.submit(process_images, tuple(job for job, _ in batch))
        task.add_done_callback(lambda done: _settle([future for _, future in batch], done))

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
        future: Future[ImageOutcome]
        if ref.uri is not None:
            future = self._fetches.submit(self._fetch_and_process, ref)
        elif self._batch_images <= 1:
            future = self._executor.submit(process_image, self._job(ref))
        else:
            future = self._add_to_batch(self._job(ref))
        self._seen[key] = future
        if len(self._seen) > IMAGE_MEMORY:
            self._seen.popitem(last=False)
        return future, True

    def _add_to_batch(self, job: ImageJob) -> _BatchedFuture:
        future = _BatchedFuture(self)
        self._batch.append((job, future))
        self._batch_bytes += len(job.ref.data or b"")
        if len(self._batch) >= self._batch_images or self._batch_bytes >= BATCH_BYTES:
            self.flush()
        return future

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


def _settle(futures: list[_BatchedFuture], task: Future[list[ImageOutcome]]) -> None:
    """Hand each image of a finished batch its outcome, or the batch's failure (a worker that died)."""
    failure = CancelledError() if task.cancelled() else task.exception()
    if failure is not None:
        for future in futures:
            future.set_exception(failure)
        return
    for future, outcome in zip(futures, task.result(), strict=True):
        future.set_result(outcome)


def _missing(message: str) -> ImageOutcome:
    return ImageOutcome(None, (error("image_missing", message),))

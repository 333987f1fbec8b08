"""``prepare``: source -> reader -> images -> checks -> split -> Bedrock files -> optional upload.

Memory stays flat as the dataset grows:
- records stream from the reader; at most ``in_flight`` of them wait for their images at once;
- image work runs in a process pool; a worker reads, normalises and writes the image itself and
  returns only its hash, format and size, so image bytes never travel back or pile up here;
- at most IMAGE_MEMORY distinct images are remembered (to process each once), whatever the dataset size;
- accepted records are spooled to a temporary JSON Lines file; what stays in memory per record is a
  packed 16-byte group key, leakage key and content key and a token count (pass 2 re-reads the spool).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import multiprocessing
import os
import re
import tempfile
import threading
from array import array
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from services.aws.s3 import split_s3_uri
from services.aws.upload import upload_folder
from services.datasets.detect import detect_format
from services.datasets.images import ImagePolicy, normalise_image, read_image_bytes
from services.datasets.model import Example, Finding, ImageRef, SourceRef, error, warning
from services.datasets.readers import ReaderOptions, read_examples
from services.datasets.report import Counts, FindingLog, JsonAnswers, Report, Tokens, Upload
from services.datasets.rules import (
    JsonAnswerTally,
    check_record,
    content_key,
    duplicate_warning,
    find_duplicates,
    leakage_key,
    leakage_warning,
    leaked_test_indices,
    normalise_question,
    record_count_findings,
)
from services.datasets.sources import open_source
from services.datasets.split import PackedKeys, Side, SplitPlan, assign_sides, group_key
from services.datasets.writer import (
    EVALUATION_FIELD,
    IMAGES_DIR,
    PLACEHOLDER_S3_URI,
    SplitWriter,
    StoredImage,
    bedrock_record,
    dumps,
    evaluation_fields,
    store_image,
)
from services.tuning.pricing import PriceTable, load_prices
from services.tuning.recommend import MODEL_SIZES, ModelSize, estimate_cost, recommend

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

FORMATS = ("auto", "bedrock", "llava", "hf-llava", "chartqa", "vqav2", "docvqa", "csv", "jsonl", "pdf")
REPORT_FILE = "report.json"
_IMAGE_NAME = re.compile(r"[0-9a-f]{64}\.(png|jpg|gif|webp)")

# stage ("read", "write", "upload"), items done, total when known
ProgressCallback = Callable[[str, int, int | None], None]


class UsageError(Exception):
    """The options cannot work (unknown format, --upload without a bucket ...): exit code 2."""


@dataclass(frozen=True, slots=True)
class PrepareOptions:
    out_dir: Path
    format: str = "auto"
    s3_uri: str | None = None
    upload: bool = False
    split: SplitPlan = field(default_factory=SplitPlan)
    system: str | None = None
    model: ModelSize | None = None
    image_column: str | None = None
    question_column: str | None = None
    answer_column: str | None = None
    image_policy: ImagePolicy = field(default_factory=ImagePolicy)
    workers: int | None = None  # None: one per core; 1: no pool, everything in this process
    prices: PriceTable | None = None
    upload_concurrency: int = 16
    # For datasets from strangers (Slack uploads, the API): a record may only name image files inside
    # the dataset itself, never elsewhere on the service's disk (another team's data, say).
    confine_images: bool = False

    def problems(self) -> list[str]:
        found = list(self.split.problems())
        if self.format not in FORMATS:
            found.append(f"unknown --format {self.format!r}: use one of {', '.join(FORMATS)}")
        if self.s3_uri is not None:
            try:
                split_s3_uri(self.s3_uri)
            except ValueError as exc:
                found.append(f"--s3-uri: {exc}")
        if self.upload and self.s3_uri is None:
            found.append("--upload needs a bucket: pass --s3-uri s3://bucket/prefix or set TUNEBOT_S3_URI")
        return found


# --- work done in the pool -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImageJob:
    ref: ImageRef
    out_dir: str
    policy: ImagePolicy
    allowed_root: str | None = None  # when set, local image paths must resolve inside it


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
            f"image {job.ref.path} is outside the dataset: only files inside the uploaded dataset are "
            "read; put the image in the dataset and use a path relative to it",
        )
        return ImageOutcome(None, (outside,))
    data = read_image_bytes(job.ref)
    if isinstance(data, Finding):
        return ImageOutcome(None, (data,))
    try:
        result = normalise_image(data, job.ref.label, None, job.policy)
    except Exception as exc:  # a decoder bug on hostile bytes must reject this image, not the run
        return ImageOutcome(
            None,
            (
                error(
                    "image_unreadable",
                    f"image {job.ref.label} could not be decoded ({type(exc).__name__}): "
                    "export it again as PNG",
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


def _executor(workers: int) -> Executor:
    if workers <= 1:
        return _InlineExecutor()
    # fork starts workers in milliseconds; it is only safe while this process has no other threads.
    methods = multiprocessing.get_all_start_methods()
    method = "fork" if "fork" in methods and threading.active_count() == 1 else "spawn"
    if method == "spawn" and "forkserver" in methods:
        method = "forkserver"
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method))


# --- pass 1: read, check, spool ---------------------------------------------------------------------

# Distinct images remembered at once. An image seen again after being forgotten is simply processed
# again (the result is the same and its file is already there), so this bounds memory, not correctness.
IMAGE_MEMORY = 2048


@dataclass(slots=True)
class _Pending:
    example: Example
    outcomes: list[Future[ImageOutcome]]
    first_use: list[bool]


@dataclass(slots=True)
class _Tally:
    """Everything pass 1 remembers: counters, and 48 bytes plus a token count per accepted record."""

    counts: Counts = field(default_factory=Counts)
    log: FindingLog = field(default_factory=FindingLog)
    json_answers: JsonAnswerTally = field(default_factory=JsonAnswerTally)
    group_keys: PackedKeys = field(default_factory=PackedKeys)
    leak_keys: PackedKeys = field(default_factory=PackedKeys)
    content_keys: PackedKeys = field(default_factory=PackedKeys)
    tokens: array[int] = field(default_factory=lambda: array("q"))
    # Images only rejected records used so far: removed at the end unless an accepted record uses them.
    orphan_candidates: set[str] = field(default_factory=set)


class _ImageStage:
    """Submits each distinct image once (within IMAGE_MEMORY) and hands out its shared future."""

    def __init__(
        self,
        executor: Executor,
        out_dir: Path,
        policy: ImagePolicy,
        s3: S3Client | None,
        allowed_root: Path | None = None,
    ) -> None:
        self._executor = executor
        self._out_dir = str(out_dir)
        self._policy = policy
        self._s3 = s3
        self._allowed_root = str(allowed_root) if allowed_root is not None else None
        self._seen: OrderedDict[bytes, Future[ImageOutcome] | ImageOutcome] = OrderedDict()

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
        if ref.uri is not None:
            ref = self._download(ref)
        future = self._executor.submit(
            process_image, ImageJob(ref, self._out_dir, self._policy, self._allowed_root)
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

    def _download(self, ref: ImageRef) -> ImageRef:
        """An image a Bedrock record already keeps in S3: fetch it so it is checked like any other."""
        if self._s3 is None or ref.uri is None or not ref.uri.startswith("s3://"):
            return ref  # process_image reports it as missing
        try:
            bucket, key = split_s3_uri(ref.uri)
            body = self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception:  # any S3 failure means the same thing to the user: the image is not readable
            return ref
        return ImageRef(data=body, declared_format=ref.declared_format, uri=None)


def _read(root: Path, fmt: str, options: PrepareOptions) -> Iterator[Example | Finding]:
    reader_options = ReaderOptions(
        system=options.system,
        image_column=options.image_column,
        question_column=options.question_column,
        answer_column=options.answer_column,
    )
    yield from read_examples(root, fmt, reader_options)


def _finish_record(
    pending: _Pending, tally: _Tally, options: PrepareOptions, s3_uri: str, spool: TextIO
) -> None:
    example = pending.example
    findings: list[Finding] = []
    stored: list[StoredImage] = []
    for future, first in zip(pending.outcomes, pending.first_use, strict=True):
        outcome = future.result()
        for finding in outcome.findings:
            if finding.severity == "error" or first:
                findings.append(dataclasses.replace(finding, record=example.source))
        if outcome.image is not None:
            stored.append(outcome.image)
    system = example.system or options.system
    sizes = [(image.width, image.height) for image in stored]
    check = check_record(example, sizes, model=options.model or "11b", system=system)
    findings.extend(check.findings)
    tally.log.extend(findings)
    if any(finding.severity == "error" for finding in findings):
        tally.counts.rejected += 1
        tally.orphan_candidates.update(image.key for image in stored)
        return

    hashes = [image.sha256 for image in stored]
    tally.json_answers.add(check.answer_kinds)
    tally.counts.accepted += 1
    if not stored:
        tally.counts.text_only += 1
    elif len(stored) > 1:
        tally.counts.multi_image += 1
    tally.orphan_candidates.difference_update(image.key for image in stored)

    record = bedrock_record(example, stored, s3_uri, system)
    record[EVALUATION_FIELD] = evaluation_fields(example)
    spool.write(dumps(record) + "\n")
    tally.group_keys.append(group_key(hashes, normalise_question(example.first_question)))
    tally.leak_keys.append(leakage_key(hashes, example.first_question))
    tally.content_keys.append(content_key(example, hashes))
    tally.tokens.append(check.tokens)


def _first_pass(
    root: Path,
    fmt: str,
    options: PrepareOptions,
    s3_uri: str,
    spool_path: Path,
    s3: S3Client | None,
    progress: ProgressCallback | None,
) -> _Tally:
    tally = _Tally()
    workers = options.workers or os.cpu_count() or 1
    in_flight = max(8, workers * 16)
    with _executor(workers) as executor, spool_path.open("w", encoding="utf-8") as spool:
        allowed_root = (root if root.is_dir() else root.parent) if options.confine_images else None
        images = _ImageStage(executor, options.out_dir, options.image_policy, s3, allowed_root)
        queue: deque[_Pending] = deque()
        for item in _read(root, fmt, options):
            tally.counts.records += 1
            if isinstance(item, Finding):
                tally.log.add(item)
                tally.counts.rejected += 1
            else:
                submitted = [images.submit(ref) for ref in item.images]
                queue.append(_Pending(item, [f for f, _ in submitted], [first for _, first in submitted]))
            # Keep records in source order, and bound the work waiting on images.
            while queue and (len(queue) >= in_flight or all(f.done() for f in queue[0].outcomes)):
                _finish_record(queue.popleft(), tally, options, s3_uri, spool)
            if tally.counts.records % 256 == 0:
                images.compact()
            if progress and tally.counts.records % 50 == 0:
                progress("read", tally.counts.records, None)
        while queue:
            _finish_record(queue.popleft(), tally, options, s3_uri, spool)
    if progress:
        progress("read", tally.counts.records, tally.counts.records)
    return tally


# --- pass 2: split and write --------------------------------------------------------------------------


def _second_pass(
    tally: _Tally, options: PrepareOptions, spool_path: Path, progress: ProgressCallback | None
) -> list[Side]:
    """Split on the packed keys, then stream the spool into the three files.

    Each dataset-wide computation runs on its own and lets go of its working set before the next.
    """
    sides = assign_sides(tally.group_keys, options.split)
    leaked = set(leaked_test_indices(sides, tally.leak_keys))
    duplicates = find_duplicates(tally.content_keys)
    originals = set(duplicates.values())
    sources_of_originals: dict[int, str] = {}
    with SplitWriter(options.out_dir) as writer, spool_path.open(encoding="utf-8") as spool:
        for index, line in enumerate(spool):
            record = json.loads(line)
            source = record[EVALUATION_FIELD]["source"]
            if index in originals:
                sources_of_originals[index] = source
            if index in duplicates:
                tally.log.add(duplicate_warning(SourceRef(source), sources_of_originals[duplicates[index]]))
            if index in leaked:
                tally.log.add(leakage_warning(SourceRef(source)))
            if tally.orphan_candidates:
                tally.orphan_candidates.difference_update(_image_keys(record))
            writer.write(sides[index], record)
            if progress and index % 200 == 0:
                progress("write", index, len(sides))
    if progress:
        progress("write", len(sides), len(sides))
    return sides


def _image_keys(record: dict[str, Any]) -> Iterator[str]:
    for message in record["messages"]:
        for item in message["content"]:
            if "image" in item:
                uri: str = item["image"]["source"]["s3Location"]["uri"]
                yield uri[uri.rindex("/" + IMAGES_DIR + "/") + 1 :]


def _clear_images(out_dir: Path) -> None:
    """Images of an earlier run into the same folder must not be uploaded with this one."""
    folder = out_dir / IMAGES_DIR
    if folder.is_dir():
        for path in folder.iterdir():
            if _IMAGE_NAME.fullmatch(path.name):
                path.unlink()


def _remove_orphans(out_dir: Path, orphans: set[str]) -> None:
    """Images only rejected records used were written by the workers; they must not be uploaded."""
    for key in orphans:
        (out_dir / key).unlink(missing_ok=True)


def _count_images(out_dir: Path) -> int:
    folder = out_dir / IMAGES_DIR
    if not folder.is_dir():
        return 0
    with os.scandir(folder) as entries:
        return sum(1 for entry in entries if _IMAGE_NAME.fullmatch(entry.name))


# --- the use case --------------------------------------------------------------------------------------


def prepare(
    source: str,
    options: PrepareOptions,
    *,
    s3_client: S3Client | None = None,
    progress: ProgressCallback | None = None,
) -> Report:
    """Check and convert one dataset; write the folder and report.json; upload when asked.

    Raises ``UsageError`` for options that cannot work and ``SourceError`` when the source cannot be
    opened; every problem with the data itself ends up in the report instead.
    """
    problems = options.problems()
    if options.upload and s3_client is None:
        problems.append("--upload needs an S3 client (the caller makes one from the AWS settings)")
    if problems:
        raise UsageError("; ".join(problems))
    s3_uri = (options.s3_uri or PLACEHOLDER_S3_URI).rstrip("/")
    options.out_dir.mkdir(parents=True, exist_ok=True)
    _clear_images(options.out_dir)
    with tempfile.TemporaryDirectory(prefix="tunebot-prepare-") as scratch:
        workdir = Path(scratch)
        root = open_source(source, workdir / "source", s3_client=s3_client)
        fmt = detect_format(root) if options.format == "auto" else options.format
        spool_path = workdir / "accepted.jsonl"
        tally = _first_pass(root, fmt, options, s3_uri, spool_path, s3_client, progress)
        sides = _second_pass(tally, options, spool_path, progress)
    _remove_orphans(options.out_dir, tally.orphan_candidates)

    report = _build_report(fmt, tally, sides, options, s3_uri)
    _write_report(options.out_dir, report)
    if options.upload and s3_client is not None and options.s3_uri is not None:  # checked above
        summary = upload_folder(
            options.out_dir,
            options.s3_uri,
            s3_client,
            max_concurrency=options.upload_concurrency,
            progress=(lambda done, total: progress("upload", done, total)) if progress else None,
        )
        report.upload = Upload(
            s3_uri=options.s3_uri,
            uploaded=summary.uploaded,
            skipped=summary.skipped,
            bytes_uploaded=summary.bytes_uploaded,
        )
        _write_report(options.out_dir, report)
    return report


def _build_report(fmt: str, tally: _Tally, sides: list[Side], options: PrepareOptions, s3_uri: str) -> Report:
    counts = tally.counts
    totals: dict[Side, int] = {"train": 0, "validation": 0, "test": 0}
    sized: dict[Side, int] = {"train": 0, "validation": 0, "test": 0}
    for side, tokens in zip(sides, tally.tokens, strict=True):
        totals[side] += tokens
        sized[side] += 1
    counts.train, counts.validation, counts.test = sized["train"], sized["validation"], sized["test"]
    counts.images = _count_images(options.out_dir)

    tally.log.extend(record_count_findings(counts.train, counts.validation))
    json_summary = tally.json_answers.finding()
    if json_summary is not None:
        tally.log.add(json_summary)
    if options.s3_uri is None:
        tally.log.add(
            warning(
                "placeholder_bucket",
                f"no S3 URI given, so image URIs point at {PLACEHOLDER_S3_URI}: rerun with --s3-uri "
                "s3://bucket/prefix (or set TUNEBOT_S3_URI) before training",
            )
        )
    if counts.accepted == 0 and counts.records == 0:
        tally.log.add(error("bad_record", "the source holds no records: check the path and --format"))

    recommendation = recommend(counts.train, options.model)
    prices = options.prices or load_prices()
    # Both sizes, so a user choosing between Launch 11B, 90B or both sees each price.
    cost_by_model = {
        size: estimate_cost(
            model=size,
            epochs=recommendation.epochs,
            train_tokens=totals["train"],
            test_records=counts.test,
            test_tokens=totals["test"],
            prices=prices,
        )
        for size in MODEL_SIZES
    }
    cost = cost_by_model[recommendation.model]
    answers = tally.json_answers
    return Report(
        format=fmt,
        usable=counts.train > 0 and counts.train + counts.validation >= 100,
        counts=counts,
        errors=tally.log.errors,
        warnings=tally.log.warnings,
        tokens=Tokens(
            max_per_record=max(tally.tokens, default=0),
            train_total=totals["train"],
            validation_total=totals["validation"],
            test_total=totals["test"],
        ),
        recommendation=recommendation,
        cost_estimate=cost,
        cost_by_model=cost_by_model,
        json_answers=(
            JsonAnswers(json_like=answers.json_like, parse=answers.parsed, plain=answers.plain)
            if answers.json_like
            else None
        ),
        error_counts=dict(tally.log.error_counts),
        warning_counts=dict(tally.log.warning_counts),
        s3_uri=s3_uri,
        out_dir=str(options.out_dir),
    )


def _write_report(out_dir: Path, report: Report) -> None:
    (out_dir / REPORT_FILE).write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")

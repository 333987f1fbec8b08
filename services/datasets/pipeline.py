"""``prepare``: source -> reader -> images -> checks -> split -> Bedrock files -> optional upload.

Memory stays flat as the dataset grows:
- records stream from the reader; at most ``in_flight`` of them wait for their images at once;
- image work runs in a process pool; a worker reads, normalises and writes the image itself and
  returns only its hash, format and size, so image bytes never travel back or pile up here;
- at most IMAGE_MEMORY distinct images are remembered (to process each once), whatever the dataset size;
- accepted records are spooled to a temporary JSON Lines file; what stays in memory per record is a
  packed 16-byte group key, leakage key and content key and a token count (pass 2 re-reads the spool).

With ``--upload`` an accepted record's images are uploaded while the rest is still being prepared
(``EarlyUploads``), so the upload's round trips overlap the image work; the final ``upload_folder``
sends the record files and whatever is not there yet.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from services.aws.s3 import split_s3_uri
from services.aws.upload import EarlyUploads, upload_folder
from services.datasets.detect import detect_format
from services.datasets.images import ImagePolicy
from services.datasets.model import Example, Finding, SourceRef
from services.datasets.readers import FORMATS as READER_FORMATS
from services.datasets.readers import ReaderOptions, read_examples
from services.datasets.report import (
    Report,
    Upload,
)
from services.datasets.rules import (
    check_record,
    content_key,
    duplicate_warning,
    find_duplicates,
    fits_models,
    leakage_key,
    leakage_warning,
    leaked_test_indices,
    normalise_question,
)
from services.datasets.sources import open_source
from services.datasets.split import SplitOutcome, SplitPlan, group_key, plan_sides
from services.datasets.tally import MAX_NAMED_OVER_LIMIT, SPLIT_CODES, SPLIT_NAMES, Tally, build_report
from services.datasets.workers import ImageOutcome, ImageStage, make_executor
from services.datasets.writer import (
    EVALUATION_FIELD,
    IMAGES_DIR,
    PLACEHOLDER_S3_URI,
    SplitWriter,
    StoredImage,
    bedrock_record,
    dumps,
    evaluation_fields,
)
from services.tuning.pricing import PriceTable, load_prices
from services.tuning.recommend import MODEL_SIZES, ModelSize

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

FORMATS = ("auto", *READER_FORMATS)
SPLIT_MODES = ("source", "random")
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
    # The question of records that have none (captioning): None uses readers.DEFAULT_INSTRUCTION.
    instruction: str | None = None
    image_policy: ImagePolicy = field(default_factory=ImagePolicy)
    workers: int | None = None  # None: one per core; 1: no pool, everything in this process
    prices: PriceTable | None = None
    upload_concurrency: int = 16
    # For datasets from strangers (Slack uploads, the API): a record may only name image files inside
    # the dataset itself, never elsewhere on the service's disk (another team's data, say).
    confine_images: bool = False
    # For the same strangers: the s3:// prefixes a Bedrock record's images may be read from (None: any).
    allowed_s3_prefixes: tuple[str, ...] | None = None

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


# --- pass 1: read, check, spool ---------------------------------------------------------------------


@dataclass(slots=True)
class _Pending:
    example: Example
    outcomes: list[Future[ImageOutcome]]
    first_use: list[bool]


def _read(root: Path, fmt: str, options: PrepareOptions) -> Iterator[Example | Finding]:
    reader_options = ReaderOptions(
        system=options.system,
        image_column=options.image_column,
        question_column=options.question_column,
        answer_column=options.answer_column,
        instruction=options.instruction,
    )
    yield from read_examples(root, fmt, reader_options)


def _finish_record(
    pending: _Pending,
    tally: Tally,
    options: PrepareOptions,
    s3_uri: str,
    spool: TextIO,
    early: EarlyUploads | None,
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
    check = check_record(example, sizes, model=options.model, system=system)
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
    if early is not None:
        for image in stored:
            early.submit(image.key)

    record = bedrock_record(example, stored, s3_uri, system)
    record[EVALUATION_FIELD] = evaluation_fields(example)
    spool.write(dumps(record) + "\n")
    tally.group_keys.append(group_key(hashes, normalise_question(example.first_question)))
    tally.leak_keys.append(leakage_key(hashes, example.first_question))
    tally.content_keys.append(content_key(example, hashes))
    tally.tokens.append(check.tokens)
    tally.splits.append(SPLIT_CODES[example.split])
    for size in MODEL_SIZES:
        if size not in fits_models(check.tokens):
            tally.over_limit_counts[size] = tally.over_limit_counts.get(size, 0) + 1
            named = tally.over_limit.setdefault(size, [])
            if len(named) < MAX_NAMED_OVER_LIMIT:
                named.append(str(example.source))


def _first_pass(
    root: Path,
    fmt: str,
    options: PrepareOptions,
    s3_uri: str,
    spool_path: Path,
    s3: S3Client | None,
    progress: ProgressCallback | None,
    early: EarlyUploads | None,
) -> Tally:
    tally = Tally()
    workers = options.workers or os.cpu_count() or 1
    in_flight = max(8, workers * 16)
    with make_executor(workers) as executor, spool_path.open("w", encoding="utf-8") as spool:
        allowed_root = (root if root.is_dir() else root.parent) if options.confine_images else None
        dataset_root = root if root.is_dir() else root.parent
        images = ImageStage(
            executor,
            options.out_dir,
            options.image_policy,
            s3,
            allowed_root,
            dataset_root,
            options.allowed_s3_prefixes,
        )
        try:
            _read_all(root, fmt, options, s3_uri, images, tally, spool, in_flight, progress, early)
        finally:
            images.close()
    if progress:
        progress("read", tally.counts.records, tally.counts.records)
    return tally


def _read_all(
    root: Path,
    fmt: str,
    options: PrepareOptions,
    s3_uri: str,
    images: ImageStage,
    tally: Tally,
    spool: TextIO,
    in_flight: int,
    progress: ProgressCallback | None,
    early: EarlyUploads | None,
) -> None:
    queue: deque[_Pending] = deque()
    for item in _read(root, fmt, options):
        if isinstance(item, Finding) and (item.severity == "warning" or item.record is None):
            tally.log.add(item)  # about the dataset (an unused column, a default instruction)
            continue
        tally.counts.records += 1
        if isinstance(item, Finding):
            tally.log.add(item)
            tally.counts.rejected += 1
        else:
            submitted = [images.submit(ref) for ref in item.images]
            queue.append(_Pending(item, [f for f, _ in submitted], [first for _, first in submitted]))
        # Keep records in source order, and bound the work waiting on images.
        while queue and (len(queue) >= in_flight or all(f.done() for f in queue[0].outcomes)):
            _finish_record(queue.popleft(), tally, options, s3_uri, spool, early)
        if tally.counts.records % 256 == 0:
            images.compact()
        if progress and tally.counts.records % 50 == 0:
            progress("read", tally.counts.records, None)
    while queue:
        _finish_record(queue.popleft(), tally, options, s3_uri, spool, early)


# --- pass 2: split and write --------------------------------------------------------------------------


def _second_pass(
    tally: Tally, options: PrepareOptions, spool_path: Path, progress: ProgressCallback | None
) -> SplitOutcome:
    """Split on the packed keys, then stream the spool into the files.

    Each dataset-wide computation runs on its own and lets go of its working set before the next.
    """
    outcome = plan_sides(tally.group_keys, options.split, [SPLIT_NAMES[code] for code in tally.splits])
    sides = outcome.sides
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
    return outcome


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
        early = (
            EarlyUploads(options.out_dir, options.s3_uri, s3_client, options.upload_concurrency)
            if options.upload and s3_client is not None and options.s3_uri is not None
            else None
        )
        try:
            tally = _first_pass(root, fmt, options, s3_uri, spool_path, s3_client, progress, early)
            split = _second_pass(tally, options, spool_path, progress)
        finally:
            if early is not None:
                early.close()
    _remove_orphans(options.out_dir, tally.orphan_candidates)

    report = build_report(
        fmt,
        tally,
        split,
        images=_count_images(options.out_dir),
        model=options.model,
        prices=options.prices or load_prices(),
        respect_source=options.split.respect_source,
        s3_uri_given=options.s3_uri is not None,
        s3_uri=s3_uri,
        out_dir=str(options.out_dir),
    )
    _write_report(options.out_dir, report)
    if options.upload and s3_client is not None and options.s3_uri is not None:  # checked above
        summary = upload_folder(
            options.out_dir,
            options.s3_uri,
            s3_client,
            max_concurrency=options.upload_concurrency,
            progress=(lambda done, total: progress("upload", done, total)) if progress else None,
        )
        # The images sent early were found unchanged just now: they count as uploaded, not skipped.
        sent_early, bytes_early = (early.uploaded, early.bytes_uploaded) if early is not None else (0, 0)
        report.upload = Upload(
            s3_uri=options.s3_uri,
            uploaded=summary.uploaded + sent_early,
            skipped=max(0, summary.skipped - sent_early),
            bytes_uploaded=summary.bytes_uploaded + bytes_early,
        )
        _write_report(options.out_dir, report)
    return report


def _write_report(out_dir: Path, report: Report) -> None:
    (out_dir / REPORT_FILE).write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")

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
import json
import os
import re
import tempfile
from array import array
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from services.aws.s3 import split_s3_uri
from services.aws.upload import upload_folder
from services.datasets.detect import detect_format
from services.datasets.images import ImagePolicy
from services.datasets.model import Example, Finding, SourceRef, SourceSplit, error, warning
from services.datasets.readers import FORMATS as READER_FORMATS
from services.datasets.readers import ReaderOptions, read_examples
from services.datasets.report import (
    Counts,
    FindingLog,
    JsonAnswers,
    ModelFit,
    Report,
    SplitReport,
    Tokens,
    Upload,
)
from services.datasets.rules import (
    JsonAnswerTally,
    check_record,
    content_key,
    duplicate_warning,
    find_duplicates,
    fits_models,
    leakage_key,
    leakage_warning,
    leaked_test_indices,
    normalise_question,
    record_count_findings,
    small_test_finding,
)
from services.datasets.sources import open_source
from services.datasets.split import PackedKeys, Side, SplitOutcome, SplitPlan, group_key, plan_sides
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
from services.tuning.recommend import MODEL_SIZES, ModelSize, estimate_cost, recommend

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

FORMATS = ("auto", *READER_FORMATS)
SPLIT_MODES = ("source", "random")
_SPLIT_CODES: dict[SourceSplit | None, int] = {None: 0, "train": 1, "validation": 2, "test": 3}
_SPLIT_NAMES: list[SourceSplit | None] = [None, "train", "validation", "test"]
# Records named per model size that a dataset's records do not fit (the rest are counted).
MAX_NAMED_OVER_LIMIT = 50
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
    splits: bytearray = field(default_factory=bytearray)  # the source's split of each, _SPLIT_CODES
    over_limit: dict[ModelSize, list[str]] = field(default_factory=dict)  # the first few records named
    over_limit_counts: dict[ModelSize, int] = field(default_factory=dict)
    default_instruction_used: int = 0
    # Images only rejected records used so far: removed at the end unless an accepted record uses them.
    orphan_candidates: set[str] = field(default_factory=set)


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

    record = bedrock_record(example, stored, s3_uri, system)
    record[EVALUATION_FIELD] = evaluation_fields(example)
    spool.write(dumps(record) + "\n")
    tally.group_keys.append(group_key(hashes, normalise_question(example.first_question)))
    tally.leak_keys.append(leakage_key(hashes, example.first_question))
    tally.content_keys.append(content_key(example, hashes))
    tally.tokens.append(check.tokens)
    tally.splits.append(_SPLIT_CODES[example.split])
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
) -> _Tally:
    tally = _Tally()
    workers = options.workers or os.cpu_count() or 1
    in_flight = max(8, workers * 16)
    with make_executor(workers) as executor, spool_path.open("w", encoding="utf-8") as spool:
        allowed_root = (root if root.is_dir() else root.parent) if options.confine_images else None
        dataset_root = root if root.is_dir() else root.parent
        images = ImageStage(executor, options.out_dir, options.image_policy, s3, allowed_root, dataset_root)
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
) -> SplitOutcome:
    """Split on the packed keys, then stream the spool into the files.

    Each dataset-wide computation runs on its own and lets go of its working set before the next.
    """
    outcome = plan_sides(tally.group_keys, options.split, [_SPLIT_NAMES[code] for code in tally.splits])
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
        tally = _first_pass(root, fmt, options, s3_uri, spool_path, s3_client, progress)
        split = _second_pass(tally, options, spool_path, progress)
    _remove_orphans(options.out_dir, tally.orphan_candidates)

    report = _build_report(fmt, tally, split, options, s3_uri)
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


def _build_report(
    fmt: str, tally: _Tally, split: SplitOutcome, options: PrepareOptions, s3_uri: str
) -> Report:
    counts = tally.counts
    totals: dict[Side, int] = {"train": 0, "validation": 0, "test": 0, "unused": 0}
    sized: dict[Side, int] = {"train": 0, "validation": 0, "test": 0, "unused": 0}
    for side, tokens in zip(split.sides, tally.tokens, strict=True):
        totals[side] += tokens
        sized[side] += 1
    counts.train, counts.validation, counts.test = sized["train"], sized["validation"], sized["test"]
    counts.unused = sized["unused"]
    counts.images = _count_images(options.out_dir)

    tally.log.extend(record_count_findings(counts.train, counts.validation))
    for note in split.notes:
        if "unused.jsonl" in note:
            tally.log.add(warning("split_capped", note))
    small_test = small_test_finding(counts.test)
    if small_test is not None:
        tally.log.add(small_test)
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

    fit = _model_fit(tally, options.model)
    recommendation = recommend(counts.train, options.model, fits=tuple(fit.fits))
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
        usable=counts.train > 0 and counts.train + counts.validation >= 100 and bool(fit.fits),
        counts=counts,
        errors=tally.log.errors,
        warnings=tally.log.warnings,
        tokens=Tokens(
            max_per_record=max(tally.tokens, default=0),
            train_total=totals["train"],
            validation_total=totals["validation"],
            test_total=totals["test"],
        ),
        model_fit=fit,
        split=SplitReport(
            mode="source" if options.split.respect_source else "random",
            source_splits={name: count for name, count in split.source_counts.items() if count},
            notes=list(split.notes),
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


def _model_fit(tally: _Tally, model: ModelSize | None) -> ModelFit:
    """Which sizes every accepted record fits, in a sentence that names the records that do not."""
    fits = [size for size in MODEL_SIZES if not tally.over_limit_counts.get(size)]
    if model is not None and model not in fits:
        fits = []  # cannot happen: --model rejects records over its limit
    over = {size: tally.over_limit_counts[size] for size in MODEL_SIZES if tally.over_limit_counts.get(size)}
    if not over:
        summary = "fits " + " and ".join(size.upper() for size in fits)
    else:
        parts = []
        for size, count in over.items():
            named = tally.over_limit[size]
            more = f" and {count - len(named):,} more" if count > len(named) else ""
            parts.append(
                f"{count:,} record{'s' if count != 1 else ''} over {size.upper()}'s limit "
                f"({', '.join(named)}{more})"
            )
        summary = (
            f"fits {' and '.join(size.upper() for size in fits)} only: " if fits else "fits no model: "
        ) + "; ".join(parts)
    return ModelFit(fits=fits, summary=summary, over_limit=over, records_over_limit=dict(tally.over_limit))


def _write_report(out_dir: Path, report: Report) -> None:
    (out_dir / REPORT_FILE).write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")

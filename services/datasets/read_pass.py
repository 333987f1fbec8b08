"""Pass 1 of ``prepare``: read the records, wait for their images, check each record and spool the
accepted ones; this changes when what a record is checked for, or how its images are awaited, changes.

Memory stays flat as the dataset grows: records stream from the reader and at most ``in_flight`` of them
wait for their images at once; image work runs in a process pool whose workers write the images
themselves and return only hash, format and size; accepted records go to a JSON Lines spool, and what
stays in memory per record is a packed 16-byte group key, leakage key and content key and a token count
(the ``Tally``). An accepted record's images are handed to ``EarlyUploads`` at once when uploading.
"""

from __future__ import annotations

import dataclasses
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from services.aws.upload import EarlyUploads
from services.datasets.model import Example, Finding
from services.datasets.options import PrepareOptions, ProgressCallback
from services.datasets.readers import ReaderOptions, count_records, read_examples
from services.datasets.rules import (
    check_record,
    content_key,
    fits_models,
    leakage_key,
    normalise_question,
)
from services.datasets.split import group_key
from services.datasets.tally import MAX_NAMED_OVER_LIMIT, SPLIT_CODES, Tally
from services.datasets.workers import ImageOutcome, ImageStage, make_executor
from services.datasets.writer import EVALUATION_FIELD, StoredImage, bedrock_record, dumps, evaluation_fields
from services.tuning.recommend import MODEL_SIZES

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


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


def first_pass(
    root: Path,
    fmt: str,
    options: PrepareOptions,
    s3_uri: str,
    spool_path: Path,
    s3: S3Client | None,
    progress: ProgressCallback | None,
    early: EarlyUploads | None,
) -> Tally:
    """Read every record of ``root``, check it once its images are done, spool the accepted ones to
    ``spool_path`` in source order; the ``Tally`` holds what pass 2 and the report need."""
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
        total = count_records(root, fmt) if progress else None  # a share for the progress shown
        try:
            _read_all(root, fmt, options, s3_uri, images, tally, spool, in_flight, total, progress, early)
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
    total: int | None,  # the source's records, when its format can count them before reading
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
            progress("read", tally.counts.records, total)
    while queue:
        _finish_record(queue.popleft(), tally, options, s3_uri, spool, early)

"""``prepare``: source -> reader -> images -> checks -> split -> Bedrock files -> optional upload.

The use case in order, each step in its own module: the options (``options``), pass 1 reading,
checking and spooling the records (``read_pass``), pass 2 splitting and writing them (``write_pass``),
the output folder's images (``folder``), the report (``tally``, ``report``) and the upload
(``services.aws.upload``). Memory stays flat as the dataset grows (see ``read_pass``).

With ``--upload`` an accepted record's images are uploaded while the rest is still being prepared
(``EarlyUploads``), so the upload's round trips overlap the image work; the final ``upload_folder``
sends the record files and whatever is not there yet.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from services.aws.upload import EarlyUploads, upload_folder
from services.datasets.detect import detect_format
from services.datasets.folder import clear_images, count_images, remove_orphans
from services.datasets.options import FORMATS, SPLIT_MODES, PrepareOptions, ProgressCallback, UsageError
from services.datasets.read_pass import first_pass
from services.datasets.report import Report, Upload
from services.datasets.sources import open_source
from services.datasets.tally import build_report
from services.datasets.write_pass import second_pass
from services.datasets.writer import PLACEHOLDER_S3_URI
from services.tuning.pricing import load_prices

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Importers name these from here as well as from ``options``.
__all__ = [
    "FORMATS",
    "REPORT_FILE",
    "SPLIT_MODES",
    "PrepareOptions",
    "ProgressCallback",
    "UsageError",
    "prepare",
]

REPORT_FILE = "report.json"


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
    clear_images(options.out_dir)
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
            tally = first_pass(root, fmt, options, s3_uri, spool_path, s3_client, progress, early)
            split = second_pass(tally, options, spool_path, progress)
        finally:
            if early is not None:
                early.close()
    remove_orphans(options.out_dir, tally.orphan_candidates)

    report = build_report(
        fmt,
        tally,
        split,
        images=count_images(options.out_dir),
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
            known=early.known_objects() if early is not None else None,
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

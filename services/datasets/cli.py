"""`tunebot prepare` and `tunebot recommend`: the dataset library on the command line.

Exit codes: 0 the dataset is usable for a job, 1 it is not (or the run failed), 2 a usage error.
Whatever goes wrong prints one line, never a traceback.
"""

from __future__ import annotations

import json
from collections import defaultdict
from enum import Enum, StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from services.aws.upload import UploadError
from services.datasets.pipeline import FORMATS, PrepareOptions, UsageError, prepare
from services.datasets.readers._columns import DEFAULT_INSTRUCTION
from services.datasets.report import Report, ReportFinding
from services.datasets.sources import SINGLE_FILE_SUFFIXES, SourceError
from services.datasets.split import SplitPlan
from services.platform.config import ConfigError, Settings, load_settings
from services.tuning.pricing import PricesError, load_prices
from services.tuning.recommend import Recommendation, recommend

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

FormatChoice = Enum("FormatChoice", {name.replace("-", "_"): name for name in FORMATS}, type=str)  # type: ignore[misc]
FIRST_FINDINGS_PER_CODE = 3
# SourceError codes that mean the command named something wrong (not that the data is bad): exit 2.
USAGE_SOURCE_CODES = {
    "source_missing",
    "source_unsupported",
    "format_unknown",
    "column_missing",
    "image_column_unrecognised",
    "source_not_allowed",
}


class SplitChoice(StrEnum):
    source = "source"
    random = "random"


class ModelChoice(StrEnum):
    b11 = "11b"
    b90 = "90b"


def register(app: typer.Typer) -> None:
    """Add the dataset commands to the `tunebot` app."""
    app.command("prepare")(prepare_command)
    app.command("recommend")(recommend_command)


def prepare_command(
    source: str = typer.Argument(
        ..., help="A folder, .zip, .json/.jsonl/.csv/.parquet file, .pdf, or s3:// prefix."
    ),
    format: FormatChoice = typer.Option("auto", "--format", help="The dataset's format; auto detects it."),
    out: Path | None = typer.Option(None, "--out", help="Output folder (default ./prepared/<name>)."),
    s3_uri: str | None = typer.Option(
        None, "--s3-uri", help="Where the files will live, s3://bucket/prefix (default TUNEBOT_S3_URI)."
    ),
    upload: bool = typer.Option(False, "--upload", help="Upload images and files to --s3-uri."),
    validation_fraction: float = typer.Option(
        0.15, "--validation-fraction", help="Share for validation, 0.10-0.20."
    ),
    test_fraction: float = typer.Option(
        0.10, "--test-fraction", help="Share held out for evaluation (at most 500)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the split: the same seed gives the same split."),
    split: SplitChoice = typer.Option(
        SplitChoice.source,
        "--split",
        help="source: keep the dataset's own train/validation/test splits; random: pool and split them.",
    ),
    instruction: str | None = typer.Option(
        None,
        "--instruction",
        help=f'The question of records that have none, e.g. captions (default "{DEFAULT_INSTRUCTION}").',
    ),
    system: str | None = typer.Option(None, "--system", help="System prompt for records that have none."),
    model: ModelChoice | None = typer.Option(
        None, "--model", help="Model size the records must fit (default 11b)."
    ),
    image_column: str | None = typer.Option(
        None, "--image-column", help="CSV/JSONL column with the image path."
    ),
    question_column: str | None = typer.Option(
        None, "--question-column", help="CSV/JSONL column with the question."
    ),
    answer_column: str | None = typer.Option(
        None, "--answer-column", help="CSV/JSONL column with the answer."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print report.json instead of the summary."),
) -> None:
    """Check a dataset and convert it to Bedrock's format, with a report you can act on."""
    console = Console()
    errors = Console(stderr=True)
    try:
        settings = load_settings()
        options = PrepareOptions(
            out_dir=out or Path("prepared") / _source_name(source),
            format=str(format.value),
            s3_uri=(s3_uri or settings.s3_uri or None),
            upload=upload,
            split=SplitPlan(
                validation_fraction=validation_fraction,
                test_fraction=test_fraction,
                seed=seed,
                respect_source=split == SplitChoice.source,
            ),
            instruction=instruction,
            system=system,
            model=model.value if model else None,
            image_column=image_column,
            question_column=question_column,
            answer_column=answer_column,
            prices=load_prices(settings.prices_file),
        )
        problems = options.problems()
        if problems:
            raise UsageError("; ".join(problems))
        client = _s3_client(settings, options.upload_concurrency) if _needs_s3(source, upload) else None
        with _ProgressBar(errors, enabled=not as_json) as bar:
            report = prepare(source, options, s3_client=client, progress=bar.update)
    except (UsageError, ConfigError) as exc:
        _fail(errors, f"usage: {exc}", 2)
    except SourceError as exc:
        _fail(errors, f"source: {_message(exc)}", 2 if getattr(exc, "code", "") in USAGE_SOURCE_CODES else 1)
    except (UploadError, PricesError) as exc:
        _fail(errors, str(exc), 1)
    except Exception as exc:  # the promise is one line, never a traceback
        _fail(errors, f"prepare failed: {type(exc).__name__}: {_message(exc)}", 1)

    if as_json:
        typer.echo(json.dumps(report.model_dump(mode="json"), indent=2))
    else:
        _print_summary(console, source, report)
    raise typer.Exit(0 if report.usable else 1)


def recommend_command(
    examples: int = typer.Option(..., "--examples", min=0, help="How many training examples you have."),
    model: ModelChoice | None = typer.Option(None, "--model", help="Model size you mean to train."),
    as_json: bool = typer.Option(False, "--json", help="Print the recommendation as JSON."),
) -> None:
    """Recommend epochs, learning rate and model size for a dataset of N examples."""
    result = recommend(examples, model.value if model else None)
    if as_json:
        payload = result.model_dump(mode="json", exclude={"examples"})
        typer.echo(json.dumps(payload, indent=2))
        return
    _print_recommendation(Console(), result)


# --- helpers -------------------------------------------------------------------------------------------


def _source_name(source: str) -> str:
    name = Path(source.rstrip("/").removeprefix("s3://")).name
    if Path(name).suffix in {".zip", *SINGLE_FILE_SUFFIXES}:
        name = Path(name).stem
    return name or "dataset"


def _needs_s3(source: str, upload: bool) -> bool:
    return upload or source.startswith("s3://")


def _s3_client(settings: Settings, concurrency: int) -> S3Client:
    from services.aws.clients import ClientOptions, s3_client

    return s3_client(ClientOptions.from_settings(settings, max_pool_connections=concurrency + 4))


def _message(exc: BaseException) -> str:
    text = str(getattr(exc, "message", "") or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _fail(console: Console, line: str, code: int) -> None:
    console.print(line, markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


class _ProgressBar:
    """A Rich progress bar on stderr, started only once there is progress to show."""

    def __init__(self, console: Console, enabled: bool) -> None:
        self._enabled = enabled and console.is_terminal
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._tasks: dict[str, Any] = {}
        self._started = False

    def update(self, stage: str, done: int, total: int | None) -> None:
        if not self._enabled:
            return
        if not self._started:
            self._progress.start()
            self._started = True
        labels = {"read": "checking records", "write": "writing files", "upload": "uploading"}
        if stage not in self._tasks:
            self._tasks[stage] = self._progress.add_task(labels.get(stage, stage), total=total)
        self._progress.update(self._tasks[stage], completed=done, total=total)

    def __enter__(self) -> _ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._started:
            self._progress.stop()


def _print_summary(console: Console, source: str, report: Report) -> None:
    verdict = "[green]usable[/]" if report.usable else "[red]not usable[/]"
    console.print(f"[bold]{source}[/] ({report.format}): {verdict}")
    counts = report.counts
    table = Table(show_header=False, box=None, padding=(0, 2))
    for label, value in (
        ("records read", counts.records),
        ("accepted", counts.accepted),
        ("rejected", counts.rejected),
        ("train / validation / test", f"{counts.train} / {counts.validation} / {counts.test}"),
        ("left out (unused.jsonl)", counts.unused),
        ("images", counts.images),
        ("text-only / multi-image", f"{counts.text_only} / {counts.multi_image}"),
        ("tokens: max per record", f"{report.tokens.max_per_record:,}"),
        ("tokens: train total", f"{report.tokens.train_total:,}"),
    ):
        table.add_row(label, str(value))
    console.print(table)
    if report.model_fit is not None:
        console.print(f"Model fit: {report.model_fit.summary}", markup=False, highlight=False)
    if report.split is not None:
        for note in report.split.notes:
            console.print(f"Split: {note}", markup=False, highlight=False)
    _print_findings(console, "errors", report.errors, report.error_counts, "red")
    _print_findings(console, "warnings", report.warnings, report.warning_counts, "yellow")
    if report.json_answers is not None:
        answers = report.json_answers
        console.print(
            f"JSON answers: {answers.parse} of {answers.json_like} parse ({answers.plain} plain text)"
        )
    _print_recommendation(console, report.recommendation)
    cost = report.cost_estimate
    doubtful = ", ".join(cost.unconfirmed)
    doubtful = f"; unconfirmed or placeholder prices: {doubtful}" if doubtful else ""
    console.print(
        f"Cost estimate ({cost.model.upper()}, {cost.epochs} epochs): about ${cost.total_usd:,.2f} "
        f"(training ${cost.training_usd:,.2f}, evaluation ${cost.evaluation_usd:,.2f}, storage "
        f"${cost.storage_usd_per_month:,.2f}/month) - an estimate, prices as of "
        f"{cost.prices_as_of}{doubtful}",
        highlight=False,
    )
    console.print(f"Files in {report.out_dir}; records point at {report.s3_uri}/images/", highlight=False)
    if report.upload is not None:
        console.print(
            f"Uploaded {report.upload.uploaded} files ({report.upload.bytes_uploaded / 1e6:.1f} MB), "
            f"{report.upload.skipped} already there, to {report.upload.s3_uri}",
            highlight=False,
        )


def _print_findings(
    console: Console, title: str, findings: list[ReportFinding], counts: dict[str, int], colour: str
) -> None:
    if not counts:
        return
    console.print(f"[bold {colour}]{title}[/] ({sum(counts.values()):,})")
    grouped: dict[str, list[ReportFinding]] = defaultdict(list)
    for finding in findings:
        if len(grouped[finding.code]) < FIRST_FINDINGS_PER_CODE:
            grouped[finding.code].append(finding)
    for code, count in sorted(counts.items(), key=lambda item: -item[1]):
        console.print(f"  [{colour}]{code}[/] x{count:,}")
        for finding in grouped.get(code, []):
            where = f"{finding.record}: " if finding.record else ""
            console.print(f"    {where}{finding.message}", markup=False, highlight=False)


def _print_recommendation(console: Console, result: Recommendation) -> None:
    low, high = result.learning_rate_range
    console.print(
        f"Recommendation: Llama 3.2 {result.model.upper()}, {result.epochs} epochs "
        f"(range {result.epochs_range[0]}-{result.epochs_range[1]}), learning rate {result.learning_rate:g} "
        f"(range {low:g}-{high:g})",
        highlight=False,
    )
    for reason in result.reasons:
        console.print(f"  - {reason}", markup=False, highlight=False)

"""`tunebot jobs launch|list|show|compare|cancel` and `tunebot datasets check|list|show`: the job
service's API for people and pipelines that do not use Slack.

Everything goes through ``services.client.ServiceClient``, like the bot. Exit codes: 0 done, 1 the
service refused or failed, 2 a usage or configuration error. ``--json`` prints the API's answer as is.
"""

from __future__ import annotations

import getpass
import json
import sys
import time
import uuid
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import ParamSpec, TypeVar

import typer
from pydantic import BaseModel

from services.api.schemas import DatasetOut, DatasetStatus, EstimateOut, JobOut, JobStatus
from services.client import ServiceClient, ServiceError
from services.evaluation.comparison import SizeComparison
from services.evaluation.verdict import render_comparison_text
from services.platform.config import ConfigError, load_settings
from services.platform.labels import SANDBOX_LABEL
from services.tuning.costs import estimate_text

jobs_app = typer.Typer(
    help="Launch, follow and cancel fine-tuning jobs through the job service.", no_args_is_help=True
)


class Model(StrEnum):
    b11 = "11b"
    b90 = "90b"


datasets_app = typer.Typer(
    help="Check datasets with the job service and see their reports.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add the `jobs` and `datasets` command groups to the `tunebot` app."""
    app.add_typer(jobs_app, name="jobs")
    app.add_typer(datasets_app, name="datasets")


def _client() -> ServiceClient:
    try:
        settings = load_settings()
    except ConfigError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
    if settings.service_url is None or settings.api_token is None:
        typer.echo(
            "set TUNEBOT_SERVICE_URL (the job service's URL) and TUNEBOT_API_TOKEN to use this command",
            err=True,
        )
        raise typer.Exit(2)
    return ServiceClient(settings.service_url, settings.api_token.get_secret_value())


P = ParamSpec("P")
R = TypeVar("R")


def _call(action: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    try:
        return action(*args, **kwargs)
    except ServiceError as error:
        where = f" ({error.field})" if error.field else ""
        typer.echo(f"{error.code}{where}: {error.message}", err=True)
        raise typer.Exit(2 if error.status == 422 else 1) from None


def _json(answer: BaseModel | list[DatasetOut]) -> str:
    """The API's answer as it sent it (the wire schemas serialise back to exactly that)."""
    if isinstance(answer, list):
        return json.dumps([item.model_dump(mode="json") for item in answer], indent=2)
    return json.dumps(answer.model_dump(mode="json"), indent=2)


def _line(job: JobOut) -> str:
    cost_text = estimate_text(job.cost_estimate_usd, job.cost_note)
    return (
        f"{job.id}  {job.model:<3}  {job.status:<10}  {job.name}  "
        f"epochs {job.epochs} (recommended {job.recommended_epochs}), "
        f"lr {job.learning_rate:g} (recommended {job.recommended_learning_rate:g}), {cost_text}"
        + _scores(job)
        + (f" ({SANDBOX_LABEL})" if job.sandbox else "")
    )


def _scores(job: JobOut) -> str:
    """ ", SQuAD F1 base 62.5 -> fine-tuned 81.3" once the evaluation has scored both models."""
    f1 = {e.variant: e.f1 for e in job.evaluations if e.f1 is not None}
    if "base" in f1 and "fine_tuned" in f1:
        return f", SQuAD F1 base {f1['base']:.1f} -> fine-tuned {f1['fine_tuned']:.1f}"
    return ""


@jobs_app.command("launch")
def launch(
    dataset_id: str = typer.Argument(..., help="A ready dataset's id (see `tunebot datasets list`)."),
    model: list[Model] = typer.Option(
        [Model.b11], "--model", help="Model size; repeat for both: --model 11b --model 90b."
    ),
    epochs: int | None = typer.Option(None, help="Default: the recommendation for the dataset."),
    learning_rate: float | None = typer.Option(None, help="Default: the recommendation for the dataset."),
    evaluate: bool = typer.Option(True, help="Score the fine-tuned model against the base model."),
    requested_by: str | None = typer.Option(None, help="Who asks (default: your login name)."),
    approved_by: str | None = typer.Option(None, help="An admin approving a launch above the cost limit."),
    name: str | None = typer.Option(None, help="A name for the job (default: dataset and size)."),
    idempotency_key: str | None = typer.Option(
        None, help="Repeat a launch safely: the same key never starts a second job (default: a new key)."
    ),
    yes: bool = typer.Option(
        False, "--yes", "-y", help="Accept the estimate without asking (for scripts); it is still printed."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the API's JSON answer."),
) -> None:
    """Show what a launch of one or both model sizes would cost, ask, then launch it."""
    key = idempotency_key or f"cli-{uuid.uuid4().hex}"
    client = _client()
    sizes = [size.value for size in dict.fromkeys(model)]
    estimate = _call(
        client.estimate_launch,
        dataset_id=dataset_id,
        models=sizes,
        epochs=epochs,
        learning_rate=learning_rate,
        evaluate=evaluate,
    )
    for line in estimate_lines(estimate):
        typer.echo(line, err=as_json)  # with --json, stdout carries only the API's answer
    if estimate.approval_required and approved_by is None:
        typer.echo(
            f"approval_required: the estimate is above the cost cap of ${estimate.cost_cap_usd:,.2f} "
            "(TUNEBOT_MAX_LAUNCH_COST_USD): launch again with --approved-by set to an admin",
            err=True,
        )
        raise typer.Exit(1)
    if not yes:
        if not sys.stdin.isatty():
            typer.echo(
                "not launched: nobody to ask (no terminal). Rerun with --yes to accept the estimate above.",
                err=True,
            )
            raise typer.Exit(2)
        if not typer.confirm("Launch, accepting this estimate?", default=False, err=as_json):
            typer.echo("not launched", err=as_json)
            raise typer.Exit(1)
    answer = _call(
        client.launch_jobs,
        key,
        dataset_id=dataset_id,
        models=sizes,
        requested_by=requested_by or f"cli:{getpass.getuser()}",
        epochs=epochs,
        learning_rate=learning_rate,
        evaluate=evaluate,
        approved_by=approved_by,
        name=name,
    )
    if as_json:
        typer.echo(_json(answer))
        return
    verb = "launched" if answer.created else "already launched with this key"
    typer.echo(f"group {answer.group_id} {verb} (idempotency key {key})")
    for job in answer.jobs:
        typer.echo(_line(job))


def estimate_lines(estimate: EstimateOut) -> list[str]:
    """What the launch would run and cost, one line per size and the total, before anything is billed."""
    label = f" ({SANDBOX_LABEL})" if estimate.sandbox else ""
    lines = [
        f"Estimate for dataset {estimate.dataset_name} ({estimate.dataset_id}, "
        f"{estimate.examples:,} training examples){label}:"
    ]
    for job in estimate.jobs:
        cost = job.cost
        lines.append(
            f"  {job.model.upper()}: {job.epochs} epochs (recommended {job.recommended_epochs}), "
            f"lr {job.learning_rate:g} (recommended {job.recommended_learning_rate:g}): "
            f"estimated ${cost.total_usd:,.2f} (training ${cost.training_usd:,.2f}, storage "
            f"${cost.storage_usd_per_month:,.2f} a month, evaluation ${cost.evaluation_usd:,.2f})"
        )
    lines.append(f"  total: {estimate_text(estimate.total_usd, estimate.note)}")
    lines.extend(f"warning: {warning}" for warning in estimate.warnings)
    return lines


@jobs_app.command("list")
def list_jobs(
    requested_by: str | None = typer.Option(None, help="Only jobs this person launched."),
    status: JobStatus | None = typer.Option(None, help="Only jobs in this status."),
    model: Model | None = typer.Option(None, help="Only this model size."),
    dataset_id: str | None = typer.Option(None, help="Only jobs on this dataset."),
    limit: int = typer.Option(20, min=1, max=200, help="How many, newest first."),
    before: str | None = typer.Option(None, help="Older than this job id (paging)."),
    as_json: bool = typer.Option(False, "--json", help="Print the API's JSON answer."),
) -> None:
    """Jobs, newest first."""
    page = _call(
        _client().list_jobs,
        requested_by=requested_by,
        status=status,
        model=model.value if model else None,
        dataset_id=dataset_id,
        limit=limit,
        before=before,
    )
    if as_json:
        typer.echo(_json(page))
        return
    if not page.jobs:
        typer.echo("no jobs")
    for job in page.jobs:
        typer.echo(_line(job))
    if page.next_before:
        typer.echo(f"more: tunebot jobs list --before {page.next_before}")


@jobs_app.command("show")
def show(
    job_id: str = typer.Argument(..., help="The job's id or name (e.g. charts-11b)."),
    as_json: bool = typer.Option(False, "--json", help="Print the API's JSON answer."),
) -> None:
    """One job: status, values used and recommended, failure and its likely fix, final losses."""
    job = _call(_client().get_job, job_id)
    if as_json:
        typer.echo(_json(job))
        return
    typer.echo(_line(job))
    typer.echo(f"bedrock job: {job.bedrock_job_name} ({job.bedrock_status or 'not yet seen'})")
    if job.failure_message:
        typer.echo(f"failed: {job.failure_message}")
        typer.echo(f"fix: {job.failure_hint}")
    metrics = job.metrics or {}
    if metrics.get("final_training_loss") is not None:
        typer.echo(
            f"final training loss {metrics['final_training_loss']:.4g}, "
            f"validation loss {metrics.get('final_validation_loss') or float('nan'):.4g}"
        )
    if job.loss_curve_path:
        typer.echo(f"loss curve: {job.loss_curve_path}")


@jobs_app.command("compare")
def compare(
    group_id: str = typer.Argument(..., help="A launch of both sizes: the group id `jobs launch` printed."),
    chart: Path | None = typer.Option(None, help="Also write the comparison chart (PNG) to this file."),
    as_json: bool = typer.Option(False, "--json", help="Print the comparison as the API stores it."),
) -> None:
    """The 11B-vs-90B comparison of a launch of both sizes, once both are trained and evaluated."""
    client = _client()
    group = _call(client.get_group, group_id)
    if not group.comparison:
        progress = ", ".join(f"{job.model.upper()} {job.status}" for job in group.jobs)
        typer.echo(
            f"no comparison yet for launch {group_id} ({progress}): it is made once both sizes are "
            "evaluated; try again later",
            err=True,
        )
        raise typer.Exit(1)
    comparison = SizeComparison.model_validate(group.comparison)
    if as_json:
        typer.echo(json.dumps(group.comparison, indent=2))
    else:
        typer.echo(render_comparison_text(comparison))
    if chart is not None:
        png = _call(client.group_comparison_chart, group_id)
        if png is None:
            typer.echo(f"launch {group_id} has no comparison chart", err=True)
            raise typer.Exit(1)
        chart.write_bytes(png)
        typer.echo(f"chart: {chart}", err=as_json)


@jobs_app.command("cancel")
def cancel(
    job_id: str = typer.Argument(..., help="The job's id or name (e.g. charts-11b)."),
    requested_by: str | None = typer.Option(None, help="Who cancels (default: your login name)."),
) -> None:
    """Cancel a waiting job, or stop a training one: it cannot resume and used tokens are billed."""
    job = _call(_client().cancel_job, job_id, requested_by or f"cli:{getpass.getuser()}")
    typer.echo(_line(job))
    if job.status == JobStatus.CANCELLING:
        typer.echo(
            "Bedrock is stopping the job; a stopped job cannot resume and the tokens it used are billed."
        )


def _dataset_line(dataset: DatasetOut) -> str:
    counts = (dataset.report or {}).get("counts") or {}
    sizes = (
        f"{counts.get('accepted', 0)} accepted, {counts.get('rejected', 0)} rejected (train "
        f"{counts.get('train', 0)} / validation {counts.get('validation', 0)} / test {counts.get('test', 0)})"
        if counts
        else "no report yet"
    )
    label = f" ({SANDBOX_LABEL})" if dataset.sandbox else ""
    return f"{dataset.id}  {dataset.status:<9}  {dataset.name}  {sizes}{label}"


def _print_dataset(dataset: DatasetOut) -> None:
    typer.echo(_dataset_line(dataset))
    if dataset.error:
        typer.echo(f"failed: {dataset.error}")
    for finding in ((dataset.report or {}).get("errors") or [])[:10]:
        typer.echo(f"  {finding['code']}: {finding['record']}: {finding['message']}")


@datasets_app.command("check")
def check_dataset(
    source: str = typer.Argument(
        ..., help="A local file (zip, jsonl, json, csv, parquet, pdf) or s3://bucket/prefix."
    ),
    created_by: str | None = typer.Option(None, help="Whose dataset it is (default: your login name)."),
    wait: bool = typer.Option(True, help="Wait for the check to finish and print its outcome."),
    timeout: float = typer.Option(600, min=1, help="Seconds to wait at most."),
    as_json: bool = typer.Option(False, "--json", help="Print the API's JSON answer."),
) -> None:
    """Send a dataset to the service for checking; exit 0 when usable, 1 when not."""
    client = _client()
    owner = created_by or f"cli:{getpass.getuser()}"
    if source.startswith("s3://"):
        accepted = _call(client.dataset_from_uri, source, created_by=owner)
    else:
        path = Path(source)
        if not path.is_file():
            typer.echo(f"no file at {source}: give a dataset file or an s3:// prefix", err=True)
            raise typer.Exit(2)
        accepted = _call(client.upload_dataset, str(path), path.name, created_by=owner)
    deadline = time.monotonic() + timeout
    dataset = _call(client.get_dataset, accepted.id)
    while wait and dataset.status == DatasetStatus.CHECKING and time.monotonic() < deadline:
        time.sleep(1)
        dataset = _call(client.get_dataset, accepted.id)
    if as_json:
        typer.echo(_json(dataset))
    else:
        _print_dataset(dataset)
        if dataset.status == DatasetStatus.CHECKING:
            typer.echo(f"still checking: tunebot datasets show {dataset.id}")
    if dataset.status in (DatasetStatus.UNUSABLE, DatasetStatus.FAILED):
        raise typer.Exit(1)


@datasets_app.command("list")
def list_datasets(
    created_by: str | None = typer.Option(None, help="Only this person's datasets."),
    limit: int = typer.Option(20, min=1, max=200, help="How many, newest first."),
    as_json: bool = typer.Option(False, "--json", help="Print the API's JSON answer."),
) -> None:
    """Recent datasets with their status and record counts."""
    datasets = _call(_client().list_datasets, created_by=created_by, limit=limit)
    if as_json:
        typer.echo(_json(datasets))
        return
    for dataset in datasets:
        typer.echo(_dataset_line(dataset))
    if not datasets:
        typer.echo("no datasets yet: tunebot datasets check FILE")


@datasets_app.command("show")
def show_dataset(
    dataset_id: str = typer.Argument(..., help="The dataset's id."),
    as_json: bool = typer.Option(False, "--json", help="Print the API's JSON answer."),
) -> None:
    """One dataset: status, counts and its first errors with what to fix."""
    dataset = _call(_client().get_dataset, dataset_id)
    if as_json:
        typer.echo(_json(dataset))
        return
    _print_dataset(dataset)

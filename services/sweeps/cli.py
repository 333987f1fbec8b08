"""`tunebot jobs sweep` and `tunebot sweeps show|cancel`: learning-curve sweeps without Slack.

Like `tunebot jobs launch`, the sweep's whole estimate is printed and confirmed before anything starts
(``--yes`` for scripts), and everything goes through ``services.client.ServiceClient``.
"""

from __future__ import annotations

import getpass
import sys
import uuid

import typer

from services.api.schemas import SweepEstimateOut, SweepOut
from services.jobs.cli import Model, _call, _client, _json, _line, jobs_app
from services.platform.labels import SANDBOX_LABEL
from services.sweeps.model import SweepPlanError, parse_sizes
from services.tuning.costs import estimate_text

sweeps_app = typer.Typer(help="Follow and cancel learning-curve sweeps.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """`sweep` joins the `jobs` group (it launches jobs); `sweeps` shows and cancels them."""
    jobs_app.command("sweep")(sweep)
    app.add_typer(sweeps_app, name="sweeps")


def estimate_lines(estimate: SweepEstimateOut) -> list[str]:
    """Every job of the sweep with its epochs, learning rate and estimate, then the sweep's total."""
    label = f" ({SANDBOX_LABEL})" if estimate.sandbox else ""
    sizes = ", ".join(f"{size:,}" for size in estimate.sizes)
    lines = [
        f"Sweep of dataset {estimate.dataset_name} ({estimate.dataset_id}, "
        f"{estimate.train_records:,} training records): sizes {sizes} x "
        f"{' and '.join(model.upper() for model in estimate.models)}, nested subsets, every job scored "
        f"on the same {estimate.test_records:,} held-out test examples{label}:"
    ]
    for job in estimate.jobs:
        lines.append(
            f"  {job.train_size:>6,} x {job.model.upper()}: {job.epochs} epochs, "
            f"lr {job.learning_rate:g}: estimated ${job.cost.total_usd:,.2f}"
        )
    lines.append(f"  total: {estimate_text(estimate.total_usd, estimate.note)}")
    return lines


def sweep_lines(sweep: SweepOut) -> list[str]:
    label = f" ({SANDBOX_LABEL})" if sweep.sandbox else ""
    cost = estimate_text(sweep.cost_estimate_usd, sweep.cost_note)
    lines = [f"sweep {sweep.id}  {sweep.status:<9}  {sweep.dataset_name}  {cost}{label}"]
    lines.extend(f"  {cell.train_size:>6,}  " + _line(cell.job) for cell in sweep.cells)
    lines.extend(f"  {line}" for line in sweep.lines)
    return lines


def sweep(
    dataset_id: str = typer.Argument(..., help="A ready dataset's id (see `tunebot datasets list`)."),
    sizes: str = typer.Option(
        "100,1000,all", help="Training sizes, comma-separated; each at least 100, or `all`."
    ),
    model: list[Model] = typer.Option(
        [Model.b11, Model.b90], "--model", help="Model sizes (default both): --model 11b --model 90b."
    ),
    requested_by: str | None = typer.Option(None, help="Who asks (default: your login name)."),
    approved_by: str | None = typer.Option(None, help="An admin approving a sweep above the cost limit."),
    idempotency_key: str | None = typer.Option(
        None, help="Repeat a sweep safely: the same key never starts second jobs (default: a new key)."
    ),
    yes: bool = typer.Option(
        False, "--yes", "-y", help="Accept the estimate without asking (for scripts); it is still printed."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the API's JSON answer."),
) -> None:
    """Sweep training sizes (and model sizes) on nested subsets: show the whole estimate, ask, start."""
    try:
        requested_sizes = list(parse_sizes(sizes))
    except SweepPlanError as error:
        typer.echo(f"invalid_sizes ({error.field}): {error.message}", err=True)
        raise typer.Exit(2) from None
    key = idempotency_key or f"cli-sweep-{uuid.uuid4().hex}"
    models = [size.value for size in dict.fromkeys(model)]
    client = _client()
    estimate = _call(client.estimate_sweep, dataset_id=dataset_id, sizes=requested_sizes, models=models)
    for line in estimate_lines(estimate):
        typer.echo(line, err=as_json)  # with --json, stdout carries only the API's answer
    if estimate.approval_required and approved_by is None:
        typer.echo(
            f"approval_required: the estimate is above the cost cap of ${estimate.cost_cap_usd:,.2f} "
            "(TUNEBOT_MAX_LAUNCH_COST_USD): sweep again with --approved-by set to an admin",
            err=True,
        )
        raise typer.Exit(1)
    if not yes:
        if not sys.stdin.isatty():
            typer.echo(
                "not started: nobody to ask (no terminal). Rerun with --yes to accept the estimate above.",
                err=True,
            )
            raise typer.Exit(2)
        if not typer.confirm("Start the sweep, accepting this estimate?", default=False, err=as_json):
            typer.echo("not started", err=as_json)
            raise typer.Exit(1)
    answer = _call(
        client.start_sweep,
        key,
        dataset_id=dataset_id,
        sizes=requested_sizes,
        models=models,
        requested_by=requested_by or f"cli:{getpass.getuser()}",
        approved_by=approved_by,
    )
    if as_json:
        typer.echo(_json(answer))
        return
    verb = "started" if answer.created else "already started with this key"
    typer.echo(
        f"sweep {answer.id} {verb} (idempotency key {key}); follow it: tunebot sweeps show {answer.id}"
    )
    for line in sweep_lines(answer)[1:]:
        typer.echo(line)


@sweeps_app.command("show")
def show(
    sweep_id: str = typer.Argument(..., help="The sweep's id."),
    as_json: bool = typer.Option(False, "--json", help="Print the API's JSON answer."),
) -> None:
    """One sweep: its jobs by training size and, once it ended, the verdict."""
    answer = _call(_client().get_sweep, sweep_id)
    if as_json:
        typer.echo(_json(answer))
        return
    for line in sweep_lines(answer):
        typer.echo(line)


@sweeps_app.command("cancel")
def cancel(
    sweep_id: str = typer.Argument(..., help="The sweep's id."),
    requested_by: str | None = typer.Option(None, help="Who cancels (default: your login name)."),
) -> None:
    """Cancel the whole sweep: waiting jobs are cancelled, training ones stopped (used tokens are billed)."""
    answer = _call(_client().cancel_sweep, sweep_id, requested_by or f"cli:{getpass.getuser()}")
    for line in sweep_lines(answer):
        typer.echo(line)

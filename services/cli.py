"""The `tunebot` command line. Each command group lives beside its domain; this module wires them."""

from __future__ import annotations

from enum import StrEnum

import typer

from services.platform.config import ConfigError, Settings, load_settings

app = typer.Typer(
    name="tunebot",
    help="Fine-tune Meta Llama 3.2 Vision on Amazon Bedrock from Slack.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


class ServeRole(StrEnum):
    all = "all"
    bot = "bot"
    service = "service"


def settings_or_exit() -> Settings:
    """Load settings or print the one-line reason and exit 2 (never a traceback)."""
    try:
        return load_settings()
    except ConfigError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None


@app.command()
def serve(
    role: ServeRole = typer.Option(
        ServeRole.all, help="Run both halves, or only the Slack bot or the job service."
    ),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (0.0.0.0 in a container)."),
    port: int = typer.Option(8080, min=1, max=65535, help="Port to listen on."),
) -> None:
    """Run tunebot: health, metrics, the API, the scheduler and the Slack bot, on one port."""
    import uvicorn

    from services.api.app import create_app
    from services.platform import logs

    settings = settings_or_exit()
    logs.configure(settings.log_level)
    try:
        asgi_app = create_app(settings, role=role.value, port=port)
    except ConfigError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
    # uvicorn turns SIGTERM/SIGINT into a graceful shutdown that runs the app's lifespan exit.
    uvicorn.run(asgi_app, host=host, port=port, log_config=None, access_log=False)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database schema to the latest version."""
    from services.platform.db import make_engine
    from services.platform.migrate import current_revision, upgrade

    settings = settings_or_exit()
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
    except Exception as error:  # the driver's message says what is wrong with the database
        typer.echo(f"database upgrade failed: {type(error).__name__}: {_first_line(error)}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"database at revision {current_revision(engine)}")


@app.command()
def doctor() -> None:
    """Check every dependency (database, AWS, Bedrock, S3, Slack): one line each, with the fix."""
    from services.platform.doctor import run_checks

    settings = settings_or_exit()
    results = run_checks(settings)
    for result in results:
        typer.echo(result.line())
    if any(result.status == "FAIL" for result in results):
        raise typer.Exit(1)


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else ""


def _register_domain_commands() -> None:
    # Each domain keeps its own commands beside its code; this is the one place that lists them.
    from services.datasets.cli import register as register_datasets
    from services.evaluation.cli import register as register_score
    from services.jobs.cli import register as register_jobs
    from services.sweeps.cli import register as register_sweeps
    from services.tuning.cli import register as register_prices

    register_datasets(app)
    register_score(app)
    register_jobs(app)
    register_sweeps(app)
    register_prices(app)


_register_domain_commands()

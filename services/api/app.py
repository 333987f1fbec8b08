"""The ASGI app behind `tunebot serve`: health, readiness, metrics, the API, and the chat edges."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Literal

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CollectorRegistry, Counter, Info, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services import __version__
from services.api import router as api
from services.api.errors import install_error_handlers
from services.client import ServiceClient
from services.platform.backend import resolve_backend
from services.platform.config import ConfigError, Settings
from services.platform.db import make_engine, make_session_factory, ping
from services.platform.edges import Edge, load_edges
from services.platform.migrate import upgrade
from services.platform.scheduler import Scheduler
from services.platform.wiring import ServiceWiring, register_tasks

log = logging.getLogger(__name__)

Role = Literal["all", "bot", "service"]


def instance_name() -> str:
    """Who this replica is, in leases and logs: host, pid and a random suffix against pid reuse."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class Runtime:
    """What one server process owns; built at start-up, closed at shutdown."""

    role: Role
    owner: str
    backend: str
    engine: Engine | None = None
    sessions: sessionmaker[Session] | None = None
    scheduler: Scheduler | None = None
    edges: list[Edge] = field(default_factory=list)
    database_thread: threading.Thread | None = None
    database_ready: threading.Event = field(default_factory=threading.Event)
    stopping: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    wiring: ServiceWiring | None = None  # the service role's task wiring, once the database is up


class _SchedulerTicks(Collector):
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def collect(self) -> Iterable[CounterMetricFamily]:
        family = CounterMetricFamily(
            "tunebot_scheduler_ticks", "Scheduled task runs done here", labels=["task"]
        )
        if self._runtime.scheduler is not None:
            for task, count in self._runtime.scheduler.ticks.items():
                family.add_metric([task], count)
        yield family


class _RequestCounter:
    """Counts responses by method and status. Plain ASGI: Starlette's BaseHTTPMiddleware would add a
    task and a stream copy to every request, which shows in Slack's acknowledgement times."""

    def __init__(self, app: ASGIApp, counter: Counter) -> None:
        self._app = app
        self._counter = counter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._counter.labels(scope["method"], str(message["status"])).inc()
            await send(message)

        await self._app(scope, receive, counting_send)


def create_app(settings: Settings, role: Role = "all", port: int = 8080) -> FastAPI:
    """Assemble the app for ``role``. Nothing touches the network or database until start-up."""
    serves_api = role in ("all", "service")
    api_token = settings.api_token.get_secret_value() if settings.api_token else None
    if role == "service" and api_token is None:
        raise ConfigError(
            "configuration error: TUNEBOT_API_TOKEN: required for --role service "
            "(a long random string; the bot and the CLI send it)"
        )
    if role == "bot" and settings.service_url is None:
        raise ConfigError(
            "configuration error: TUNEBOT_SERVICE_URL: required for --role bot (the job service's base URL)"
        )
    if api_token is None:
        # Embedded mode: the in-process bot is the only caller, so a per-process token is enough.
        api_token = secrets.token_urlsafe(32)
        log.info("no TUNEBOT_API_TOKEN set; the API accepts a per-process token only")
    if role == "all" and settings.service_url is None:
        settings = settings.model_copy(update={"service_url": f"http://127.0.0.1:{port}"})
    if settings.api_token is None:
        settings = settings.model_copy(update={"api_token": SecretStr(api_token)})

    runtime = Runtime(role=role, owner=instance_name(), backend=resolve_backend(settings))
    registry = CollectorRegistry()
    requests_total = Counter(
        "tunebot_http_requests", "HTTP requests served", ["method", "status"], registry=registry
    )
    Info("tunebot", "Build and role", registry=registry).info(
        {"version": __version__, "role": role, "backend": runtime.backend}
    )
    registry.register(_SchedulerTicks(runtime))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        _start(runtime, settings, serves_api)
        try:
            yield
        finally:
            _stop(runtime)

    # No anonymous reads: the API's document is served behind the bearer token like the API itself, and
    # the browser pages (/docs, /redoc) are off, since they cannot send the token.
    app = FastAPI(
        title="tunebot",
        version=__version__,
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.api_token = api_token
    app.state.backend = runtime.backend
    app.state.runtime = runtime
    install_error_handlers(app)

    app.add_middleware(_RequestCounter, counter=requests_total)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> JSONResponse:
        problem = _readiness_problem(runtime, settings)
        if problem:
            return JSONResponse({"status": "unavailable", "reason": problem}, status_code=503)
        return JSONResponse({"status": "ready"})

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(registry).decode(), media_type="text/plain; version=0.0.4")

    if serves_api:
        app.include_router(api.router)

        @app.get("/openapi.json", include_in_schema=False, dependencies=[Depends(api.require_token)])
        def openapi_document() -> JSONResponse:
            return JSONResponse(app.openapi())

        runtime.engine = make_engine(settings.database_url)
        app.state.engine = runtime.engine
    if role in ("all", "bot"):
        runtime.edges = load_edges(settings)
        for edge in runtime.edges:
            router = edge.router()
            if router is not None:
                app.include_router(router)
        if not runtime.edges:
            without = "the API and scheduler run without it" if serves_api else "this process serves health"
            log.warning(
                "Slack is not configured: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (and SLACK_APP_TOKEN "
                f"for Socket Mode); {without}"
            )
    return app


def _start(runtime: Runtime, settings: Settings, serves_api: bool) -> None:
    if serves_api:
        runtime.database_thread = threading.Thread(
            target=_bring_up_database, args=(runtime, settings), name="database-up", daemon=True
        )
        runtime.database_thread.start()
    for edge in runtime.edges:
        edge.start()
    log.info(
        "tunebot started",
        extra={"role": runtime.role, "backend": runtime.backend, "owner": runtime.owner},
    )


def _bring_up_database(runtime: Runtime, settings: Settings) -> None:
    """Migrate, then start the scheduler. A database that is down at start is retried, not fatal:
    the process stays up (health 200, readiness 503) until it can reach it."""
    assert runtime.engine is not None
    delay = 1.0
    while not runtime.stopping.is_set():
        try:
            upgrade(runtime.engine)
            break
        except Exception as error:  # any driver error: report, wait, retry
            log.error(
                "database unavailable; retrying",
                extra={"error": type(error).__name__, "retry_seconds": delay},
            )
            runtime.stopping.wait(delay)
            delay = min(delay * 2, 30.0)
    else:
        return
    with runtime.lock:
        if runtime.stopping.is_set():
            return
        runtime.sessions = make_session_factory(runtime.engine)
        runtime.scheduler = Scheduler(runtime.sessions, runtime.owner)
        runtime.wiring = register_tasks(
            runtime.scheduler, runtime.sessions, runtime.owner, runtime.backend, settings
        )
        runtime.scheduler.start()
        runtime.database_ready.set()


def _stop(runtime: Runtime) -> None:
    for edge in runtime.edges:
        edge.stop()
    with runtime.lock:
        runtime.stopping.set()
        if runtime.scheduler is not None:
            runtime.scheduler.stop()
        if runtime.wiring is not None:
            runtime.wiring.close()
    if runtime.engine is not None:
        runtime.engine.dispose()
    log.info("tunebot stopped cleanly", extra={"owner": runtime.owner})


def _readiness_problem(runtime: Runtime, settings: Settings) -> str | None:
    if runtime.engine is not None:
        try:
            ping(runtime.engine)
        except Exception as error:  # any driver error means "not ready"
            return f"database unreachable: {type(error).__name__}"
        if not runtime.database_ready.is_set():
            return "database schema is being migrated"
        s3_code = runtime.wiring.job_deps.outputs.unavailable() if runtime.wiring is not None else None
        if s3_code is not None:
            return f"S3 unavailable ({s3_code}): completed jobs wait for their metrics until it answers"
    elif settings.service_url is not None:
        assert settings.api_token is not None
        client = ServiceClient(settings.service_url, settings.api_token.get_secret_value(), timeout=2.0)
        if not client.healthy():
            return "job service unreachable at TUNEBOT_SERVICE_URL"
    return None

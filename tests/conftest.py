"""Shared fixtures: an isolated environment, a migrated database (SQLite, or PostgreSQL when
TUNEBOT_TEST_DATABASE_URL is set), free ports, and helpers to run the real `tunebot` executable."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from services.platform.db import make_engine, make_session_factory
from services.platform.migrate import upgrade
from tests.aws.http_answers import retry_delays
from tests.servers import TUNEBOT_BIN, free_port, moto_on_loopback
from tests.slack_stub import SlackStub

# retry_delays: a fixture for every test that counts botocore's retries; the others, imported from here.
__all__ = ["TUNEBOT_BIN", "free_port", "retry_delays"]

PG_ENV = "TUNEBOT_TEST_DATABASE_URL"
_OWN_PREFIXES = ("TUNEBOT_", "SLACK_", "AWS_")


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test sees the developer's settings, credentials or .env file."""
    for name in list(os.environ):
        if name.startswith(_OWN_PREFIXES) and name != PG_ENV:
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.chdir(tmp_path)
    yield


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[str | None]:
    """A database of this test run's own on the PostgreSQL server named by TUNEBOT_TEST_DATABASE_URL.

    Runs that share the server (a developer's and CI's, or two of either) never wipe each other's tables.
    """
    url = os.environ.get(PG_ENV)
    if not url:
        yield None
        return
    server = make_url(url)
    name = f"{server.database}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def reset_postgres(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture
def database_url(tmp_path: Path, private_postgres: str | None) -> str:
    """An empty database: a fresh SQLite file, or this run's PostgreSQL database wiped clean."""
    if private_postgres:
        reset_postgres(private_postgres)
        return private_postgres
    return f"sqlite:///{tmp_path / 'tunebot.db'}"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def moto_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto on loopback with AWS pointed at it, for what runs outside this process (tests.servers)."""
    with moto_on_loopback(monkeypatch) as url:
        yield url


@pytest.fixture
def slack_stub() -> Iterator[SlackStub]:
    """The strict Slack stand-in; a test fails when the code under test sent Slack something it refuses."""
    stub = SlackStub().start()
    yield stub
    stub.stop()
    refused = stub.unexpected_refusals()
    assert not refused, f"Slack would refuse what was sent: {refused}"

"""Shared fixtures: an isolated environment, a migrated database (SQLite, or PostgreSQL when
TUNEBOT_TEST_DATABASE_URL is set), free ports, and helpers to run the real `tunebot` executable."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from services.store.db import make_engine, make_session_factory
from services.store.migrate import upgrade
from tests.slack_stub import SlackStub

PG_ENV = "TUNEBOT_TEST_DATABASE_URL"
TUNEBOT_BIN = str(Path(sys.executable).with_name("tunebot"))
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


def reset_postgres(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """An empty database: a fresh SQLite file, or the CI PostgreSQL wiped clean."""
    url = os.environ.get(PG_ENV)
    if url:
        reset_postgres(url)
        return url
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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def slack_stub() -> Iterator[SlackStub]:
    stub = SlackStub().start()
    yield stub
    stub.stop()

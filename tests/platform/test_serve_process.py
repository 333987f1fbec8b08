"""`tunebot serve` as a real process: it starts, answers, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from services.platform.db import make_engine, make_session_factory
from services.platform.tables import Lease
from tests.conftest import TUNEBOT_BIN, free_port
from tests.slack_stub import SlackStub

pytestmark = pytest.mark.slow


@contextmanager
def serving(env: dict[str, str], *args: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    process = subprocess.Popen(
        [TUNEBOT_BIN, "serve", "--port", str(port), *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180  # a ceiling: a loaded 2-core machine starts slowly
        while True:
            assert process.poll() is None, process.communicate()[1]
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "tunebot serve did not answer /healthz within 180 s"
            time.sleep(0.1)
        yield base, process
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def wait_for_status(url: str, status: int) -> httpx.Response:
    deadline = time.monotonic() + 30
    while True:
        answer = httpx.get(url, timeout=2)
        if answer.status_code == status or time.monotonic() > deadline:
            return answer
        time.sleep(0.1)


def stop(process: subprocess.Popen[str]) -> tuple[int, str]:
    """SIGTERM, then the exit status and log. After its graceful shutdown uvicorn re-raises the signal,
    so a clean stop ends with the status of SIGTERM, as supervisors expect."""
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    return process.returncode, stderr


STOPPED_BY_SIGTERM = -signal.SIGTERM


def test_serve_starts_migrates_answers_and_stops_cleanly_on_sigterm(database_url: str) -> None:
    env = {"TUNEBOT_DATABASE_URL": database_url, "TUNEBOT_BACKEND": "sandbox"}
    with serving(env) as (base, process):
        assert wait_for_status(base + "/readyz", 200).json() == {"status": "ready"}
        assert httpx.get(base + "/api/v1/info").status_code == 401
        code, log = stop(process)
    assert code == STOPPED_BY_SIGTERM
    assert "Slack is not configured" in log  # said once, and the rest runs
    assert log.count("Slack is not configured") == 1
    assert "scheduler started" in log
    assert "tunebot stopped cleanly" in log
    assert "Traceback" not in log
    # The stopped replica handed its leases back, so another can take over at once.
    engine = make_engine(database_url)
    with make_session_factory(engine)() as session:
        assert session.scalars(select(Lease)).all() == []
    engine.dispose()


def test_embedded_defaults_use_sqlite_in_the_working_directory(tmp_path: Path) -> None:
    with serving({}) as (base, process):
        assert wait_for_status(base + "/readyz", 200).status_code == 200
        code, _ = stop(process)
    assert code == STOPPED_BY_SIGTERM
    assert (tmp_path / "tunebot.db").exists()


def test_bot_role_is_ready_only_while_the_service_answers(database_url: str) -> None:
    token = "shared-api-token-for-tests"
    service_env = {
        "TUNEBOT_DATABASE_URL": database_url,
        "TUNEBOT_API_TOKEN": token,
        "TUNEBOT_BACKEND": "sandbox",
    }
    with serving(service_env, "--role", "service") as (service_base, service):
        assert wait_for_status(service_base + "/readyz", 200).status_code == 200
        bot_env = {"TUNEBOT_SERVICE_URL": service_base, "TUNEBOT_API_TOKEN": token}
        with serving(bot_env, "--role", "bot") as (bot_base, bot):
            assert wait_for_status(bot_base + "/readyz", 200).status_code == 200
            assert httpx.get(bot_base + "/api/v1/info").status_code == 404  # the bot holds no API
            assert stop(service)[0] == STOPPED_BY_SIGTERM
            answer = wait_for_status(bot_base + "/readyz", 503)
            assert answer.json()["reason"] == "job service unreachable at TUNEBOT_SERVICE_URL"
            code, log = stop(bot)
    assert code == STOPPED_BY_SIGTERM
    assert "scheduler started" not in log  # the bot runs no scheduler


def test_socket_mode_is_chosen_when_the_app_token_is_set(database_url: str, slack_stub: SlackStub) -> None:
    slack_stub.responses["apps.connections.open"] = {"ok": False, "error": "invalid_auth"}
    env = {
        "TUNEBOT_DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": "xoxb-bot-secret-token",
        "SLACK_SIGNING_SECRET": "signing-secret-value",
        "SLACK_APP_TOKEN": "xapp-app-secret-token",
        "TUNEBOT_SLACK_API_URL": slack_stub.api_url,
    }
    with serving(env) as (_base, process):
        deadline = time.monotonic() + 20
        while not slack_stub.calls_to("apps.connections.open") and time.monotonic() < deadline:
            time.sleep(0.1)
        code, log = stop(process)
    opened = slack_stub.calls_to("apps.connections.open")
    assert opened and opened[0].authorization == "Bearer xapp-app-secret-token"
    assert code == STOPPED_BY_SIGTERM
    for secret in ("xoxb-bot-secret-token", "xapp-app-secret-token", "signing-secret-value"):
        assert secret not in log

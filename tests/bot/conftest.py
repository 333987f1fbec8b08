"""The bot as it runs: `tunebot serve`'s app (job service and Slack edge in one) on a real port, moto in
process behind the service, the Slack stand-in for the Web API, and signed requests over HTTP."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import boto3
import httpx
import pytest
import uvicorn
from moto import mock_aws
from slack_sdk.signature import SignatureVerifier
from sqlalchemy.orm import Session, sessionmaker

from bot.delivery import Delivery, Pacer
from bot.edge import SlackEdge
from services.api.app import create_app
from services.client import ServiceClient
from services.platform.config import load_settings
from tests.conftest import free_port
from tests.jobs.conftest import BUCKET, REGION, add_dataset, aws_env
from tests.servers import service_env, set_env
from tests.slack_stub import SlackStub

SECRET = "bot-signing-secret"
BOT_TOKEN = "xoxb-test-token"
API_TOKEN = "bot-tests-api-token-0123456789"
ADMIN = "UADMIN1"
T = TypeVar("T")


def wait_for(probe: Callable[[], T], seconds: float = 10.0) -> T:
    deadline = time.monotonic() + seconds
    while True:
        value = probe()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def signed_headers(body: str, timestamp: int | None = None, secret: str = SECRET) -> dict[str, str]:
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    assert signature is not None
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature}


@dataclass
class Bot:
    base: str
    stub: SlackStub
    sessions: sessionmaker[Session]
    service: ServiceClient
    edge: SlackEdge
    runtime: Any

    def post(self, body: str, content_type: str, **headers: str) -> httpx.Response:
        all_headers = {"Content-Type": content_type, **signed_headers(body), **headers}
        return httpx.post(self.base + "/slack/events", content=body, headers=all_headers, timeout=10)

    def command(self, text: str, user: str = "U1", channel: str = "C1", trigger: str = "") -> httpx.Response:
        body = urlencode(
            {
                "command": "/finetune",
                "text": text,
                "user_id": user,
                "channel_id": channel,
                "team_id": "T1",
                "trigger_id": self.stub.issue_trigger(trigger or None),
                "response_url": self.stub.response_url(channel, user),
            }
        )
        return self.post(body, "application/x-www-form-urlencoded")

    def click(
        self,
        action_id: str,
        value: str,
        user: str = "U1",
        channel: str = "C1",
        message_ts: str = "1.1",
        block_id: str = "b",
    ) -> httpx.Response:
        """A click on a button of message ``message_ts``: a channel message when the stand-in holds one
        there (the report, a card), else an ephemeral reply to ``user``."""
        shown = self.stub.messages.get((channel, message_ts))
        payload = {
            "type": "block_actions",
            "user": {"id": user},
            "team": {"id": "T1"},
            "channel": {"id": channel},
            "container": {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": channel,
                "is_ephemeral": shown is None or shown.user is not None,
            },
            "trigger_id": self.stub.issue_trigger(),
            "response_url": self.stub.response_url(channel, user, message_ts),
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": block_id,
                    "value": value,
                    "type": "button",
                    "action_ts": str(time.time()),
                }
            ],
        }
        if shown is not None and shown.user is None:
            # Slack sends the clicked channel message along, with thread_ts when it is a reply
            # (https://docs.slack.dev/reference/interaction-payloads/block_actions-payload).
            payload["message"] = {
                "type": "message",
                "ts": shown.ts,
                "text": shown.text,
                "blocks": shown.blocks,
            }
            if shown.thread_ts:
                payload["message"]["thread_ts"] = shown.thread_ts
        return self.post(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")

    def event(self, event: dict[str, Any], event_id: str, **headers: str) -> httpx.Response:
        body = json.dumps(
            {
                "type": "event_callback",
                "team_id": "T1",
                "api_app_id": "A1",
                "event_id": event_id,
                "event_time": int(time.time()),
                "event": event,
            }
        )
        return self.post(body, "application/json", **headers)

    def responses(self, count: int = 1) -> list[dict[str, Any]]:
        """The replies sent to response_url so far, once there are ``count`` of them."""
        calls = wait_for(
            lambda: len(self.stub.calls_to("respond")) >= count and self.stub.calls_to("respond")
        )
        return [call.params for call in calls]

    def last_response(self, count: int = 1) -> dict[str, Any]:
        return self.responses(count)[-1]

    def dataset(self, **kwargs: Any) -> str:
        return add_dataset(self.sessions, **kwargs)

    def delivery(self, consumer: str = "slack:test", lease_seconds: float = 60.0) -> Delivery:
        from bot.app import web_client

        settings = load_settings()
        return Delivery(
            self.service, web_client(settings), consumer, lease_seconds=lease_seconds, pacer=Pacer(0.0)
        )


@pytest.fixture
def extra_env() -> dict[str, str]:
    """Settings a test module adds (override this fixture in the module)."""
    return {}


@pytest.fixture
def bot_env(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    slack_stub: SlackStub,
    extra_env: dict[str, str],
) -> int:
    port = free_port()
    bot = {
        "TUNEBOT_API_TOKEN": API_TOKEN,
        "TUNEBOT_SERVICE_URL": f"http://127.0.0.1:{port}",
        # moto runs in this process (mock_aws): a check's worker process could not reach it.
        "TUNEBOT_CHECK_RUNS_IN": "server",
        "TUNEBOT_ADMINS": ADMIN,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "TUNEBOT_SLACK_API_URL": slack_stub.api_url,
    }
    set_env(monkeypatch, service_env(database_url, tmp_path, **bot, **extra_env))
    aws_env(monkeypatch)
    return port


@pytest.fixture
def bot(bot_env: int, slack_stub: SlackStub) -> Iterator[Bot]:
    with mock_aws():
        boto3.client("s3", region_name=REGION).create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        app = create_app(load_settings(), role="all", port=bot_env)
        runtime = app.state.runtime
        edge = runtime.edges[0]
        assert isinstance(edge, SlackEdge)
        # Tests drive delivery themselves (bot.delivery()), so the edge's own loop stays off.
        edge.delivery = None
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=bot_env, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{bot_env}"
        wait_for(lambda: server.started and runtime.database_ready.is_set(), 30)
        service = ServiceClient(base, API_TOKEN)
        try:
            yield Bot(base, slack_stub, runtime.sessions, service, edge, runtime)
        finally:
            service.close()
            server.should_exit = True
            thread.join(15)

"""The ASGI app: health, readiness, metrics, the API's bearer check, and the Slack entry."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from services.api.app import create_app
from services.platform.config import load_settings
from tests.slack_stub import SlackStub

TOKEN = "test-api-token-0123456789"


@pytest.fixture
def client(database_url: str, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.setenv("TUNEBOT_DATABASE_URL", database_url)
    monkeypatch.setenv("TUNEBOT_API_TOKEN", TOKEN)
    monkeypatch.setenv("TUNEBOT_BACKEND", "sandbox")
    return TestClient(create_app(load_settings(), role="all"))


def wait_ready(client: TestClient) -> None:
    deadline = time.monotonic() + 30
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, client.get("/readyz").json()
        time.sleep(0.05)


def test_health_readiness_and_metrics(client: TestClient) -> None:
    with client:
        assert client.get("/healthz").json() == {"status": "ok"}
        wait_ready(client)
        metrics = client.get("/metrics").text
        assert 'tunebot_http_requests_total{method="GET",status="200"}' in metrics
        assert 'tunebot_info{backend="sandbox",role="all",version="0.1.0"} 1.0' in metrics
        assert 'tunebot_scheduler_ticks_total{task="poll"}' in metrics


def test_readiness_is_503_while_the_database_is_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNEBOT_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    with TestClient(create_app(load_settings(), role="all")) as client:
        assert client.get("/healthz").status_code == 200
        answer = client.get("/readyz")
        assert answer.status_code == 503
        assert answer.json() == {"status": "unavailable", "reason": "database unreachable: OperationalError"}


def test_the_api_needs_the_bearer_token(client: TestClient) -> None:
    with client:
        missing = client.get("/api/v1/info")
        assert missing.status_code == 401
        assert missing.json()["error"]["code"] == "unauthorized"
        assert "Authorization: Bearer" in missing.json()["error"]["message"]
        assert client.get("/api/v1/info", headers={"Authorization": "Bearer wrong"}).status_code == 401
        answer = client.get("/api/v1/info", headers={"Authorization": f"Bearer {TOKEN}"})
        assert answer.status_code == 200
        assert answer.json()["backend"] == "sandbox"


def test_unknown_routes_answer_in_the_error_shape(client: TestClient) -> None:
    with client:
        answer = client.get("/api/v2/nothing")
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "not_found"


def test_the_openapi_document_covers_the_api(client: TestClient) -> None:
    with client:
        document = client.get("/openapi.json", headers={"Authorization": f"Bearer {TOKEN}"}).json()
        assert "/api/v1/info" in document["paths"]
        assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def signed(secret: str, body: str, timestamp: int | None = None) -> dict[str, str]:
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    digest = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def test_slack_http_mode_answers_signed_requests_only(
    database_url: str, monkeypatch: pytest.MonkeyPatch, slack_stub: SlackStub
) -> None:
    monkeypatch.setenv("TUNEBOT_DATABASE_URL", database_url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "signing-secret")
    monkeypatch.setenv("TUNEBOT_SLACK_API_URL", slack_stub.api_url)
    body = urlencode(
        {
            "command": "/finetune",
            "text": "help",
            "user_id": "U1",
            "channel_id": "C1",
            "team_id": "T1",
            "trigger_id": slack_stub.issue_trigger(),
            "response_url": slack_stub.response_url("C1", "U1"),
        }
    )
    with TestClient(create_app(load_settings(), role="all")) as client:
        answer = client.post("/slack/events", content=body, headers=signed("signing-secret", body))
        assert answer.status_code == 200
        assert "/finetune launch <dataset>" in json.dumps(answer.json())
        forged = client.post("/slack/events", content=body, headers=signed("not-the-secret", body))
        assert forged.status_code == 401
        stale = client.post(
            "/slack/events", content=body, headers=signed("signing-secret", body, int(time.time()) - 600)
        )
        assert stale.status_code == 401
        typo = body.replace("text=help", "text=lanuch")
        answer = client.post("/slack/events", content=typo, headers=signed("signing-secret", typo))
        assert answer.status_code == 200
        assert "Try: `/finetune launch" in answer.json()["text"]

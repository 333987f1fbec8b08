"""No anonymous reads on the service role: the API's document needs the token, the browser docs are off,
and /metrics (open, for Prometheus) names no job, dataset, user or channel."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.jobs.conftest import AUTH, add_dataset, aws, client, sessions_of  # noqa: F401  (fixtures)

REQUESTER = "UREQUESTER7"


def test_the_api_document_needs_the_token_and_the_browser_docs_are_off(client: TestClient) -> None:  # noqa: F811
    for path in ("/openapi.json", "/docs", "/redoc", "/docs/oauth2-redirect"):
        answer = client.get(path)
        assert answer.status_code in (401, 404), path
        assert "paths" not in answer.text and "swagger" not in answer.text.lower(), path
    assert client.get("/openapi.json").json()["error"]["code"] == "unauthorized"
    assert client.get("/openapi.json", headers={"Authorization": "Bearer wrong"}).status_code == 401

    document = client.get("/openapi.json", headers=AUTH).json()
    assert "/api/v1/jobs" in document["paths"]
    assert "/openapi.json" not in document["paths"] and "/metrics" not in document["paths"]


def test_metrics_carry_no_job_dataset_user_or_channel_identifiers(client: TestClient) -> None:  # noqa: F811
    sessions: sessionmaker[Session] = sessions_of(client)
    dataset_id = add_dataset(sessions)
    launched = client.post(
        "/api/v1/jobs",
        json={"dataset_id": dataset_id, "models": ["11b", "90b"], "requested_by": REQUESTER},
        headers={**AUTH, "Idempotency-Key": "metrics-1"},
    )
    assert launched.status_code == 201, launched.text
    jobs = client.get("/api/v1/jobs", headers=AUTH).json()["jobs"]
    assert len(jobs) == 2
    client.get(f"/api/v1/jobs/{jobs[0]['id']}", headers=AUTH)
    client.get(f"/api/v1/datasets/{dataset_id}", headers=AUTH)
    client.get("/api/v1/jobs/no-such-job", headers=AUTH)

    metrics = client.get("/metrics")

    assert metrics.status_code == 200
    assert 'tunebot_http_requests_total{method="POST",status="201"} 1.0' in metrics.text
    identifiers = [dataset_id, REQUESTER, launched.json()["group_id"], "no-such-job", "metrics-1"]
    for job in jobs:
        identifiers += [job["id"], job["name"], job["bedrock_job_name"]]
    leaked = [value for value in identifiers if value in metrics.text]
    assert leaked == []
    assert "/api/v1" not in metrics.text, "no paths either: they hold ids"

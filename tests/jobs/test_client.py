"""services.client against the real app: what the bot and the CLI call, with the service's errors."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient

from services.client import ServiceClient, ServiceError
from tests.jobs.conftest import TOKEN, add_dataset, sessions_of


@pytest.fixture
def service(client: TestClient) -> ServiceClient:
    # The test client's transport carries the calls into the app in process.
    return ServiceClient("http://testserver", TOKEN, transport=client._transport)


def test_the_client_launches_finds_and_annotates_jobs(client: TestClient, service: ServiceClient) -> None:
    dataset_id = add_dataset(sessions_of(client))

    launched = service.launch_jobs("k1", dataset_id=dataset_id, models=["90b"], requested_by="U1", epochs=7)
    group = service.set_job_message(launched.jobs[0].id, reply_to="C1:1.2")

    assert launched.created and launched.jobs[0].epochs == 7
    assert (
        service.launch_jobs("k1", dataset_id=dataset_id, models=["90b"], requested_by="U1").created is False
    )
    assert group.reply_to == "C1:1.2"
    assert service.get_group(launched.group_id).jobs[0].model == "90b"
    assert service.list_jobs(requested_by="U1").jobs[0].id == launched.jobs[0].id
    assert service.recommendation(50).epochs == 8


def test_the_client_claims_and_acknowledges_events(client: TestClient, service: ServiceClient) -> None:
    dataset_id = add_dataset(sessions_of(client))
    service.launch_jobs("k1", dataset_id=dataset_id, models=["11b"], requested_by="U1")

    events = service.claim_events("bot", limit=5, lease_seconds=30)
    for event in events:
        service.ack_event(event.id, "bot")

    assert [event.type for event in events] == ["job.created", "job.submitted"]
    assert service.claim_events("bot") == []
    with pytest.raises(ServiceError) as refused:
        service.ack_event(events[0].id, "bot")
    assert (refused.value.status, refused.value.code) == (409, "not_leased")


def test_the_client_raises_the_services_error_with_its_field(
    client: TestClient, service: ServiceClient
) -> None:
    dataset_id = add_dataset(sessions_of(client))
    with pytest.raises(ServiceError) as refused:
        service.launch_jobs("k2", dataset_id=dataset_id, models=["11b"], requested_by="U1", learning_rate=1.0)
    assert (refused.value.status, refused.value.code, refused.value.field) == (
        422,
        "invalid_request",  # the API document states Bedrock's range, so validation refuses it
        "learning_rate",
    )
    assert "0.1" in refused.value.message


def test_an_answer_the_client_cannot_read_is_a_clear_error_not_a_traceback() -> None:
    """Version skew between the bot/CLI and the service: the wire schema refuses the answer."""

    def old_service(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"id": "job1", "state": "running"})  # no status, no fields

    service = ServiceClient("http://testserver", TOKEN, transport=httpx.MockTransport(old_service))
    with pytest.raises(ServiceError) as refused:
        service.get_job("job1")
    assert (refused.value.status, refused.value.code) == (502, "unexpected_answer")
    assert "update the bot or the CLI" in refused.value.message

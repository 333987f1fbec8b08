"""The job API over HTTP: launch idempotently, list, show, cancel, recommend, and the event outbox."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.aws.clients import make_s3_client
from services.jobs.poll import poll_once
from tests.jobs.conftest import AUTH, add_dataset, moto_jobs, sessions_of


def launch(client: TestClient, dataset_id: str, key: str = "slack-C1-1700000000.1", **body: Any) -> Any:
    payload = {"dataset_id": dataset_id, "models": ["11b", "90b"], "requested_by": "U1", **body}
    return client.post("/api/v1/jobs", json=payload, headers={**AUTH, "Idempotency-Key": key})


def test_every_job_route_needs_the_bearer_token(client: TestClient) -> None:
    for method, path in [
        ("POST", "/api/v1/jobs"),
        ("GET", "/api/v1/jobs"),
        ("GET", "/api/v1/jobs/x"),
        ("POST", "/api/v1/jobs/x/cancel"),
        ("PATCH", "/api/v1/jobs/x"),
        ("GET", "/api/v1/groups/x"),
        ("GET", "/api/v1/recommendations?examples=10"),
        ("POST", "/api/v1/events/claim"),
        ("POST", "/api/v1/events/1/ack"),
    ]:
        answer = client.request(method, path, headers={"Authorization": "Bearer wrong"})
        assert answer.status_code == 401, path
        assert answer.json()["error"]["code"] == "unauthorized"


def test_a_launch_is_created_once_and_repeated_by_its_key(client: TestClient) -> None:
    dataset_id = add_dataset(sessions_of(client))

    first = launch(client, dataset_id)
    again = launch(client, dataset_id)

    assert first.status_code == 201, first.json()
    assert again.status_code == 200
    assert again.json()["group_id"] == first.json()["group_id"]
    assert [job["id"] for job in again.json()["jobs"]] == [job["id"] for job in first.json()["jobs"]]
    assert [job["model"] for job in first.json()["jobs"]] == ["11b", "90b"]
    assert {job["status"] for job in first.json()["jobs"]} == {"training"}
    assert len(moto_jobs()) == 2
    job = first.json()["jobs"][0]
    assert (job["epochs"], job["recommended_epochs"]) == (8, 8)
    group = client.get(f"/api/v1/groups/{first.json()['group_id']}", headers=AUTH).json()
    assert group["cost_estimate_usd"] > 0 and len(group["jobs"]) == 2
    assert group["reply_to"] is None  # a caller that posts nowhere sends none


@pytest.mark.parametrize(
    ("body", "headers", "field"),
    [
        ({"models": ["13b"]}, {}, "models.0"),
        ({"models": []}, {}, "models"),
        ({"requested_by": ""}, {}, "requested_by"),
        ({"epochs": "many"}, {}, "epochs"),
        ({"learning_rate": 0.5}, {}, "learning_rate"),
        ({"colour": "blue"}, {}, "colour"),
        ({"reply_to": "x" * 513}, {}, "reply_to"),  # opaque, but bounded
        ({"reply_to": ""}, {}, "reply_to"),
        ({"slack_channel": "C1"}, {}, "slack_channel"),  # gone since migration 0008: a caller sends reply_to
    ],
)
def test_invalid_launches_are_422_naming_the_field(
    client: TestClient, body: dict[str, Any], headers: dict[str, str], field: str
) -> None:
    dataset_id = add_dataset(sessions_of(client))
    answer = launch(client, dataset_id, **body)
    assert answer.status_code == 422, answer.json()
    assert answer.json()["error"]["field"] == field
    assert answer.json()["error"]["message"]
    assert moto_jobs() == {}


def test_a_launch_without_an_idempotency_key_is_422(client: TestClient) -> None:
    dataset_id = add_dataset(sessions_of(client))
    answer = client.post(
        "/api/v1/jobs", json={"dataset_id": dataset_id, "models": ["11b"], "requested_by": "U1"}, headers=AUTH
    )
    assert answer.status_code == 422
    assert "Idempotency-Key" in answer.json()["error"]["field"]


def test_domain_refusals_keep_their_status_and_code(client: TestClient) -> None:
    missing = launch(client, "no-such-dataset")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "dataset_not_found")
    checking = add_dataset(sessions_of(client), status="checking")
    assert launch(client, checking).status_code == 409
    assert client.get("/api/v1/jobs/nope", headers=AUTH).json()["error"]["code"] == "job_not_found"


def test_jobs_are_listed_newest_first_filtered_and_paged(client: TestClient) -> None:
    dataset_id = add_dataset(sessions_of(client))
    for index in range(3):
        launch(client, dataset_id, key=f"k{index}", models=["11b"], requested_by=f"U{index % 2}")

    everything = client.get("/api/v1/jobs", headers=AUTH).json()
    first_page = client.get("/api/v1/jobs?limit=2", headers=AUTH).json()
    second_page = client.get(f"/api/v1/jobs?limit=2&before={first_page['next_before']}", headers=AUTH).json()
    mine = client.get("/api/v1/jobs?requested_by=U0&model=11b", headers=AUTH).json()
    queued = client.get("/api/v1/jobs?status=queued", headers=AUTH).json()  # two slots, three jobs

    names = [job["id"] for job in everything["jobs"]]
    assert len(names) == 3 and everything["next_before"] is None
    assert [job["id"] for job in first_page["jobs"] + second_page["jobs"]] == names
    assert second_page["next_before"] is None
    assert {job["requested_by"] for job in mine["jobs"]} == {"U0"} and len(mine["jobs"]) == 2
    assert [job["id"] for job in queued["jobs"]] == names[:1]
    bad = client.get("/api/v1/jobs?status=sleeping", headers=AUTH)
    assert (bad.status_code, bad.json()["error"]["field"]) == (422, "status")


def test_jobs_of_several_statuses_come_in_one_page_capped_per_status(client: TestClient) -> None:
    dataset_id = add_dataset(sessions_of(client))
    for index in range(4):  # two slots: the two oldest train, the two newest wait
        launch(client, dataset_id, key=f"k{index}", models=["11b"])
    newest_first = [job["id"] for job in client.get("/api/v1/jobs", headers=AUTH).json()["jobs"]]

    both = client.get("/api/v1/jobs?status=queued&status=training", headers=AUTH).json()
    capped = client.get("/api/v1/jobs?status=queued&status=training&per_status=1", headers=AUTH).json()
    only_training = client.get("/api/v1/jobs?status=training&per_status=1", headers=AUTH).json()

    assert [job["id"] for job in both["jobs"]] == newest_first
    # The newest of each: the queue does not crowd the training jobs out of the page.
    assert [(job["id"], job["status"]) for job in capped["jobs"]] == [
        (newest_first[0], "queued"), (newest_first[2], "training"),
    ]  # fmt: skip
    assert [job["id"] for job in only_training["jobs"]] == [newest_first[2]]
    zero = client.get("/api/v1/jobs?status=queued&per_status=0", headers=AUTH)
    assert (zero.status_code, zero.json()["error"]["field"]) == (422, "per_status")
    bad = client.get("/api/v1/jobs?status=queued&status=sleeping", headers=AUTH)
    assert (bad.status_code, bad.json()["error"]["field"]) == (422, "status")
    assert bad.json()["error"]["message"].startswith("status: must be one of")


def test_a_job_is_found_by_its_name_or_bedrock_name(client: TestClient) -> None:
    dataset_id = add_dataset(sessions_of(client))
    first = launch(client, dataset_id, key="n1", models=["11b"], name="charts-v1").json()["jobs"][0]
    launch(client, dataset_id, key="n2", models=["11b"], name="charts-v2")

    by_name = client.get("/api/v1/jobs?name=charts-v1", headers=AUTH).json()["jobs"]
    by_bedrock_name = client.get(f"/api/v1/jobs?name={first['bedrock_job_name']}", headers=AUTH).json()[
        "jobs"
    ]

    assert [job["id"] for job in by_name] == [first["id"]]
    assert [job["id"] for job in by_bedrock_name] == [first["id"]]
    assert first["evaluations"] == []  # nothing scored before training ends


def test_no_comparison_chart_before_both_sizes_are_evaluated(client: TestClient) -> None:
    dataset_id = add_dataset(sessions_of(client))
    group_id = launch(client, dataset_id, key="pair", models=["11b", "90b"]).json()["group_id"]
    answer = client.get(f"/api/v1/groups/{group_id}/comparison.png", headers=AUTH)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "no_comparison"


def test_cancel_stops_the_job_and_patch_records_the_slack_message(client: TestClient) -> None:
    dataset_id = add_dataset(sessions_of(client))
    job = launch(client, dataset_id, models=["11b"]).json()["jobs"][0]

    patched = client.patch(f"/api/v1/jobs/{job['id']}", json={"reply_to": "C1 at 1700.1"}, headers=AUTH)
    cancelled = client.post(f"/api/v1/jobs/{job['id']}/cancel", json={"requested_by": "U1"}, headers=AUTH)

    assert patched.status_code == 200 and patched.json()["reply_to"] == "C1 at 1700.1"
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelling"
    assert moto_jobs()[job["bedrock_job_name"]].status == "Stopped"


def test_recommendations_explain_themselves(client: TestClient) -> None:
    answer = client.get("/api/v1/recommendations?examples=1200", headers=AUTH).json()
    assert (answer["epochs"], answer["learning_rate"], answer["model"]) == (5, 1e-5, "11b")
    assert len(answer["reasons"]) == 3
    bad = client.get("/api/v1/recommendations?examples=-1", headers=AUTH)
    assert (bad.status_code, bad.json()["error"]["field"]) == (422, "examples")


def test_events_are_claimed_with_a_lease_and_acknowledged_by_their_holder(client: TestClient) -> None:
    dataset_id = add_dataset(sessions_of(client))
    launch(client, dataset_id, models=["11b"])

    claim = {"consumer": "bot-1", "limit": 10, "lease_seconds": 60}
    events = client.post("/api/v1/events/claim", json=claim, headers=AUTH).json()["events"]
    others = client.post("/api/v1/events/claim", json={**claim, "consumer": "bot-2"}, headers=AUTH).json()

    assert [event["type"] for event in events] == ["job.created", "job.submitted"]
    assert others["events"] == []
    stolen = client.post(f"/api/v1/events/{events[0]['id']}/ack", json={"consumer": "bot-2"}, headers=AUTH)
    assert (stolen.status_code, stolen.json()["error"]["code"]) == (409, "not_leased")
    for event in events:
        acked = client.post(f"/api/v1/events/{event['id']}/ack", json={"consumer": "bot-1"}, headers=AUTH)
        assert acked.json() == {"id": event["id"], "acknowledged": True}
    assert client.post("/api/v1/events/claim", json=claim, headers=AUTH).json()["events"] == []
    bad = client.post("/api/v1/events/claim", json={**claim, "limit": 0}, headers=AUTH)
    assert (bad.status_code, bad.json()["error"]["field"]) == (422, "limit")


def test_the_openapi_document_describes_the_job_routes_and_their_errors(client: TestClient) -> None:
    document = client.get("/openapi.json", headers=AUTH).json()
    paths = document["paths"]
    for path in [
        "/api/v1/jobs",
        "/api/v1/jobs/{job_ref}",
        "/api/v1/jobs/{job_ref}/cancel",
        "/api/v1/groups/{group_id}",
        "/api/v1/recommendations",
        "/api/v1/events/claim",
        "/api/v1/events/{event_id}/ack",
    ]:
        assert path in paths, path
    launch_op = paths["/api/v1/jobs"]["post"]
    assert {"200", "201", "401", "403", "404", "409", "422"} <= set(launch_op["responses"])
    assert launch_op["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ErrorBody"
    )
    assert any(parameter["name"] == "Idempotency-Key" for parameter in launch_op["parameters"])


def test_a_completed_jobs_loss_curve_is_served_as_png(client: TestClient) -> None:
    dataset_id = add_dataset(sessions_of(client))
    job = launch(client, dataset_id, models=["11b"]).json()["jobs"][0]
    assert client.get(f"/api/v1/jobs/{job['id']}/loss-curve.png", headers=AUTH).status_code == 404
    deps = client.app.state.runtime.wiring.job_deps  # type: ignore[attr-defined]
    prefix = job["output_s3_uri"].removeprefix("s3://tunebot-test/")
    make_s3_client("us-west-2", None).put_object(
        Bucket="tunebot-test",
        Key=f"{prefix}/job-1/step_wise_training_metrics.csv",
        Body=b"step_number,epoch_number,training_loss,perplexity\n1,0,2.0,7.4\n2,1,1.0,2.7\n",
    )
    moto_jobs()[job["bedrock_job_name"]].status = "Completed"
    poll_once(deps)

    answer = client.get(f"/api/v1/jobs/{job['id']}/loss-curve.png", headers=AUTH)

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/png"
    assert answer.content.startswith(b"\x89PNG")


def test_values_postgresql_cannot_store_are_422_not_500(client: TestClient) -> None:
    dataset_id = add_dataset(sessions_of(client))
    nul = launch(client, dataset_id, requested_by="U\x001")
    huge = client.post("/api/v1/events/99999999999999999999/ack", json={"consumer": "bot"}, headers=AUTH)
    odd_id = client.get("/api/v1/jobs/a%00b", headers=AUTH)
    query = client.get("/api/v1/jobs", params={"requested_by": "a\x00"}, headers=AUTH)

    assert (nul.status_code, nul.json()["error"]["field"]) == (422, "requested_by")
    assert (huge.status_code, huge.json()["error"]["field"]) == (422, "event_id")
    assert (odd_id.status_code, odd_id.json()["error"]["field"]) == (422, "job_ref")
    assert (query.status_code, query.json()["error"]["field"]) == (422, "requested_by")


@pytest.mark.parametrize("content", [b"\x80", b"\xff\xfe{\x00", b'{"consumer": '])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/jobs"),
        ("POST", "/api/v1/jobs/x/cancel"),
        ("PATCH", "/api/v1/jobs/x"),
        ("POST", "/api/v1/events/claim"),
        ("POST", "/api/v1/events/1/ack"),
    ],
)
def test_a_body_that_cannot_be_parsed_is_422_naming_the_body(
    client: TestClient, method: str, path: str, content: bytes
) -> None:
    # Found by schemathesis: non-UTF-8 bodies got an undocumented 400 "There was an error parsing the body";
    # malformed JSON got a 422 whose field was the character offset ("1"), not the body.
    answer = client.request(
        method,
        path,
        content=content,
        headers={**AUTH, "Content-Type": "application/json", "Idempotency-Key": "k"},
    )
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert (error["code"], error["field"]) == ("invalid_request", "body")
    assert error["message"].startswith("body: ")


@pytest.mark.parametrize(("field", "value"), [("epochs", 0), ("epochs", 11), ("learning_rate", 1e-7)])
def test_launch_bounds_are_in_the_document_and_enforced(client: TestClient, field: str, value: Any) -> None:
    # schemathesis found most generated launches refused for bounds the document did not state.
    dataset_id = add_dataset(sessions_of(client))
    answer = launch(client, dataset_id, **{field: value})
    assert answer.status_code == 422, answer.json()
    assert answer.json()["error"]["field"] == field
    document = client.get("/openapi.json", headers=AUTH).json()
    schema = document["components"]["schemas"]["LaunchIn"]["properties"][field]
    bounds = next(option for option in schema["anyOf"] if option["type"] != "null")
    assert "minimum" in bounds and "maximum" in bounds
    assert moto_jobs() == {}


def test_a_repeated_model_size_is_422_and_the_document_says_so(client: TestClient) -> None:
    # schemathesis generated ["11b", "11b"]: refused, but the document did not say the sizes are unique.
    dataset_id = add_dataset(sessions_of(client))
    answer = launch(client, dataset_id, models=["11b", "11b"])
    assert answer.status_code == 422, answer.json()
    assert answer.json()["error"]["field"] == "models"
    document = client.get("/openapi.json", headers=AUTH).json()
    schema = document["components"]["schemas"]["LaunchIn"]["properties"]["models"]
    assert schema["uniqueItems"] is True
    assert moto_jobs() == {}

"""The wire schemas are what the API serves: every answer the real API gives ``services.client`` parses
into its schema in ``services.api.schemas`` and serialises back to exactly what the API sent (no field
dropped, none missing), so the client can return these models and the bot read typed attributes."""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from services.api.schemas import (
    AckOut,
    DatasetAccepted,
    DatasetOut,
    DatasetPage,
    EstimateOut,
    EventBatch,
    GroupOut,
    JobOut,
    JobPage,
    JobStatus,
    LaunchOut,
    Recommendation,
    ServiceInfo,
    SweepEstimateOut,
    SweepOut,
)
from services.client import ServiceClient
from tests.jobs.conftest import TOKEN, add_dataset, aws, sessions_of  # noqa: F401  (fixtures)
from tests.jobs.conftest import client as api  # noqa: F401  (fixture)
from tests.sweeps.files import put_prepared_files

# Methods whose answer is not a schema: bytes (PNG), a bool, or nothing to read.
NOT_SCHEMAS = {
    "close", "healthy", "job_loss_curve", "group_comparison_chart", "group_loss_curves", "sweep_chart",
    "job_gallery", "group_gallery",
}  # fmt: skip


class Recording(httpx.BaseTransport):
    """Passes each call to the app and keeps the raw JSON it answered with."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.answers: list[Any] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        response.read()
        self.answers.append(json.loads(response.content))
        return response


@pytest.fixture
def recording(api: TestClient) -> Recording:  # noqa: F811
    return Recording(api._transport)


@pytest.fixture
def service(recording: Recording) -> Iterator[ServiceClient]:
    client = ServiceClient("http://testserver", TOKEN, transport=recording)
    yield client
    client.close()


def round_trips(recording: Recording, model: type[BaseModel], returned: Any) -> Any:
    """The last raw answer, asserted to be exactly what ``model`` reads and writes, and what the client
    returned (``returned``: that model, or the list a page model holds) to be that answer parsed."""
    raw = recording.answers[-1]
    assert model.model_validate(raw).model_dump(mode="json") == raw, model.__name__
    items = returned if isinstance(returned, list) else [returned]
    assert all(isinstance(item, BaseModel) for item in items), (
        f"{model.__name__}: the client returned raw data"
    )
    dumped = [item.model_dump(mode="json") for item in items]
    if isinstance(returned, list):  # a page's one list field: {"events": [...]}, {"datasets": [...]}
        [listed] = raw.values()
        assert dumped == listed, model.__name__
    else:
        assert dumped[0] == raw, model.__name__
    return raw


def test_every_answer_the_client_reads_round_trips_through_its_wire_schema(
    api: TestClient,  # noqa: F811
    recording: Recording,
    service: ServiceClient,
    tmp_path: Path,
) -> None:
    checked: set[str] = set()

    def check(method: str, model: type[BaseModel], returned: Any) -> Any:
        checked.add(method)
        return round_trips(recording, model, returned)

    dataset_id = add_dataset(sessions_of(api))
    check("info", ServiceInfo, service.info())
    # reply_to is the caller's own text: any string comes back as sent.
    launched = service.launch_jobs(
        "contract", dataset_id=dataset_id, models=["11b", "90b"], requested_by="U1", reply_to="thread 7"
    )
    check("launch_jobs", LaunchOut, launched)
    page = service.list_jobs(requested_by="U1", status=launched.jobs[0].status)
    assert check("list_jobs", JobPage, page)["jobs"], "the filter by the job's own status found it"
    job = service.get_job(launched.jobs[0].id)
    raw_job = check("get_job", JobOut, job)
    check(
        "set_job_message",
        GroupOut,
        service.set_job_message(job.id, reply_to='{"to": "C1", "at": "1.2"}'),
    )
    group = service.get_group(launched.group_id)
    assert check("get_group", GroupOut, group)["reply_to"] == '{"to": "C1", "at": "1.2"}'
    estimate = service.estimate_launch(dataset_id=dataset_id, models=["11b", "90b"], epochs=3)
    check("estimate_launch", EstimateOut, estimate)
    check("recommendation", Recommendation, service.recommendation(1200, "90b"))
    events = service.claim_events("contract", limit=50)
    check("claim_events", EventBatch, events)
    service.ack_event(events[0].id, "contract")
    checked.add("ack_event")  # answers nothing the client returns; its schema still round-trips
    round_trips(recording, AckOut, AckOut.model_validate(recording.answers[-1]))
    cancelled = service.cancel_job(job.id, requested_by="U1")
    raw_cancelled = check("cancel_job", JobOut, cancelled)
    upload = tmp_path / "data.jsonl"
    upload.write_text('{"not": "checked yet"}\n')
    accepted = service.upload_dataset(str(upload), "data.jsonl", created_by="U1", reply_to="C1/upload")
    check("upload_dataset", DatasetAccepted, accepted)
    from_uri = service.dataset_from_uri("s3://tunebot-test/raw/charts/", created_by="U1", reply_to="C1")
    check("dataset_from_uri", DatasetAccepted, from_uri)
    assert check("get_dataset", DatasetOut, service.get_dataset(accepted.id))["reply_to"] == "C1/upload"
    check("list_datasets", DatasetPage, service.list_datasets(created_by="U1"))

    put_prepared_files(sessions_of(api), dataset_id)
    sweep_estimate = service.estimate_sweep(dataset_id=dataset_id, sizes=[100, "all"], models=["11b"])
    assert check("estimate_sweep", SweepEstimateOut, sweep_estimate)["jobs"], "the sweep's jobs, priced"
    sweep = service.start_sweep(
        "contract-sweep", dataset_id=dataset_id, sizes=[100, "all"], models=["11b"], requested_by="U1",
        reply_to="sweep thread",
    )  # fmt: skip
    assert check("start_sweep", SweepOut, sweep)["cells"], "the sweep's jobs are in its answer"
    check("get_sweep", SweepOut, service.get_sweep(sweep.id))
    moved = service.set_sweep_message(sweep.id, reply_to="sweep thread, message 1.3")
    assert check("set_sweep_message", SweepOut, moved)["reply_to"] == "sweep thread, message 1.3"
    cancelled_sweep = service.cancel_sweep(sweep.id, requested_by="U1")
    assert check("cancel_sweep", SweepOut, cancelled_sweep)["status"] == "cancelled"

    public = {name for name, _ in inspect.getmembers(ServiceClient, inspect.isfunction) if name[0] != "_"}
    assert checked == public - NOT_SCHEMAS, "a client method without a contract check"
    # The rules the bot reads come from the service's state machine, as sent.
    assert (raw_job["cancellable"], raw_job["final"]) == (True, False)
    assert cancelled.status in (JobStatus.CANCELLED, JobStatus.CANCELLING)
    assert raw_cancelled["cancellable"] is False and cancelled.cancellable is False
    assert cancelled.final is (cancelled.status == JobStatus.CANCELLED)

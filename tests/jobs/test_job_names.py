"""Job names people can type: unique readable defaults, a chosen name checked at launch, and every job
route that takes a job finding it by its id or by its name."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from services.jobs.naming import dataset_stem, default_names, name_problem
from services.platform.db import unit_of_work
from services.platform.tables import Dataset, Job
from tests.jobs.conftest import AUTH, add_dataset, sessions_of


def launch(client: TestClient, dataset_id: str, key: str, **body: Any) -> Any:
    payload = {"dataset_id": dataset_id, "models": ["11b"], "requested_by": "U1", **body}
    return client.post("/api/v1/jobs", json=payload, headers={**AUTH, "Idempotency-Key": key})


def name_dataset(client: TestClient, dataset_id: str, name: str) -> None:
    with unit_of_work(sessions_of(client)) as session:
        session.execute(update(Dataset).where(Dataset.id == dataset_id).values(name=name))


@pytest.mark.parametrize(
    ("dataset_name", "stem"),
    [
        ("charts.zip", "charts"),
        ("charts", "charts"),
        ("Q3 Invoices (final).jsonl", "q3-invoices-final"),
        ("s3://bucket/raw/receipts/", "receipts"),
        ("export.tar.gz", "export"),
        ("...", "dataset"),
    ],
)
def test_a_default_name_is_the_dataset_name_without_its_extension(dataset_name: str, stem: str) -> None:
    assert dataset_stem(dataset_name) == stem


def test_default_names_skip_the_taken_ones() -> None:
    taken = {"charts-11b", "charts-11b-2", "charts-90b"}
    assert default_names("charts.zip", ["11b", "90b"], taken) == ["charts-11b-3", "charts-90b-2"]


def test_two_launches_of_one_file_get_distinct_readable_names(client: TestClient) -> None:
    dataset_id = add_dataset(sessions_of(client))
    name_dataset(client, dataset_id, "charts.zip")

    first = launch(client, dataset_id, "k1", models=["11b", "90b"]).json()
    second = launch(client, dataset_id, "k2", models=["11b", "90b"]).json()
    third = launch(client, dataset_id, "k3").json()

    assert [job["name"] for job in first["jobs"]] == ["charts-11b", "charts-90b"]
    assert [job["name"] for job in second["jobs"]] == ["charts-11b-2", "charts-90b-2"]
    assert [job["name"] for job in third["jobs"]] == ["charts-11b-3"]


def test_a_chosen_name_that_is_taken_is_refused_naming_the_field_and_a_free_name(
    client: TestClient,
) -> None:
    dataset_id = add_dataset(sessions_of(client))
    assert launch(client, dataset_id, "k1", name="q3-run").status_code == 201

    again = launch(client, dataset_id, "k2", name="q3-run")

    assert again.status_code == 409
    error = again.json()["error"]
    assert (error["code"], error["field"]) == ("name_taken", "name")
    assert "`q3-run` exists already" in error["message"] and "`q3-run-2`" in error["message"]
    # The suggestion is really free: launching with it works.
    assert launch(client, dataset_id, "k3", name="q3-run-2").status_code == 201


def test_a_chosen_name_for_both_sizes_names_each_job(client: TestClient) -> None:
    dataset_id = add_dataset(sessions_of(client))
    answer = launch(client, dataset_id, "k1", models=["11b", "90b"], name="q3")
    assert [job["name"] for job in answer.json()["jobs"]] == ["q3-11b", "q3-90b"]


@pytest.mark.parametrize("name", ["my run", "-dash-first", "x" * 70, "0123456789abcdef0123456789abcdef"])
def test_a_name_people_could_not_type_is_refused_saying_what_to_type(client: TestClient, name: str) -> None:
    dataset_id = add_dataset(sessions_of(client))
    answer = launch(client, dataset_id, "k1", name=name)
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert (error["code"], error["field"]) == ("invalid_name", "name")
    assert error["message"] == name_problem(name)
    assert "e.g. `" in error["message"]
    assert client.get("/api/v1/jobs", headers=AUTH).json()["jobs"] == []


def test_status_and_cancel_find_a_job_by_its_name(client: TestClient) -> None:
    dataset_id = add_dataset(sessions_of(client))
    name_dataset(client, dataset_id, "charts.zip")
    job = launch(client, dataset_id, "k1").json()["jobs"][0]

    shown = client.get("/api/v1/jobs/charts-11b", headers=AUTH)
    cancelled = client.post("/api/v1/jobs/charts-11b/cancel", json={"requested_by": "U1"}, headers=AUTH)
    missing = client.get("/api/v1/jobs/charts-11b-7", headers=AUTH)

    assert shown.status_code == 200 and shown.json()["id"] == job["id"]
    assert cancelled.status_code == 200, cancelled.json()
    assert (cancelled.json()["id"], cancelled.json()["status"]) == (job["id"], "cancelling")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "job_not_found"


def test_the_database_refuses_a_second_job_of_the_same_name(client: TestClient) -> None:
    dataset_id = add_dataset(sessions_of(client))
    first = launch(client, dataset_id, "k1").json()["jobs"][0]
    second = launch(client, dataset_id, "k2").json()["jobs"][0]
    with pytest.raises(IntegrityError), unit_of_work(sessions_of(client)) as session:
        session.execute(update(Job).where(Job.id == second["id"]).values(name=first["name"]))

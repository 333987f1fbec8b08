"""Datasets over the API: an upload or an s3:// source is checked in the background by a scheduler task
that claims the row with a lease, and the report comes back on GET."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.datasets.service import (
    CheckDeps,
    CheckOptions,
    check_next,
    register_dataset,
    save_upload,
)
from services.platform.db import unit_of_work
from services.platform.errors import DomainError, ErrorKind
from services.platform.tables import Dataset, Event, utcnow
from services.tuning.pricing import load_prices
from tests.datasets.fixtures import make_llava, make_png, make_zip
from tests.jobs.conftest import AUTH, sessions_of, settings_for


def wait_checked(client: TestClient, dataset_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        dataset: dict[str, Any] = client.get(f"/api/v1/datasets/{dataset_id}", headers=AUTH).json()
        if dataset["status"] != "checking":
            return dataset
        assert time.monotonic() < deadline, dataset
        time.sleep(0.2)


def llava_zip(tmp_path: Path, records: int = 120) -> bytes:
    folder = make_llava(tmp_path / "llava", records, text_only=records - 5)
    return make_zip(tmp_path / "charts.zip", folder).read_bytes()


def test_an_uploaded_dataset_is_checked_uploaded_and_then_launchable(
    client: TestClient, tmp_path: Path
) -> None:
    accepted = client.post(
        "/api/v1/datasets",
        files={"file": ("charts.zip", llava_zip(tmp_path), "application/zip")},
        data={"created_by": "U1", "seed": "7"},
        headers=AUTH,
    )
    assert accepted.status_code == 202, accepted.json()
    assert accepted.json()["status"] == "checking"

    dataset = wait_checked(client, accepted.json()["id"])

    assert dataset["status"] == "ready", dataset
    assert (dataset["name"], dataset["created_by"], dataset["format"]) == ("charts.zip", "U1", "llava")
    assert dataset["report"]["counts"]["train"] > 0
    assert dataset["s3_uri"] == f"s3://tunebot-test/tunebot/datasets/{dataset['id']}"
    listed = client.get("/api/v1/datasets?created_by=U1", headers=AUTH).json()["datasets"]
    assert [item["id"] for item in listed] == [dataset["id"]]
    with sessions_of(client)() as session:
        [event] = session.scalars(select(Event).where(Event.type == "dataset.checked")).all()
        assert event.payload["status"] == "ready"
    launched = client.post(
        "/api/v1/jobs",
        json={"dataset_id": dataset["id"], "models": ["11b"], "requested_by": "U1"},
        headers={**AUTH, "Idempotency-Key": "after-upload"},
    )
    assert launched.status_code == 201, launched.json()


def test_an_s3_source_that_is_not_there_fails_with_a_reason(client: TestClient) -> None:
    accepted = client.post(
        "/api/v1/datasets", json={"source_uri": "s3://tunebot-test/nothing/here/"}, headers=AUTH
    )
    assert accepted.status_code == 202, accepted.json()
    dataset = wait_checked(client, accepted.json()["id"])
    assert dataset["status"] == "failed"
    assert dataset["error"]


@pytest.mark.parametrize(
    ("kwargs", "status", "field"),
    [
        ({"json": {"source_uri": "http://example.com/x"}}, 422, "source_uri"),
        (
            {"json": {"source_uri": "s3://tunebot-test/x", "validation_fraction": 0.5}},
            422,
            "validation_fraction",
        ),
        ({"json": {"source_uri": "s3://tunebot-test/x", "format": "excel"}}, 422, "format"),
        ({"json": {}}, 422, "source_uri"),
        ({"files": {"other": ("a.zip", b"x")}}, 422, "file"),
        ({"files": {"file": ("a.zip", b"x")}, "data": {"test_fraction": "lots"}}, 422, "test_fraction"),
        ({"content": b"hello", "headers": {"Content-Type": "text/plain"}}, 415, None),
    ],
)
def test_bad_dataset_requests_say_which_field(
    client: TestClient, kwargs: dict[str, Any], status: int, field: str | None
) -> None:
    headers = {**AUTH, **kwargs.pop("headers", {})}
    answer = client.post("/api/v1/datasets", headers=headers, **kwargs)
    assert answer.status_code == status, answer.json()
    assert answer.json()["error"].get("field") == field
    assert client.get("/api/v1/datasets", headers=AUTH).json()["datasets"] == []


def test_dataset_routes_need_the_token_and_unknown_ids_are_404(client: TestClient) -> None:
    assert client.post("/api/v1/datasets", json={}).status_code == 401
    assert client.get("/api/v1/datasets").status_code == 401
    assert client.get("/api/v1/datasets/nope", headers=AUTH).json()["error"]["code"] == "dataset_not_found"


def test_an_upload_above_the_limit_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, max_upload_mb=1)
    with pytest.raises(DomainError) as refused:
        save_upload(settings, "d1", "../../big.zip", io.BytesIO(b"x" * (1024 * 1024 + 1)))
    assert (refused.value.kind, refused.value.field) == (ErrorKind.TOO_LARGE, "file")
    assert not (tmp_path / "data" / "uploads" / "d1").exists()
    kept = save_upload(settings, "d2", "../../small.zip", io.BytesIO(b"x"))
    assert kept == tmp_path / "data" / "uploads" / "d2" / "small.zip"


def test_a_check_whose_worker_died_is_taken_over_after_its_lease_expires(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    folder = make_llava(tmp_path / "llava", 150, text_only=150)
    dataset, _created = register_dataset(
        sessions, name="llava", source_uri=str(folder), created_by="U1", options=CheckOptions()
    )
    with unit_of_work(sessions) as session:
        row = session.get(Dataset, dataset.id)
        assert row is not None
        row.lease_owner, row.lease_expires_at = "dead-replica", utcnow()
    deps = CheckDeps(
        sessions=sessions, settings=settings_for(tmp_path, s3_uri=None), prices=load_prices(), owner="r2"
    )

    assert check_next(deps) == dataset.id

    with sessions() as session:
        checked = session.get(Dataset, dataset.id)
        assert checked is not None
        assert (checked.status, checked.lease_owner) == ("unusable", None)
        assert checked.error is not None and "TUNEBOT_S3_URI" in checked.error
    assert check_next(deps) is None


def test_a_retried_upload_with_its_key_is_the_same_dataset_and_its_event_names_the_thread(
    client: TestClient, tmp_path: Path
) -> None:
    def upload() -> Any:
        return client.post(
            "/api/v1/datasets",
            files={"file": ("charts.zip", llava_zip(tmp_path), "application/zip")},
            data={"created_by": "U1", "reply_to": '{"channel":"C1","thread_ts":"1700000000.1"}'},
            headers={**AUTH, "Idempotency-Key": "F0123-upload"},
        )

    first, again = upload(), upload()

    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["id"] == first.json()["id"]
    dataset = wait_checked(client, first.json()["id"])
    # Stored and announced as sent: where to post is the caller's to read, not the service's.
    assert dataset["reply_to"] == '{"channel":"C1","thread_ts":"1700000000.1"}'
    with sessions_of(client)() as session:
        [event] = session.scalars(select(Event).where(Event.type == "dataset.checked")).all()
        assert event.payload["reply_to"] == '{"channel":"C1","thread_ts":"1700000000.1"}'


def test_an_upload_name_is_reduced_to_a_safe_base_name(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    saved = save_upload(settings, "d3", "../../etc/pass\x00wd; rm -rf.zip", io.BytesIO(b"x"))
    assert saved == tmp_path / "data" / "uploads" / "d3" / "passwd_ rm -rf.zip"
    assert save_upload(settings, "d4", "..", io.BytesIO(b"x")).name == "upload"


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"\xff\xfe{\x00", "application/json"),
        (b"--x\r\nnot a part", "multipart/form-data"),  # no boundary: Starlette's parser gives up (was 400)
    ],
)
def test_a_body_that_cannot_be_parsed_is_422_naming_the_body(
    client: TestClient, content: bytes, content_type: str
) -> None:
    headers = {**AUTH, "Content-Type": content_type}
    answer = client.post("/api/v1/datasets", content=content, headers=headers)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert (error["code"], error["field"]) == ("invalid_request", "body")
    assert client.get("/api/v1/datasets", headers=AUTH).json()["datasets"] == []


def test_an_upload_cannot_read_image_files_outside_itself(client: TestClient, tmp_path: Path) -> None:
    private = make_png(tmp_path / "another-team" / "chart.png")
    folder = make_llava(tmp_path / "llava", 120, text_only=115)
    records = json.loads((folder / "llava.json").read_text())
    records[0]["image"] = str(private)  # an absolute path to someone else's file on the service's disk
    (folder / "llava.json").write_text(json.dumps(records))
    upload = make_zip(tmp_path / "sneaky.zip", folder).read_bytes()

    accepted = client.post(
        "/api/v1/datasets", files={"file": ("sneaky.zip", upload)}, data={"created_by": "U1"}, headers=AUTH
    )
    dataset = wait_checked(client, accepted.json()["id"])

    [refused] = [e for e in dataset["report"]["errors"] if "outside the dataset" in e["message"]]
    assert refused["code"] == "image_missing"
    assert dataset["report"]["counts"]["rejected"] == 1

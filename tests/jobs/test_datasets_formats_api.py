"""The datasets API on the files people actually have: a Hub parquet export, captions with an
instruction, and a dataset too long for 90B, whose 90B launch is refused naming the records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.datasets import hub_fixtures as hub
from tests.datasets.fixtures import answer, make_zip, question, write_jsonl
from tests.jobs.conftest import AUTH
from tests.jobs.test_datasets_api import wait_checked


def upload(client: TestClient, archive: Path, **fields: str) -> str:
    accepted = client.post(
        "/api/v1/datasets",
        files={"file": (archive.name, archive.read_bytes(), "application/zip")},
        data={"created_by": "U1", **fields},
        headers=AUTH,
    )
    assert accepted.status_code == 202, accepted.json()
    dataset_id: str = accepted.json()["id"]
    return dataset_id


def test_a_zipped_hub_parquet_export_is_checked_with_its_splits(client: TestClient, tmp_path: Path) -> None:
    folder = hub.make_hub_chartqa(tmp_path / "ChartQA", {"train": 110, "test": 30})
    dataset = wait_checked(client, upload(client, make_zip(tmp_path / "chartqa.zip", folder)))

    assert dataset["status"] == "ready", dataset
    assert dataset["format"] == "hub"
    report = dataset["report"]
    assert report["counts"]["test"] == 30 and report["split"]["mode"] == "source"
    assert str(tmp_path) not in json.dumps(report)  # no server path anywhere in what the API returns


def test_captions_take_the_instruction_given_to_the_api(client: TestClient, tmp_path: Path) -> None:
    folder = hub.make_imagefolder(tmp_path / "captions", 120, metadata="jsonl")
    dataset_id = upload(
        client, make_zip(tmp_path / "captions.zip", folder), instruction="Caption this chart.", split="random"
    )
    dataset = wait_checked(client, dataset_id)

    assert dataset["status"] == "ready", dataset
    assert "default_instruction" not in dataset["report"]["warning_counts"]
    assert dataset["report"]["split"]["mode"] == "random"


def test_a_90b_launch_of_a_dataset_that_fits_11b_only_is_refused_naming_the_records(
    client: TestClient, tmp_path: Path
) -> None:
    rows = [{"question": question(i), "answer": answer(i)} for i in range(150)]
    rows[4]["question"] += " " + "chart data " * 6_000  # about 11,000 tokens: over 90B's 10,000
    folder = tmp_path / "long"
    write_jsonl(folder / "data.jsonl", rows)
    dataset = wait_checked(client, upload(client, make_zip(tmp_path / "long.zip", folder)))
    assert dataset["status"] == "ready", dataset
    assert dataset["report"]["model_fit"]["fits"] == ["11b"]
    assert dataset["report"]["recommendation"]["model"] == "11b"

    refused = client.post(
        "/api/v1/jobs",
        json={"dataset_id": dataset["id"], "models": ["11b", "90b"], "requested_by": "U1"},
        headers={**AUTH, "Idempotency-Key": "too-long-for-90b"},
    )

    assert refused.status_code == 409, refused.json()
    error = refused.json()["error"]
    assert error["code"] == "dataset_does_not_fit_model"
    assert "data.jsonl:5" in error["message"] and "launch 11B instead" in error["message"]
    launched = client.post(
        "/api/v1/jobs",
        json={"dataset_id": dataset["id"], "models": ["11b"], "requested_by": "U1"},
        headers={**AUTH, "Idempotency-Key": "fits-11b"},
    )
    assert launched.status_code == 201, launched.json()


@pytest.fixture
def upload_limit_1mb(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNEBOT_MAX_UPLOAD_MB", "1")


def test_an_oversized_upload_is_refused_while_it_streams_in(
    upload_limit_1mb: None, client: TestClient, tmp_path: Path
) -> None:
    """Driven at the ASGI seam the way a server delivers a chunked body (TestClient would hand the app
    the whole body at once): the app must stop taking chunks once past the limit."""
    boundary = "tunebotboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.zip"\r\n'
        "Content-Type: application/zip\r\n\r\n"
    ).encode()
    chunks = [head] + [b"x" * (256 * 1024)] * 200 + [f"\r\n--{boundary}--\r\n".encode()]  # 50 MB, no length
    taken = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal taken
        taken += 1
        return {"type": "http.request", "body": chunks[taken - 1], "more_body": taken < len(chunks)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/datasets",
        "raw_path": b"/api/v1/datasets",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", AUTH["Authorization"].encode()),
            (b"content-type", f"multipart/form-data; boundary={boundary}".encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }

    async def call() -> None:
        await client.app(scope, receive, send)  # type: ignore[arg-type]

    client.portal.call(call)  # type: ignore[union-attr]

    [start] = [message for message in sent if message["type"] == "http.response.start"]
    assert start["status"] == 413
    body = json.loads(b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"))
    assert body["error"]["code"] == "upload_too_large" and "TUNEBOT_MAX_UPLOAD_MB" in body["error"]["message"]
    assert taken < 10  # about 1 MB taken in, not 50
    uploads = tmp_path / "data" / "uploads"
    assert not uploads.exists() or not any(uploads.rglob("*.zip"))


def test_an_upload_declaring_a_size_over_the_limit_is_refused_before_its_body(
    upload_limit_1mb: None, client: TestClient
) -> None:
    refused = client.post(
        "/api/v1/datasets",
        files={"file": ("big.zip", b"x" * (3 * 1024 * 1024), "application/zip")},
        headers=AUTH,
    )
    assert refused.status_code == 413, refused.text
    assert refused.json()["error"]["field"] == "file"


def test_an_s3_source_outside_the_allowed_prefixes_is_refused_naming_the_setting(client: TestClient) -> None:
    refused = client.post("/api/v1/datasets", json={"source_uri": "s3://any-bucket/secrets/"}, headers=AUTH)

    assert refused.status_code == 403, refused.json()
    error = refused.json()["error"]
    assert (error["code"], error["field"]) == ("source_not_allowed", "source_uri")
    assert "s3://tunebot-test/" in error["message"] and "TUNEBOT_ALLOWED_S3_PREFIXES" in error["message"]
    assert client.get("/api/v1/datasets", headers=AUTH).json()["datasets"] == []


def bedrock_records_pointing_at(bucket: str, n: int) -> list[dict[str, Any]]:
    import boto3

    from tests.datasets.fixtures import image_bytes

    s3 = boto3.client("s3", region_name="us-west-2")
    if bucket != "tunebot-test":
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    records = []
    for i in range(n):
        s3.put_object(Bucket=bucket, Key=f"imgs/{i}.png", Body=image_bytes(seed=i))
        image = {"format": "png", "source": {"s3Location": {"uri": f"s3://{bucket}/imgs/{i}.png"}}}
        records.append(
            {
                "schemaVersion": "bedrock-conversation-2024",
                "messages": [
                    {"role": "user", "content": [{"text": question(i)}, {"image": image}]},
                    {"role": "assistant", "content": [{"text": answer(i)}]},
                ],
            }
        )
    return records


def test_images_of_an_uploaded_bedrock_dataset_are_read_only_from_allowed_buckets(
    client: TestClient, tmp_path: Path
) -> None:
    folder = tmp_path / "bedrock"
    write_jsonl(
        folder / "train.jsonl",
        bedrock_records_pointing_at("other-team", 3) + bedrock_records_pointing_at("tunebot-test", 120),
    )
    dataset = wait_checked(client, upload(client, make_zip(tmp_path / "bedrock.zip", folder)))

    assert dataset["status"] == "ready", dataset
    report = dataset["report"]
    assert report["error_counts"] == {"image_missing": 3}
    missing = [f for f in report["errors"] if f["code"] == "image_missing"]
    assert all("TUNEBOT_ALLOWED_S3_PREFIXES" in f["message"] for f in missing)
    assert report["counts"]["images"] == 120

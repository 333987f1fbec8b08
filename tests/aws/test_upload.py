"""Uploading a prepared folder to S3 (moto): in parallel, and skipping what is already there unchanged."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from moto import mock_aws
from typer.testing import CliRunner

from services.aws.clients import make_s3_client
from services.aws.s3 import split_s3_uri
from services.aws.upload import EarlyUploads, UploadError, upload_folder
from services.cli import app
from tests.aws.http_answers import HttpAnswers, s3_error
from tests.datasets.fixtures import make_chartqa

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

BUCKET = "tunebot-test"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Client]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    with mock_aws():
        client = make_s3_client("us-west-2", None)
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
        yield client


def prepared_folder(root: Path) -> Path:
    (root / "images").mkdir(parents=True)
    for i in range(5):
        (root / "images" / f"{i:064x}.png").write_bytes(f"image {i}".encode() * 100)
    for name in ("train.jsonl", "validation.jsonl", "test.jsonl"):
        (root / name).write_text('{"schemaVersion":"bedrock-conversation-2024"}\n')
    (root / "report.json").write_text("{}")
    return root


def keys(client: S3Client, prefix: str) -> set[str]:
    listing = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return {item["Key"] for item in listing.get("Contents", [])}


def test_uploads_every_file_under_the_prefix_with_its_hash(s3: S3Client, tmp_path: Path) -> None:
    folder = prepared_folder(tmp_path / "out")

    summary = upload_folder(folder, f"s3://{BUCKET}/team/charts", s3, max_concurrency=4)

    assert (summary.uploaded, summary.skipped) == (9, 0)
    assert keys(s3, "team/charts/") == {
        *(f"team/charts/images/{i:064x}.png" for i in range(5)),
        "team/charts/train.jsonl",
        "team/charts/validation.jsonl",
        "team/charts/test.jsonl",
        "team/charts/report.json",
    }
    head = s3.head_object(Bucket=BUCKET, Key=f"team/charts/images/{0:064x}.png")
    assert head["ContentType"] == "image/png"
    expected = hashlib.sha256((folder / "images" / f"{0:064x}.png").read_bytes()).hexdigest()
    assert head["Metadata"]["sha256"] == expected


def test_second_upload_skips_unchanged_objects_and_sends_changed_ones(s3: S3Client, tmp_path: Path) -> None:
    folder = prepared_folder(tmp_path / "out")
    upload_folder(folder, f"s3://{BUCKET}/ds", s3)
    (folder / "train.jsonl").write_text('{"changed": true}\n')

    summary = upload_folder(folder, f"s3://{BUCKET}/ds", s3)

    assert (summary.uploaded, summary.skipped) == (1, 8)
    body = s3.get_object(Bucket=BUCKET, Key="ds/train.jsonl")["Body"].read()
    assert body == b'{"changed": true}\n'


def test_same_size_different_content_is_uploaded_again(s3: S3Client, tmp_path: Path) -> None:
    folder = prepared_folder(tmp_path / "out")
    original = (folder / "report.json").read_bytes()
    s3.put_object(Bucket=BUCKET, Key="ds/report.json", Body=b"[]", Metadata={"sha256": "stale"})
    assert len(original) == 2

    upload_folder(folder, f"s3://{BUCKET}/ds", s3)

    assert s3.get_object(Bucket=BUCKET, Key="ds/report.json")["Body"].read() == original


def test_multipart_object_is_compared_by_stored_hash(s3: S3Client, tmp_path: Path) -> None:
    folder = prepared_folder(tmp_path / "out")
    data = (folder / "test.jsonl").read_bytes()
    key = "ds/test.jsonl"
    started = s3.create_multipart_upload(
        Bucket=BUCKET, Key=key, Metadata={"sha256": hashlib.sha256(data).hexdigest()}
    )
    part = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=started["UploadId"], PartNumber=1, Body=data)
    s3.complete_multipart_upload(
        Bucket=BUCKET,
        Key=key,
        UploadId=started["UploadId"],
        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
    )
    assert "-" in s3.head_object(Bucket=BUCKET, Key=key)["ETag"]  # not an MD5: the metadata decides

    summary = upload_folder(folder, f"s3://{BUCKET}/ds", s3)

    assert summary.skipped == 1 and summary.uploaded == 8


def test_missing_bucket_is_an_upload_error_naming_the_object(s3: S3Client, tmp_path: Path) -> None:
    folder = prepared_folder(tmp_path / "out")
    with pytest.raises(UploadError, match="s3://no-such-bucket/"):
        upload_folder(folder, "s3://no-such-bucket/x", s3)


def test_split_s3_uri() -> None:
    assert split_s3_uri("s3://bucket/a/b/") == ("bucket", "a/b")
    assert split_s3_uri("s3://bucket") == ("bucket", "")
    with pytest.raises(ValueError, match="s3://"):
        split_s3_uri("https://bucket")


def test_prepare_with_upload_puts_the_dataset_where_its_records_point(s3: S3Client, tmp_path: Path) -> None:
    source = make_chartqa(tmp_path / "chartqa", 120, splits=("train",), questions_per_image=2)
    out = tmp_path / "out"
    uri = f"s3://{BUCKET}/datasets/charts"
    runner = CliRunner()

    first = runner.invoke(
        app, ["prepare", str(source), "--out", str(out), "--s3-uri", uri, "--upload", "--json"]
    )
    second = runner.invoke(
        app, ["prepare", str(source), "--out", str(out), "--s3-uri", uri, "--upload", "--json"]
    )

    assert first.exit_code == 0, first.output
    report = json.loads(first.output)
    assert report["upload"]["uploaded"] == report["counts"]["images"] + 4 == 64
    for line in (out / "train.jsonl").read_text().splitlines():
        uri_in_record = json.loads(line)["messages"][0]["content"][1]["image"]["source"]["s3Location"]["uri"]
        assert uri_in_record.removeprefix(f"s3://{BUCKET}/") in keys(s3, "datasets/charts/images/")
    again = json.loads(second.output)["upload"]
    assert again["skipped"] >= 63 and again["uploaded"] <= 1  # only report.json may differ


def test_upload_failure_is_one_line_and_exit_1(s3: S3Client, tmp_path: Path) -> None:
    source = make_chartqa(tmp_path / "chartqa", 120, splits=("train",))
    result = CliRunner().invoke(
        app,
        [
            "prepare",
            str(source),
            "--out",
            str(tmp_path / "out"),
            "--s3-uri",
            "s3://missing-bucket/x",
            "--upload",
        ],
    )
    assert result.exit_code == 1
    assert "missing-bucket" in result.output and "Traceback" not in result.output


def test_images_sent_early_are_found_unchanged_by_the_final_upload(s3: S3Client, tmp_path: Path) -> None:
    folder = prepared_folder(tmp_path / "out")
    uri = f"s3://{BUCKET}/team/charts"
    early = EarlyUploads(folder, uri, s3, max_concurrency=4)
    for i in range(5):
        early.submit(f"images/{i:064x}.png")
    early.submit(f"images/{0:064x}.png")  # a second record using the same image sends nothing more
    early.close()

    summary = upload_folder(folder, uri, s3, max_concurrency=4)

    assert (early.uploaded, early.failed) == (5, 0)
    assert (summary.uploaded, summary.skipped) == (4, 5)  # the record files and the report; no image twice
    head = s3.head_object(Bucket=BUCKET, Key=f"team/charts/images/{0:064x}.png")
    assert head["Metadata"]["sha256"] == hashlib.sha256(b"image 0" * 100).hexdigest()
    assert head["ContentType"] == "image/png"


def test_early_uploads_skip_what_is_there_and_leave_a_missing_bucket_to_the_final_upload(
    s3: S3Client, tmp_path: Path
) -> None:
    folder = prepared_folder(tmp_path / "out")
    uri = f"s3://{BUCKET}/team/charts"
    upload_folder(folder, uri, s3)
    again = EarlyUploads(folder, uri, s3)
    again.submit(f"images/{1:064x}.png")
    again.close()
    nowhere = EarlyUploads(folder, "s3://no-such-bucket/x", s3)
    nowhere.submit(f"images/{1:064x}.png")
    nowhere.close()

    assert (again.uploaded, again.failed) == (0, 0)
    assert (nowhere.uploaded, nowhere.failed) == (0, 0)  # nothing tried: upload_folder names the problem
    with pytest.raises(UploadError, match="s3://no-such-bucket/"):
        upload_folder(folder, "s3://no-such-bucket/x", s3)


def send_images_early(s3: S3Client, folder: Path, uri: str, max_concurrency: int) -> EarlyUploads:
    """The five images of ``prepared_folder`` handed to early uploads as their records are accepted."""
    early = EarlyUploads(folder, uri, s3, max_concurrency=max_concurrency)
    for i in range(5):
        early.submit(f"images/{i:064x}.png")
    early.close()
    return early


def test_after_early_uploads_the_final_upload_lists_nothing_and_sends_only_the_rest(
    s3: S3Client, tmp_path: Path
) -> None:
    folder = prepared_folder(tmp_path / "out")
    uri = f"s3://{BUCKET}/team/charts"
    early = send_images_early(s3, folder, uri, max_concurrency=4)
    listings = HttpAnswers(s3, "ListObjectsV2", [])
    puts = HttpAnswers(s3, "PutObject", [])

    summary = upload_folder(folder, uri, s3, known=early.known_objects())

    assert listings.calls == 0  # the early uploads' listing and their puts say what is there
    assert puts.calls == 4  # the three record files and the report, no image twice
    assert (summary.uploaded, summary.skipped) == (4, 5)
    assert len(keys(s3, "team/charts/")) == 9


def test_early_uploads_failing_midway_lose_nothing_the_final_upload_sends_them(
    s3: S3Client, tmp_path: Path
) -> None:
    folder = prepared_folder(tmp_path / "out")
    uri = f"s3://{BUCKET}/team/charts"
    denied = s3_error("AccessDenied", 403, "Access Denied")  # not retried: botocore gives up at once
    HttpAnswers(s3, "PutObject", [denied, denied])  # the first two images fail, the rest go through
    early = send_images_early(s3, folder, uri, max_concurrency=1)

    summary = upload_folder(folder, uri, s3, known=early.known_objects())

    assert (early.uploaded, early.failed) == (3, 2)
    assert (summary.uploaded, summary.skipped) == (2 + 4, 3)
    for i in range(5):
        key = f"team/charts/images/{i:064x}.png"
        assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == f"image {i}".encode() * 100


def test_an_upload_failing_midway_says_what_to_check_and_a_rerun_sends_only_what_is_missing(
    s3: S3Client, tmp_path: Path
) -> None:
    folder = prepared_folder(tmp_path / "out")
    uri = f"s3://{BUCKET}/team/charts"
    HttpAnswers(s3, "PutObject", [s3_error("AccessDenied", 403, "Access Denied")])

    with pytest.raises(UploadError) as failed:
        upload_folder(folder, uri, s3, max_concurrency=1)
    stored = keys(s3, "team/charts/")
    summary = upload_folder(folder, uri, s3)

    message = str(failed.value)
    assert message.startswith(f"uploading s3://{BUCKET}/team/charts/images/")
    assert "check the bucket exists and your credentials may write to it" in message
    # What was sent before the failure stays, and no record file points at an image that is not there.
    assert len(stored) < 5 and all("/images/" in key for key in stored)
    assert (summary.uploaded, summary.skipped) == (5 - len(stored) + 4, len(stored))
    assert len(keys(s3, "team/charts/")) == 9

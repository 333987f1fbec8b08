"""An existing Bedrock dataset in S3 (AWS's own notebook writes one) re-checked by reading its images
from S3, with ``bucketOwner`` kept; and s3:// sources confined to the allowed prefixes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from services.cli import app
from tests.datasets.aws_rules import dataset_problems
from tests.datasets.fixtures import answer, image_bytes, question

runner = CliRunner()
OWNER = "111122223333"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-west-2",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("TUNEBOT_S3_URI", raising=False)
    with mock_aws():
        client = boto3.client("s3", region_name="us-west-2")
        client.create_bucket(
            Bucket="team-data", CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
        )
        yield client


def put_bedrock_dataset(s3: Any, n: int, owner: str | None = OWNER) -> None:
    """``s3://team-data/notebook/train.jsonl`` whose records point at images under ``notebook/images/``."""
    lines = []
    for i in range(n):
        key = f"notebook/images/{i}.png"
        s3.put_object(Bucket="team-data", Key=key, Body=image_bytes(seed=i))
        location: dict[str, str] = {"uri": f"s3://team-data/{key}"}
        if owner is not None:
            location["bucketOwner"] = owner
        lines.append(
            json.dumps(
                {
                    "schemaVersion": "bedrock-conversation-2024",
                    "messages": [
                        {
                            "role": "user",
                            "content": [
                                {"text": question(i)},
                                {"image": {"format": "png", "source": {"s3Location": location}}},
                            ],
                        },
                        {"role": "assistant", "content": [{"text": answer(i)}]},
                    ],
                }
            )
        )
    s3.put_object(Bucket="team-data", Key="notebook/train.jsonl", Body="\n".join(lines).encode())


def test_a_bedrock_dataset_in_s3_is_rechecked_by_reading_its_images(s3: Any, tmp_path: Path) -> None:
    put_bedrock_dataset(s3, 120)
    s3.put_object(Bucket="team-data", Key="notebook/images/7.png", Body=b"not a png any more")

    result = runner.invoke(
        app,
        [
            "prepare",
            "s3://team-data/notebook/train.jsonl",
            "--out",
            str(tmp_path / "out"),
            "--s3-uri",
            "s3://team-data/rechecked",
        ],
    )

    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["format"] == "bedrock"
    assert "image_missing" not in report["error_counts"]  # before: every s3:// image was "missing"
    assert report["error_counts"] == {"image_format": 1}
    assert report["counts"]["images"] == 119
    records = [
        json.loads(line)
        for name in ("train.jsonl", "validation.jsonl")
        for line in (tmp_path / "out" / name).read_text().splitlines()
    ]
    locations = [
        item["image"]["source"]["s3Location"]
        for r in records
        for item in r["messages"][0]["content"]
        if "image" in item
    ]
    assert all(location["bucketOwner"] == OWNER for location in locations)
    assert all(location["uri"].startswith("s3://team-data/rechecked/images/") for location in locations)
    assert dataset_problems(tmp_path / "out") == []

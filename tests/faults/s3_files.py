"""Files the fault scenarios put in moto's S3 (straight to moto, never through the fault proxy): a prepared
dataset's test set for evaluations, and a finished job's metrics under its output prefix."""

from __future__ import annotations

import io
import json
from typing import Any

import boto3
from PIL import Image
from sqlalchemy.orm import Session, sessionmaker

from services.platform.tables import Job
from tests.evaluation.factories import held_out_record
from tests.jobs.conftest import BUCKET, REGION
from tests.jobs.test_poll import TRAINING_CSV, VALIDATION_CSV

DATASET_PREFIX = "tunebot/datasets/charts"  # tests.jobs.conftest.add_dataset's s3_uri, in BUCKET
IMAGE_KEY = f"{DATASET_PREFIX}/images/chart.png"


def _s3(moto_url: str) -> Any:
    return boto3.client("s3", region_name=REGION, endpoint_url=moto_url)


def chart_png() -> bytes:
    """A real PNG (Converse decodes the images it is sent)."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 40, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


def upload_test_set(moto_url: str, examples: int) -> None:
    """test.jsonl (questions "What is the value of bar N?", references "value N"), train.jsonl, the image."""
    s3 = _s3(moto_url)
    s3.put_object(Bucket=BUCKET, Key=IMAGE_KEY, Body=chart_png())
    lines = []
    for index in range(examples):
        record = held_out_record(index)
        record["messages"][0]["content"][1]["image"]["source"]["s3Location"]["uri"] = (
            f"s3://{BUCKET}/{IMAGE_KEY}"
        )
        lines.append(json.dumps(record))
    s3.put_object(Bucket=BUCKET, Key=f"{DATASET_PREFIX}/test.jsonl", Body="\n".join(lines).encode())
    train = {
        "messages": [
            {"role": "user", "content": [{"text": "What is the value of bar 3?"}]},
            {"role": "assistant", "content": [{"text": "value 3"}]},
        ]
    }
    s3.put_object(
        Bucket=BUCKET, Key=f"{DATASET_PREFIX}/train.jsonl", Body=(json.dumps(train) + "\n").encode()
    )


def write_metrics(moto_url: str, sessions: sessionmaker[Session], job_id: str) -> None:
    """Bedrock's metrics files for the job, where Bedrock writes them under its output prefix."""
    with sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None and job.output_s3_uri is not None
        prefix = job.output_s3_uri.removeprefix(f"s3://{BUCKET}/").rstrip("/")
    folder = f"{prefix}/model-customization-job-abc123/training_artifacts"
    s3 = _s3(moto_url)
    s3.put_object(Bucket=BUCKET, Key=f"{folder}/step_wise_training_metrics.csv", Body=TRAINING_CSV.encode())
    s3.put_object(Bucket=BUCKET, Key=f"{folder}/validation_metrics.csv", Body=VALIDATION_CSV.encode())

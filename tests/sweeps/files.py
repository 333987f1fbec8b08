"""A prepared dataset's files in (moto's) S3, for sweep tests that add the dataset row directly."""

from __future__ import annotations

import json

from sqlalchemy.orm import Session, sessionmaker

from services.aws.clients import make_s3_client
from services.aws.s3 import split_s3_uri
from services.platform.tables import Dataset


def record(index: int, system: str | None = None) -> str:
    line: dict[str, object] = {
        "schemaVersion": "bedrock-conversation-2024",
        "messages": [
            {"role": "user", "content": [{"text": f"What is the value of bar {index}?"}]},
            {"role": "assistant", "content": [{"text": str(index * 7)}]},
        ],
    }
    if system is not None:
        line["system"] = [{"text": system}]
    return json.dumps(line)


def put_prepared_files(sessions: sessionmaker[Session], dataset_id: str, region: str = "us-west-2") -> None:
    """train/validation/test.jsonl under the dataset's S3 prefix, as many records as its report counts."""
    with sessions() as session:
        dataset = session.get(Dataset, dataset_id)
        assert dataset is not None and dataset.s3_uri is not None
        counts = (dataset.report or {})["counts"]
        bucket, prefix = split_s3_uri(dataset.s3_uri)
    s3 = make_s3_client(region, None)
    offset = 0
    for name in ("train", "validation", "test"):
        lines = [record(offset + index) for index in range(int(counts.get(name, 0)))]
        offset += len(lines)
        body = "".join(f"{line}\n" for line in lines).encode()
        s3.put_object(Bucket=bucket, Key=f"{prefix}/{name}.jsonl", Body=body)

"""Test data for the evaluation: a prepared dataset folder and the rows of a job that finished training."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.evaluation.variant import RunOptions
from services.jobs.naming import first_free
from services.platform.config import Settings
from services.platform.db import unit_of_work
from services.platform.tables import Dataset, Job, JobGroup, new_id, utcnow

SYSTEM = "You read charts. Answer concisely."
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
FINE_TUNED_MODEL_ARN = "arn:aws:bedrock:us-west-2:123456789012:custom-model/llama-tuned"
# Quick retries and flushes so tests run in milliseconds.
FAST = RunOptions(
    initial_concurrency=2,
    max_concurrency=8,
    base_delay=0.001,
    max_delay=0.01,
    flush_seconds=0.02,
    flush_size=7,
    retry_cooldown_seconds=0.0,
)
_INDEX = re.compile(r"bar (\d+)")


def question(index: int) -> str:
    return f"What is the value of bar {index}?"


def reference(index: int) -> str:
    return f"value {index}"


def chart_answers(model_id: str, question: str) -> str:
    """The stand-in's answers: the fine-tuned model (an ARN) says "value N", the base "value N exactly"."""
    match = _INDEX.search(question)
    assert match is not None
    answer = reference(int(match.group(1)))
    return answer if model_id.startswith("arn:") else f"{answer} exactly"


def held_out_record(index: int, image_sha: str = "ab12") -> dict[str, Any]:
    """A test.jsonl line as the dataset writer makes it."""
    return {
        "schemaVersion": "bedrock-conversation-2024",
        "system": [{"text": SYSTEM}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"text": question(index)},
                    {
                        "image": {
                            "format": "png",
                            "source": {"s3Location": {"uri": f"s3://b/p/images/{image_sha}.png"}},
                        }
                    },
                ],
            },
            {"role": "assistant", "content": [{"text": reference(index)}]},
        ],
        "tunebot": {
            "id": f"ex-{index:03d}",
            "source": f"data.jsonl:{index}",
            "references": [reference(index)],
        },
    }


def write_prepared_dataset(folder: Path, count: int, training_answers: list[str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "images").mkdir(exist_ok=True)
    (folder / "images" / "ab12.png").write_bytes(PNG)
    with (folder / "test.jsonl").open("w", encoding="utf-8") as handle:
        for index in range(count):
            handle.write(json.dumps(held_out_record(index)) + "\n")
    answers = training_answers if training_answers is not None else ["value 7", "value 12", "value 3"]
    with (folder / "train.jsonl").open("w", encoding="utf-8") as handle:
        for answer in answers:
            record = {
                "messages": [
                    {"role": "user", "content": [{"text": "q"}]},
                    {"role": "assistant", "content": [{"text": answer}]},
                ]
            }
            handle.write(json.dumps(record) + "\n")
    return folder


def settings_for(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(data_dir=tmp_path / "data", **overrides)


def add_dataset(sessions: sessionmaker[Session], folder: Path | None) -> str:
    with unit_of_work(sessions) as session:
        dataset = Dataset(
            name="charts",
            status="ready",
            source_uri="file://charts",
            s3_uri=None,
            report={"out_dir": str(folder)} if folder else None,
        )
        session.add(dataset)
        session.flush()
        return dataset.id


def add_group(sessions: sessionmaker[Session], dataset_id: str) -> str:
    with unit_of_work(sessions) as session:
        group = JobGroup(idempotency_key=new_id(), dataset_id=dataset_id, requested_by="U123")
        session.add(group)
        session.flush()
        return group.id


def add_job(
    sessions: sessionmaker[Session],
    dataset_id: str,
    group_id: str,
    *,
    model: str = "11b",
    status: str = "evaluating",
    output_model_arn: str | None = FINE_TUNED_MODEL_ARN,
    cost_estimate_usd: float | None = None,
    cost_estimate: dict[str, Any] | None = None,
    training_hours: float | None = None,
) -> str:
    job_id = new_id()
    now = utcnow()
    with unit_of_work(sessions) as session:
        # Names are unique (as a launch makes them): charts-11b, then charts-11b-2 …
        taken = set(session.scalars(select(Job.name)))
        session.add(
            Job(
                id=job_id,
                group_id=group_id,
                dataset_id=dataset_id,
                model=model,
                name=first_free(f"charts-{model}", taken),
                status=status,
                requested_by="U123",
                bedrock_job_name=f"tunebot-{job_id}",
                custom_model_name=f"tunebot-{job_id}",
                client_request_token=job_id,
                output_model_arn=output_model_arn,
                epochs=5,
                learning_rate=1e-5,
                recommended_epochs=5,
                recommended_learning_rate=1e-5,
                cost_estimate_usd=cost_estimate_usd,
                cost_estimate=cost_estimate,
                submitted_at=now - timedelta(hours=training_hours) if training_hours is not None else None,
                finished_at=now if training_hours is not None else None,
            )
        )
    return job_id


def evaluating_job(sessions: sessionmaker[Session], tmp_path: Path, count: int, **job: Any) -> str:
    """A job that finished training and waits for its evaluation, on a prepared dataset of ``count``."""
    folder = write_prepared_dataset(tmp_path / "prepared", count)
    dataset_id = add_dataset(sessions, folder)
    return add_job(sessions, dataset_id, add_group(sessions, dataset_id), **job)

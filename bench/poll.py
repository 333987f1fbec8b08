"""Benchmark: Bedrock calls per poll tick with 200 active jobs, tunebot vs one Get per job.

Run: `.venv/bin/python bench/poll.py [--jobs N] [--history H]`. Both approaches run in the same process
against the same moto Bedrock (in-process), and every Bedrock call is counted by a botocore event hook
on the client. The one-Get-per-job approach is what a per-job sensor does (Airflow's
BedrockCustomizeModelCompletedSensor pokes GetModelCustomizationJob for its one job).
Ticks: a quiet one (nothing changed), then one where some jobs completed, failed or stopped.
Target: at most 2 list calls per tick plus one Get per changed job. Results go to bench/results/poll.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, Final

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
from moto import mock_aws
from moto.backends import get_backend
from sqlalchemy.orm import Session, sessionmaker

from services.aws.bedrock import BedrockJobs, JobSpec
from services.aws.clients import make_bedrock_client, make_s3_client
from services.aws.s3 import JobOutputs
from services.jobs.deps import JobDeps
from services.jobs.model import JobStatus
from services.jobs.poll import poll_once
from services.platform.config import load_settings
from services.platform.db import make_engine, make_session_factory, unit_of_work
from services.platform.migrate import upgrade
from services.platform.tables import Dataset, Job, JobGroup, new_id
from services.tuning.pricing import load_prices

REGION: Final = "us-west-2"
BUCKET = "tunebot-bench"
ROLE = "arn:aws:iam::123456789012:role/TunebotBedrock"


class CallCounter:
    """Counts every Bedrock API call the client makes, by operation."""

    def __init__(self, client: Any) -> None:
        self.calls: Counter[str] = Counter()
        client.meta.events.register("before-call.bedrock", self._count)

    def _count(self, model: Any, **_kwargs: Any) -> None:
        self.calls[model.name] += 1

    def take(self) -> dict[str, int]:
        taken = dict(self.calls)
        self.calls.clear()
        return taken


def spec(job_id: str, model: str = "11b") -> JobSpec:
    return JobSpec(
        job_name=f"tunebot-{job_id}",
        custom_model_name=f"tunebot-{model}-{job_id}",
        model="11b",
        role_arn=ROLE,
        training_s3_uri=f"s3://{BUCKET}/data/train.jsonl",
        validation_s3_uri=None,
        output_s3_uri=f"s3://{BUCKET}/jobs/{job_id}/output",
        epochs=3,
        learning_rate=1e-5,
        client_request_token=job_id,
    )


def seed(sessions: sessionmaker[Session], bedrock: BedrockJobs, active: int, history: int) -> list[str]:
    """``history`` finished tunebot jobs and ``active`` training ones, on Bedrock and in the database."""
    names = []
    with unit_of_work(sessions) as session:
        dataset = Dataset(name="bench", status="ready", source_uri="s3://x", s3_uri=f"s3://{BUCKET}/data")
        session.add(dataset)
        session.flush()
        group = JobGroup(idempotency_key="bench", dataset_id=dataset.id, requested_by="UBENCH")
        session.add(group)
        session.flush()
        for index in range(history + active):
            job_id = new_id()
            bedrock.create_job(spec(job_id))
            training = index >= history
            session.add(
                Job(
                    id=job_id, group_id=group.id, dataset_id=dataset.id, model="11b", name=f"bench-{index}",
                    status=JobStatus.TRAINING if training else JobStatus.DONE,
                    requested_by="UBENCH", evaluate=False,
                    bedrock_job_name=f"tunebot-{job_id}", custom_model_name=f"tunebot-11b-{job_id}",
                    client_request_token=job_id, bedrock_status="InProgress" if training else "Completed",
                    output_s3_uri=f"s3://{BUCKET}/jobs/{job_id}/output", epochs=3, learning_rate=1e-5,
                    recommended_epochs=3, recommended_learning_rate=1e-5,
                )
            )  # fmt: skip
            if training:
                names.append(f"tunebot-{job_id}")
            else:
                moto_jobs()[f"tunebot-{job_id}"].status = "Completed"
    return names


def moto_jobs() -> dict[str, Any]:
    jobs: dict[str, Any] = get_backend("bedrock")["123456789012"][REGION].model_customization_jobs
    return jobs


def one_get_per_job(client: Any, names: list[str]) -> dict[str, str]:
    return {name: client.get_model_customization_job(jobIdentifier=name)["status"] for name in names}


def tick(label: str, deps: JobDeps, client: Any, counter: CallCounter, names: list[str]) -> dict[str, Any]:
    started = time.perf_counter()
    report = poll_once(deps)
    tunebot_seconds = time.perf_counter() - started
    tunebot_calls = counter.take()
    started = time.perf_counter()
    one_get_per_job(client, names)
    naive_seconds = time.perf_counter() - started
    naive_calls = counter.take()
    lists = tunebot_calls.get("ListModelCustomizationJobs", 0)
    gets = tunebot_calls.get("GetModelCustomizationJob", 0)
    return {
        "tick": label,
        "changed_jobs": len(report.changed),
        "tunebot_calls": tunebot_calls,
        "tunebot_total_calls": sum(tunebot_calls.values()),
        "tunebot_seconds": round(tunebot_seconds, 4),
        "one_get_per_job_calls": naive_calls,
        "one_get_per_job_total_calls": sum(naive_calls.values()),
        "one_get_per_job_seconds": round(naive_seconds, 4),
        "meets_target": lists <= 2 and gets == len(report.changed),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200, help="active jobs")
    parser.add_argument("--history", type=int, default=300, help="finished tunebot jobs also on Bedrock")
    arguments = parser.parse_args()
    for name, value in {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        os.environ.setdefault(name, value)
    with tempfile.TemporaryDirectory() as scratch, mock_aws():
        s3 = make_s3_client(REGION, None)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        engine = make_engine(f"sqlite:///{scratch}/bench.db")
        upgrade(engine)
        sessions = make_session_factory(engine)
        client = make_bedrock_client(REGION, None)
        bedrock = BedrockJobs(client)
        names = seed(sessions, bedrock, arguments.jobs, arguments.history)
        settings = load_settings(
            s3_uri=f"s3://{BUCKET}/tunebot", role_arn=ROLE, data_dir=Path(scratch) / "data", backend="bedrock"
        )
        deps = JobDeps(sessions, bedrock, JobOutputs(s3), settings, load_prices(), owner="bench")
        counter = CallCounter(client)

        ticks = [tick("quiet", deps, client, counter, names)]
        for name in names[:5]:
            moto_jobs()[name].status = "Completed"
        for name in names[5:8]:
            moto_jobs()[name].status = "Failed"
        for name in names[8:10]:
            moto_jobs()[name].status = "Stopped"
        ticks.append(tick("10 changed", deps, client, counter, names))
        engine.dispose()

    result = {
        "benchmark": "Bedrock calls per poll tick: tunebot (list pages + Get on change) vs one Get per job",
        "active_jobs": arguments.jobs,
        "finished_jobs_on_bedrock": arguments.history,
        "target": "at most 2 ListModelCustomizationJobs calls plus one Get per changed job",
        "ticks": ticks,
        "machine": common.machine(),
    }
    print(f"wrote {common.write_results('poll', result)}", file=sys.stderr)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""A Provisioned Throughput that never becomes InService ends the evaluation at its bound
(TUNEBOT_EVAL_MAX_HOURS from its start), not after the longer throughput wait: the job fails with a
reason a user understands and the throughput is deleted."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.aws.throughput import ThroughputNotReady
from services.evaluation.runner import evaluate_job
from services.platform.tables import Event, Job
from tests.evaluation.factories import FAST, chart_answers, evaluating_job, settings_for
from tests.evaluation.fake_bedrock import FakeBedrock


@dataclass
class NeverReady(FakeBedrock):
    """Bedrock keeps the throughput Creating: each wait runs out as the real adapter's does."""

    def wait_in_service(self, arn: str, timeout: float) -> None:
        time.sleep(min(timeout, 0.05))
        raise ThroughputNotReady(
            "Timeout", f"still Creating after {timeout:.0f} s", "GetProvisionedModelThroughput"
        )


def test_a_throughput_that_never_comes_up_fails_the_job_at_the_evaluations_deadline(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    job_id = evaluating_job(sessions, tmp_path, 4)
    fake = NeverReady(chart_answers)
    # The throughput wait (an hour) is far longer than what is left of the evaluation's bound.
    options = replace(
        FAST, lease_seconds=3.0, throughput_wait_seconds=3600.0, deadline=time.monotonic() + 1.0
    )

    result = evaluate_job(
        sessions, settings_for(tmp_path), job_id, inference_factory=lambda _: fake, options=options
    )

    assert result is None
    assert fake.created and fake.deleted == fake.created and not fake.throughputs
    with sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        failed = list(session.scalars(select(Event).where(Event.type == "evaluation.failed")))
    assert job.status == "failed"
    assert (job.failure_message or "").startswith(
        "evaluation failed: its Provisioned Throughput never became ready (still Creating after"
    )
    assert "within TUNEBOT_EVAL_MAX_HOURS" in (job.failure_message or "")
    assert len(failed) == 1 and "Provisioned Throughput was deleted" in failed[0].payload["message"]


def test_without_a_deadline_a_throughput_wait_that_runs_out_is_retried_later(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    job_id = evaluating_job(sessions, tmp_path, 4)
    fake = NeverReady(chart_answers)
    options = replace(FAST, lease_seconds=3.0, throughput_wait_seconds=1.0)

    assert (
        evaluate_job(
            sessions, settings_for(tmp_path), job_id, inference_factory=lambda _: fake, options=options
        )
        is None
    )

    assert fake.deleted == fake.created
    with sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None and job.status == "evaluating"  # kept for the next try after the cool-down

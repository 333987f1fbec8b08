"""Evaluations on the real (non-sandbox) path: the service's Bedrock backend against the proxy, which
stands in for Provisioned Throughput and Converse (tests.faults.bedrock_standin) as Bedrock answers them.

Killed with SIGKILL while a fine-tuned answer is in flight, the service leaves its Provisioned Throughput
running; the runner that resumes (the restarted process, or the other replica) adopts it by name, skips the
answers stored, scores the job once and deletes the throughput. A throughput that never becomes InService
ends the evaluation at TUNEBOT_EVAL_MAX_HOURS with a reason the requester understands, and is deleted.
Counted: Provisioned Throughputs left 0, ``job.completed`` once per job, nothing non-final.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.evaluation.model import EvaluationStatus
from services.jobs.model import FINAL, JobStatus
from services.platform.tables import Evaluation
from tests.faults.harness import (
    BOUND_SECONDS,
    Counts,
    Replica,
    check,
    complete_on_bedrock,
    count,
    events_of,
    holder_of,
    jobs_in,
    jobs_summary,
    lease_holder,
    status_of,
    wait_until,
)
from tests.faults.proxy import FaultProxy, Rule
from tests.faults.s3_files import upload_test_set
from tests.jobs.conftest import add_dataset

EXAMPLES = 8
# TUNEBOT_EVAL_MAX_HOURS for the throughput that never comes up: 36 s, so the scenario ends in a minute
SHORT_EVAL_HOURS = "0.01"


def launch_evaluated(replica: Replica, sessions: sessionmaker[Session], moto_url: str, key: str) -> str:
    """A job that evaluates on a test set of EXAMPLES, trained on Bedrock (moto) at once; its id."""
    upload_test_set(moto_url, EXAMPLES)
    answer = replica.launch(add_dataset(sessions), key, evaluate=True)
    assert answer.status_code == 201, answer.text
    assert complete_on_bedrock() == 1
    return str(answer.json()["jobs"][0]["id"])


def evaluations(sessions: sessionmaker[Session], job_id: str) -> dict[str, Evaluation]:
    with sessions() as session:
        rows = session.scalars(select(Evaluation).where(Evaluation.job_id == job_id))
        return {row.variant: row for row in rows}


def completed_per_job(sessions: sessionmaker[Session]) -> dict[str, int]:
    counted: dict[str, int] = {}
    for event in events_of(sessions, "evaluation.completed"):
        counted[event.subject_id] = counted.get(event.subject_id, 0) + 1
    return counted


def final(sessions: sessionmaker[Session], job_id: str) -> bool:
    return status_of(sessions, job_id) in FINAL


def test_killed_during_an_evaluation(
    replicas: list[Replica],
    proxy: FaultProxy,
    moto_url: str,
    sessions: sessionmaker[Session],
    record_counts: list[Counts],
) -> None:
    assert proxy.bedrock is not None
    # The first fine-tuned answer is held in flight (its model id is the throughput's ARN).
    held = proxy.add(Rule("Converse", hold="before", path_contains=":provisioned-model/"))
    job_id = launch_evaluated(replicas[0], sessions, moto_url, "eval-kill")
    assert held.arrived.wait(BOUND_SECONDS), f"{jobs_summary(sessions)}\n{replicas[0].tail()}"
    assert status_of(sessions, job_id) == JobStatus.EVALUATING
    victim = holder_of(replicas, lease_holder(sessions, "evaluate"))
    victim.kill()
    killed = time.monotonic()
    held.release.set()
    assert proxy.bedrock.left() == 1, "a killed runner cannot delete its throughput"
    assert evaluations(sessions, job_id)["base"].status == EvaluationStatus.DONE
    victim.start()

    wait_until(
        lambda: final(sessions, job_id), BOUND_SECONDS, lambda: f"{jobs_summary(sessions)}\n{victim.tail()}"
    )
    resumed = time.monotonic() - killed
    # The runner deletes its throughput as it finishes; the proxy sees the delete a moment after the commit.
    wait_until(lambda: proxy.bedrock is not None and proxy.bedrock.left() == 0, 30, victim.tail)

    counts = count(sessions, f"kill during an evaluation ({len(replicas)} replicas)")
    counts.takeover_seconds = resumed
    counts.throughputs_left = proxy.bedrock.left()
    counts.evaluations_completed_per_job = completed_per_job(sessions)
    record_counts.append(counts)
    check(counts, 1)
    assert counts.statuses == {JobStatus.DONE: 1}, counts.line()
    assert counts.evaluations_completed_per_job == {job_id: 2}, "one evaluation.completed per variant"
    assert proxy.bedrock.created == 1, "the resumed run adopted the throughput rather than paying for two"
    rows = evaluations(sessions, job_id)
    # The stand-in's base model answers "value N exactly" (F1 80), the fine-tuned one "value N" (F1 100).
    assert (rows["base"].f1, rows["fine_tuned"].f1) == (pytest.approx(80.0), pytest.approx(100.0))
    assert (rows["base"].count, rows["fine_tuned"].count) == (EXAMPLES, EXAMPLES)
    assert rows["fine_tuned"].missing == 0
    answered = proxy.bedrock.conversations
    assert answered.count("us.meta.llama3-2-11b-instruct-v1:0") == EXAMPLES, "no base answer asked twice"


@pytest.mark.parametrize("service_settings", [{"TUNEBOT_EVAL_MAX_HOURS": SHORT_EVAL_HOURS}], ids=["36s"])
def test_a_throughput_that_never_becomes_in_service_ends_the_evaluation_within_its_bound(
    replicas: list[Replica],
    proxy: FaultProxy,
    moto_url: str,
    sessions: sessionmaker[Session],
    record_counts: list[Counts],
) -> None:
    assert proxy.bedrock is not None
    proxy.bedrock.ready_after = None  # Bedrock keeps it Creating
    job_id = launch_evaluated(replicas[0], sessions, moto_url, "never-ready")
    wait_until(
        lambda: final(sessions, job_id),
        BOUND_SECONDS,
        lambda: f"{jobs_summary(sessions)}\n{replicas[0].tail()}",
    )
    wait_until(lambda: proxy.bedrock is not None and proxy.bedrock.left() == 0, 30, replicas[0].tail)

    counts = count(sessions, f"throughput never InService ({len(replicas)} replicas)")
    counts.throughputs_left = proxy.bedrock.left()
    record_counts.append(counts)
    assert counts.statuses == {JobStatus.FAILED: 1} and counts.non_final == 0, counts.line()
    assert proxy.bedrock.created >= 1
    [job] = jobs_in(sessions)
    assert (job.failure_message or "").startswith(
        "evaluation failed: its Provisioned Throughput never became ready (still Creating"
    ), job.failure_message
    assert "within TUNEBOT_EVAL_MAX_HOURS" in (job.failure_message or "")
    rows = evaluations(sessions, job_id)
    started = min(row.started_at for row in rows.values() if row.started_at is not None)
    ended = rows["fine_tuned"].finished_at
    assert ended is not None
    counts.scenario += (
        f"; failed {(ended - started).total_seconds():.0f} s after the evaluation started"
        f" (bound {float(SHORT_EVAL_HOURS) * 3600:.0f} s)"
    )
    [failed] = events_of(sessions, "evaluation.failed")
    assert "Provisioned Throughput was deleted" in failed.payload["message"]
    scored = [event.payload["variant"] for event in events_of(sessions, "evaluation.completed")]
    assert scored == ["base"], "the base model was scored; the fine-tuned model never could be"

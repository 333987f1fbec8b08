"""SIGKILL at each step of a job's way through the service, restart, and count: one Bedrock job per
requested model, one ``job.completed`` per job, nothing left in a non-final state.

On PostgreSQL two replicas run; the one doing the step (the holder of its lease) is the one killed, and
the other takes over while it restarts.
"""

from __future__ import annotations

import contextlib
import threading
import time

import httpx
from sqlalchemy.orm import Session, sessionmaker

from services.jobs.model import JobStatus
from tests.faults.harness import (
    BOUND_SECONDS,
    Counts,
    Replica,
    check,
    complete_on_bedrock,
    count,
    finish,
    holder_of,
    jobs_in,
    lease_holder,
    wait_until,
)
from tests.faults.proxy import FaultProxy, Rule
from tests.jobs.conftest import moto_jobs


def test_killed_right_after_the_launch_answer(
    replicas: list[Replica], sessions: sessionmaker[Session], dataset: str, record_counts: list[Counts]
) -> None:
    answer = replicas[0].launch(dataset, "after-answer", ("11b", "90b"))
    assert answer.status_code == 201, answer.text
    replicas[0].kill()
    killed = time.monotonic()
    replicas[0].start()
    finish(sessions, replicas)

    counts = count(sessions, f"kill after the launch answer ({len(replicas)} replicas)")
    counts.takeover_seconds = time.monotonic() - killed
    record_counts.append(counts)
    check(counts, 2)
    again = replicas[-1].launch(dataset, "after-answer", ("11b", "90b"))
    assert again.status_code == 200 and again.json()["group_id"] == answer.json()["group_id"]


def _kill_during_create(
    hold: str,
    replicas: list[Replica],
    proxy: FaultProxy,
    sessions: sessionmaker[Session],
    dataset: str,
    record_counts: list[Counts],
    scenario: str,
) -> None:
    rule = proxy.add(Rule("CreateModelCustomizationJob", hold=hold))  # type: ignore[arg-type]
    launcher = threading.Thread(target=lambda: _launch_ignoring_the_kill(replicas[0], dataset, hold))
    launcher.start()
    assert rule.arrived.wait(60), replicas[0].tail()
    victim = holder_of(replicas, lease_holder(sessions, "submit"))
    victim.kill()
    killed = time.monotonic()
    rule.release.set()
    launcher.join(60)
    [job] = jobs_in(sessions)
    assert job.status == JobStatus.SUBMITTING, "killed with the create call in flight"
    assert len(moto_jobs()) == (1 if hold == "after" else 0)
    victim.start()

    wait_until(lambda: jobs_in(sessions)[0].status != JobStatus.SUBMITTING, BOUND_SECONDS, victim.tail)
    moved_on = time.monotonic() - killed
    retried = replicas[-1].launch(dataset, hold)  # the caller's retry, with the same key
    assert retried.status_code == 200, retried.text
    finish(sessions, replicas)

    counts = count(sessions, f"{scenario} ({len(replicas)} replicas)")
    counts.takeover_seconds = moved_on
    record_counts.append(counts)
    check(counts, 1)


def _launch_ignoring_the_kill(replica: Replica, dataset: str, key: str) -> None:
    with contextlib.suppress(httpx.HTTPError):  # its replica was killed: the caller retries with the key
        replica.launch(dataset, key)


def test_killed_during_the_create_call_before_bedrock_has_it(
    replicas: list[Replica],
    proxy: FaultProxy,
    sessions: sessionmaker[Session],
    dataset: str,
    record_counts: list[Counts],
) -> None:
    _kill_during_create(
        "before", replicas, proxy, sessions, dataset, record_counts, "kill during the create call"
    )


def test_killed_between_bedrocks_create_and_the_commit(
    replicas: list[Replica],
    proxy: FaultProxy,
    sessions: sessionmaker[Session],
    dataset: str,
    record_counts: list[Counts],
) -> None:
    _kill_during_create(
        "after", replicas, proxy, sessions, dataset, record_counts, "kill between create and commit"
    )


def test_killed_during_a_poll(
    replicas: list[Replica],
    proxy: FaultProxy,
    sessions: sessionmaker[Session],
    dataset: str,
    record_counts: list[Counts],
) -> None:
    answer = replicas[0].launch(dataset, "poll")
    assert answer.status_code == 201, answer.text
    rule = proxy.add(Rule("GetModelCustomizationJob", hold="after"))
    assert complete_on_bedrock() == 1  # the next poll sees the change and Gets the job
    assert rule.arrived.wait(60), replicas[0].tail()
    victim = holder_of(replicas, lease_holder(sessions, "poll"))
    victim.kill()
    killed = time.monotonic()
    rule.release.set()
    assert jobs_in(sessions)[0].status == JobStatus.TRAINING
    victim.start()
    finish(sessions, replicas)

    counts = count(sessions, f"kill during a poll ({len(replicas)} replicas)")
    counts.takeover_seconds = time.monotonic() - killed
    record_counts.append(counts)
    check(counts, 1)

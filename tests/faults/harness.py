"""The fault suite's parts: `tunebot serve` as real processes that the suite kills with SIGKILL, the
scenarios' shared steps, and the counts that must hold afterwards. The proxy in front of moto that
injects Bedrock's errors is tests.faults.proxy.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from services.jobs.model import FINAL, JobStatus
from services.platform.tables import Event, Job, Lease
from tests.conftest import TUNEBOT_BIN, free_port
from tests.jobs.conftest import BUCKET, ROLE_ARN, moto_jobs
from tests.slack_stub import SlackStub

TOKEN = "fault-suite-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
POLL_SECONDS = 5  # the shortest TUNEBOT_POLL_SECONDS allows
UNREADABLE_SECONDS = 10  # the shortest TUNEBOT_STATUS_UNREADABLE_SECONDS allows
CHANNEL = "C1"  # where the scenarios with Slack launch
BOUND_SECONDS = 120  # a scenario's own ceiling on recovery; the figures printed are what it took


def wait_until(condition: Callable[[], Any], seconds: float, explain: Callable[[], str] = str) -> float:
    """Wait for ``condition``; return how long it took. Fails with ``explain()`` after ``seconds``."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < seconds, explain()
        time.sleep(0.2)
    return time.monotonic() - start


class Replica:
    """One `tunebot serve --role service` process (``role="all"``: with the Slack bot in it), startable again
    after SIGKILL on the same port."""

    def __init__(self, env: dict[str, str], log: Path, role: str = "service") -> None:
        self.env = env
        self.log = log
        self.role = role
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> Replica:
        self.starts += 1
        with self.log.open("a") as sink:
            sink.write(f"\n=== start {self.starts}\n")
            sink.flush()
            self.process = subprocess.Popen(
                [TUNEBOT_BIN, "serve", "--role", self.role, "--port", str(self.port)],
                env={**os.environ, "TUNEBOT_SERVICE_URL": self.base, **self.env},
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        wait_until(self.ready, 180, self.tail)  # a ceiling: a loaded 2-core machine starts slowly
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def ready(self) -> bool:
        assert self.process is not None
        assert self.process.poll() is None, self.tail()
        try:
            return httpx.get(self.base + "/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, no lease is handed back."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def tail(self) -> str:
        return self.log.read_text()[-3000:] if self.log.exists() else "(no log)"

    def launch(
        self, dataset_id: str, key: str, models: tuple[str, ...] = ("11b",), **extra: str | bool
    ) -> httpx.Response:
        body: dict[str, object] = {
            "dataset_id": dataset_id,
            "models": list(models),
            "requested_by": "U1",
            "evaluate": False,
        }
        body.update(extra)
        return httpx.post(
            self.base + "/api/v1/jobs", json=body, headers={**AUTH, "Idempotency-Key": key}, timeout=60
        )


def service_env(database_url: str, data_dir: Path, endpoint: str, **extra: str) -> dict[str, str]:
    return {
        "TUNEBOT_DATABASE_URL": database_url,
        "TUNEBOT_API_TOKEN": TOKEN,
        "TUNEBOT_BACKEND": "bedrock",
        "TUNEBOT_S3_URI": f"s3://{BUCKET}/tunebot",
        "TUNEBOT_ROLE_ARN": ROLE_ARN,
        "TUNEBOT_DATA_DIR": str(data_dir),
        "TUNEBOT_POLL_SECONDS": str(POLL_SECONDS),
        "TUNEBOT_STATUS_UNREADABLE_SECONDS": str(UNREADABLE_SECONDS),
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-west-2",
        **extra,
    }


def lease_holder(sessions: sessionmaker[Session], name: str) -> int | None:
    """The pid of the replica holding the lease ``name`` (owners are host:pid:suffix)."""
    with sessions() as session:
        lease = session.get(Lease, name)
        return int(lease.owner.split(":")[1]) if lease is not None else None


def bedrock_jobs_by_row() -> Counter[str]:
    """How many Bedrock (moto) jobs carry each tunebot job id in their tags."""
    counts: Counter[str] = Counter()
    for job in moto_jobs().values():
        tags = {tag["key"]: tag["value"] for tag in job.job_tags or []}
        counts[tags.get("tunebot-job", "?")] += 1
    return counts


def complete_on_bedrock() -> int:
    """Bedrock finishes every running job (moto's never finish on their own)."""
    finished = 0
    for job in moto_jobs().values():
        if job.status == "InProgress":
            job.status = "Completed"
            finished += 1
    return finished


@dataclass
class Counts:
    """What must hold after every fault: the figures the suite prints."""

    scenario: str
    jobs: int
    bedrock_jobs_per_job: dict[str, int]
    completed_events_per_job: dict[str, int]
    non_final: int
    statuses: dict[str, int]
    takeover_seconds: float | None = None
    # event id -> accepted Slack posts carrying it in their metadata (scenarios with Slack delivery)
    slack_posts_per_event: dict[str, int] = field(default_factory=dict)
    throughputs_left: int | None = None  # Provisioned Throughputs still there (scenarios with evaluations)
    # job id -> evaluation.completed events, one per variant (base, fine-tuned) (scenarios with evaluations)
    evaluations_completed_per_job: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        per_job = sorted(set(self.bedrock_jobs_per_job.values())) or [0]
        completed = sorted(set(self.completed_events_per_job.values())) or [0]
        takeover = f" takeover={self.takeover_seconds:.1f}s" if self.takeover_seconds is not None else ""
        slack = (
            f" slack_posts_per_event={sorted(set(self.slack_posts_per_event.values()))}"
            f" events_posted={len(self.slack_posts_per_event)}"
            if self.slack_posts_per_event
            else ""
        )
        return (
            f"{self.scenario}: jobs={self.jobs} bedrock_jobs_per_job={per_job} "
            f"job.completed_per_done_job={completed} non_final={self.non_final} "
            f"statuses={dict(sorted(self.statuses.items()))}{takeover}{slack}"
            + (f" throughputs_left={self.throughputs_left}" if self.throughputs_left is not None else "")
            + (
                f" evaluation.completed_per_job={sorted(set(self.evaluations_completed_per_job.values()))}"
                if self.evaluations_completed_per_job
                else ""
            )
        )


def count(sessions: sessionmaker[Session], scenario: str) -> Counts:
    with sessions() as session:
        rows = list(session.scalars(select(Job)))
        completed = dict(
            session.execute(
                select(Event.subject_id, func.count())
                .where(Event.type == "job.completed")
                .group_by(Event.subject_id)
            ).all()
        )
    on_bedrock = bedrock_jobs_by_row()
    done = [job.id for job in rows if job.status == JobStatus.DONE]
    return Counts(
        scenario=scenario,
        jobs=len(rows),
        bedrock_jobs_per_job={job.id: on_bedrock.get(job.id, 0) for job in rows if job.bedrock_job_arn},
        completed_events_per_job={job_id: int(completed.get(job_id, 0)) for job_id in done},
        non_final=sum(1 for job in rows if job.status not in FINAL),
        statuses=dict(Counter(job.status for job in rows)),
    )


def all_final(sessions: sessionmaker[Session]) -> bool:
    with sessions() as session:
        statuses = session.scalars(select(Job.status)).all()
    return bool(statuses) and all(status in FINAL for status in statuses)


def events_of(sessions: sessionmaker[Session], type_: str) -> list[Event]:
    with sessions() as session:
        return list(session.scalars(select(Event).where(Event.type == type_).order_by(Event.id)))


def jobs_in(sessions: sessionmaker[Session]) -> list[Job]:
    with sessions() as session:
        return list(session.scalars(select(Job).order_by(Job.created_at, Job.id)))


def shutdown(replicas: Iterator[Replica] | list[Replica]) -> None:
    for replica in replicas:
        replica.stop()


# --- the scenarios' shared steps ----------------------------------------------------------------------


def finish(sessions: sessionmaker[Session], replicas: list[Replica]) -> None:
    """Bedrock finishes whatever runs, until every job is final."""

    def settled() -> bool:
        complete_on_bedrock()
        return all_final(sessions)

    wait_until(settled, BOUND_SECONDS, lambda: f"{jobs_summary(sessions)}\n{replicas[0].tail()}")


def jobs_summary(sessions: sessionmaker[Session]) -> str:
    return ", ".join(f"{job.name}:{job.status}" for job in jobs_in(sessions))


def status_of(sessions: sessionmaker[Session], job_id: str) -> str:
    return next(job.status for job in jobs_in(sessions) if job.id == job_id)


def holder_of(replicas: list[Replica], pid: int | None) -> Replica:
    """The replica whose process is ``pid`` (a lease holder)."""
    matching = [replica for replica in replicas if replica.pid == pid]
    assert matching, f"no replica has pid {pid}"
    return matching[0]


def check(counts: Counts, models: int) -> None:
    """One Bedrock job and one ``job.completed`` per requested model, nothing left non-final."""
    assert counts.jobs == models
    assert list(counts.bedrock_jobs_per_job.values()) == [1] * models, counts.line()
    assert list(counts.completed_events_per_job.values()) == [1] * models, counts.line()
    assert counts.non_final == 0, counts.line()
    assert len(moto_jobs()) == models


# --- Slack ------------------------------------------------------------------------------------------


def events_of_launch(sessions: sessionmaker[Session]) -> list[Event]:
    with sessions() as session:
        return list(session.scalars(select(Event).where(Event.type.like("job.%")).order_by(Event.id)))


def consumer_pid(sessions: sessionmaker[Session]) -> int:
    """The process of the bot holding the launch's first unacknowledged events (consumer slack:host:pid)."""
    pending = [event for event in events_of_launch(sessions) if event.acked_at is None and event.leased_by]
    assert pending, "no event is leased"
    return int(str(pending[0].leased_by).split(":")[2])


def posts_per_event(stub: SlackStub) -> Counter[str]:
    """Accepted posts by the event id their metadata carries."""
    return Counter(
        str(call.params["metadata"]["event_payload"]["event_id"])
        for call in stub.accepted("chat.postMessage")
        if (call.params.get("metadata") or {}).get("event_type") == "tunebot_event"
    )


def cards(stub: SlackStub) -> list[str]:
    return [m.ts for m in stub.channel_messages(CHANNEL) if m.thread_ts is None]


def posts_in_order(stub: SlackStub) -> bool:
    """Whether every thread's posts came in event order (the event ids in their metadata rise)."""
    threads: dict[str, list[int]] = {}
    for call in stub.accepted("chat.postMessage"):
        metadata = call.params.get("metadata") or {}
        if metadata.get("event_type") == "tunebot_event":
            threads.setdefault(str(call.params.get("thread_ts")), []).append(
                int(metadata["event_payload"]["event_id"])
            )
    return all(ids == sorted(ids) for ids in threads.values())

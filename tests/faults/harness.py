"""The fault suite's parts: a moto server on loopback, a small proxy in front of it that injects Bedrock's
errors or holds a call in flight, `tunebot serve --role service` as real processes that the suite kills
with SIGKILL, and the counts that must hold afterwards.

Bedrock's error answers are shaped as Bedrock sends them (REST-JSON: the HTTP status, an
``x-amzn-ErrorType`` header naming the exception, a ``{"message": ...}`` body), with the statuses of its
API reference: ThrottlingException 429, InternalServerException 500, ServiceUnavailableException 503,
ServiceQuotaExceededException 400, ValidationException 400, AccessDeniedException 403,
ResourceNotFoundException 404 (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_CreateModelCustomizationJob.html,
https://docs.aws.amazon.com/bedrock/latest/APIReference/CommonErrors.html).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from services.jobs.model import FINAL, JobStatus
from services.platform.tables import Event, Job, Lease
from tests.conftest import TUNEBOT_BIN, free_port
from tests.jobs.conftest import BUCKET, ROLE_ARN, moto_jobs

TOKEN = "fault-suite-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
POLL_SECONDS = 5  # the shortest TUNEBOT_POLL_SECONDS allows
UNREADABLE_SECONDS = 10  # the shortest TUNEBOT_STATUS_UNREADABLE_SECONDS allows
# (status, x-amzn-ErrorType) of each injected Bedrock error, from Bedrock's API reference (module docstring)
ERRORS = {
    "throttling": (429, "ThrottlingException"),
    "5xx": (503, "ServiceUnavailableException"),
    "internal": (500, "InternalServerException"),
    "quota": (400, "ServiceQuotaExceededException"),
    "validation": (400, "ValidationException"),
    "access": (403, "AccessDeniedException"),
}
_JOB_PATH = re.compile(r"^/model-customization-jobs(?:/(?P<name>[^/?]+))?(?P<stop>/stop)?(?:\?.*)?$")


def bedrock_operation(method: str, path: str, authorization: str) -> str | None:
    """The Bedrock control-plane operation of a request (REST paths of Bedrock's API), or None."""
    if "/bedrock/" not in authorization:
        return None  # S3 and others pass straight through
    match = _JOB_PATH.match(path)
    if match is None:
        return None
    if match["stop"]:
        return "StopModelCustomizationJob"
    if match["name"]:
        return "GetModelCustomizationJob"
    return "CreateModelCustomizationJob" if method == "POST" else "ListModelCustomizationJobs"


@dataclass
class Rule:
    """What the proxy does to the next ``times`` calls of ``operation`` (-1: every call)."""

    operation: str
    error: str | None = None  # a key of ERRORS
    hold: Literal["before", "after"] | None = None  # hold the call before / after moto saw it
    times: int = 1
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    hits: int = 0


class FaultProxy:
    """A loopback HTTP proxy in front of moto: the service's AWS_ENDPOINT_URL."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.removeprefix("http://")
        self.rules: list[Rule] = []
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: Any) -> None:
                pass

            def _any(self) -> None:
                proxy.handle(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any

        self._server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def add(self, rule: Rule) -> Rule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            for rule in self.rules:
                rule.release.set()
            self.rules.clear()

    def close(self) -> None:
        self.clear()
        self._server.shutdown()
        self._server.server_close()

    def _rule_for(self, operation: str | None) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if rule.operation == operation and rule.times != 0:
                    rule.times -= 1 if rule.times > 0 else 0
                    rule.hits += 1
                    return rule
        return None

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        operation = bedrock_operation(request.command, request.path, request.headers.get("Authorization", ""))
        if operation:
            self.calls[operation] += 1
        rule = self._rule_for(operation)
        if rule is not None and rule.error is not None:
            status, code = ERRORS[rule.error]
            self._reply(
                request,
                status,
                {"x-amzn-ErrorType": code},
                json.dumps({"message": f"{code} (injected)"}).encode(),
            )
            return
        if rule is not None and rule.hold == "before":
            rule.arrived.set()
            rule.release.wait(120)
            request.close_connection = True  # the caller is gone: answer nothing
            return
        status, headers, payload = self._forward(request, body)
        if rule is not None and rule.hold == "after":
            rule.arrived.set()  # moto has done it; the answer never reaches the caller
            rule.release.wait(120)
            request.close_connection = True
            return
        self._reply(request, status, headers, payload)

    def _forward(self, request: BaseHTTPRequestHandler, body: bytes) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection(self.upstream, timeout=60)
        headers = {key: value for key, value in request.headers.items() if key.lower() != "host"}
        headers["Host"] = self.upstream
        connection.request(request.command, request.path, body=body, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        kept = {
            key: value
            for key, value in response.getheaders()
            if key.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date")
        }
        connection.close()
        return response.status, kept, payload

    @staticmethod
    def _reply(request: BaseHTTPRequestHandler, status: int, headers: dict[str, str], payload: bytes) -> None:
        request.send_response(status)
        for key, value in headers.items():
            request.send_header(key, value)
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(payload)


def wait_until(condition: Callable[[], Any], seconds: float, explain: Callable[[], str] = str) -> float:
    """Wait for ``condition``; return how long it took. Fails with ``explain()`` after ``seconds``."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < seconds, explain()
        time.sleep(0.2)
    return time.monotonic() - start


class Replica:
    """One `tunebot serve --role service` process, startable again after SIGKILL on the same port."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
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
                [TUNEBOT_BIN, "serve", "--role", "service", "--port", str(self.port)],
                env={**os.environ, **self.env},
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        wait_until(self.ready, 90, self.tail)
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

    def launch(self, dataset_id: str, key: str, models: tuple[str, ...] = ("11b",)) -> httpx.Response:
        body = {"dataset_id": dataset_id, "models": list(models), "requested_by": "U1", "evaluate": False}
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

    def line(self) -> str:
        per_job = sorted(set(self.bedrock_jobs_per_job.values())) or [0]
        completed = sorted(set(self.completed_events_per_job.values())) or [0]
        takeover = f" takeover={self.takeover_seconds:.1f}s" if self.takeover_seconds is not None else ""
        return (
            f"{self.scenario}: jobs={self.jobs} bedrock_jobs_per_job={per_job} "
            f"job.completed_per_done_job={completed} non_final={self.non_final} "
            f"statuses={dict(sorted(self.statuses.items()))}{takeover}"
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

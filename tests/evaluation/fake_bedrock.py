"""A local stand-in for bedrock-runtime and the Provisioned Throughput calls, at the inference seam.

It implements ``services.evaluation.inference.Inference``: answers come from a function of the model
and the question, throttling from a rule the test sets, and throughputs live in a dict so a test can
see what was created and what was deleted. Every attempt and every answered call is counted.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from services.aws.errors import AwsError, Throttled
from services.evaluation.inference import JOB_TAG, OWNER_TAG, OWNER_VALUE, OwnedThroughput, Reply
from services.platform.tables import utcnow

Answerer = Callable[[str, str], str]


@dataclass
class Call:
    model_id: str
    system: str | None
    question: str
    image: bytes | None
    image_format: str | None
    max_tokens: int


@dataclass
class StoredThroughput:
    arn: str
    name: str
    model_arn: str
    tags: dict[str, str]
    created_at: datetime
    status: str = "Creating"


@dataclass
class FakeBedrock:
    answer: Answerer
    latency: float = 0.0
    # Called with (attempt number, requests in flight including this one): True means throttle it.
    throttle: Callable[[int, int], bool] | None = None
    # Raise this from the given attempt number on (a crash, an access error ...).
    fail_from_attempt: int | None = None
    failure: BaseException = field(default_factory=lambda: RuntimeError("simulated crash"))
    fail_models: tuple[str, ...] = ()  # only calls to models starting with one of these fail (empty: any)
    delete_fails: bool = False
    input_tokens: int = 100
    output_tokens: int = 5

    attempts: int = 0
    answered: Counter[tuple[str, str]] = field(default_factory=Counter)
    calls: list[Call] = field(default_factory=list)
    throttled: int = 0
    max_in_flight: int = 0
    throughputs: dict[str, StoredThroughput] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    _in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def converse(
        self,
        model_id: str,
        system: str | None,
        question: str,
        image_bytes: bytes | None,
        image_format: str | None,
        *,
        max_tokens: int = 512,
    ) -> Reply:
        with self._lock:
            self.attempts += 1
            attempt = self.attempts
            self._in_flight += 1
            in_flight = self._in_flight
            self.max_in_flight = max(self.max_in_flight, in_flight)
        try:
            if model_id.startswith("arn:") and self.throughputs.get(model_id, None) is None:
                raise AwsError("ResourceNotFoundException", "no such provisioned model", "Converse")
            failing = not self.fail_models or model_id.startswith(self.fail_models)
            if self.fail_from_attempt is not None and attempt >= self.fail_from_attempt and failing:
                raise self.failure
            if self.throttle is not None and self.throttle(attempt, in_flight):
                with self._lock:
                    self.throttled += 1
                raise Throttled("ThrottlingException", "Too many requests, please wait", "Converse")
            if self.latency:
                time.sleep(self.latency)
            text = self.answer(model_id, question)
            with self._lock:
                self.answered[(model_id, question)] += 1
                self.calls.append(Call(model_id, system, question, image_bytes, image_format, max_tokens))
            return Reply(text, self.input_tokens, self.output_tokens)
        finally:
            with self._lock:
                self._in_flight -= 1

    # --- Provisioned Throughput ---------------------------------------------------------------------

    def create_provisioned_throughput(self, model_arn: str, name: str, tags: Mapping[str, str]) -> str:
        arn = f"arn:aws:bedrock:us-west-2:123456789012:provisioned-model/{name}-{len(self.created)}"
        self.throughputs[arn] = StoredThroughput(
            arn, name, model_arn, {**tags, OWNER_TAG: OWNER_VALUE}, created_at=utcnow()
        )
        self.created.append(arn)
        return arn

    def describe_provisioned_throughput(self, arn_or_name: str) -> OwnedThroughput | None:
        for stored in self.throughputs.values():
            if arn_or_name in (stored.arn, stored.name):
                return OwnedThroughput(stored.arn, None, stored.created_at, stored.status)
        return None

    def wait_in_service(self, arn: str, timeout: float) -> None:
        self.throughputs[arn].status = "InService"

    def delete_provisioned_throughput(self, arn: str) -> None:
        if self.delete_fails:
            raise AwsError("InternalServerException", "delete failed", "DeleteProvisionedModelThroughput")
        self.throughputs.pop(arn, None)
        self.deleted.append(arn)

    def list_owned_provisioned_throughputs(self) -> list[OwnedThroughput]:
        return [
            OwnedThroughput(stored.arn, stored.tags.get(JOB_TAG), stored.created_at, stored.status)
            for stored in self.throughputs.values()
            if stored.tags.get(OWNER_TAG) == OWNER_VALUE
        ]

    def leave_behind(self, job_id: str | None, age: timedelta, *, owner: str = OWNER_VALUE) -> str:
        """A throughput made earlier (by a process that died), as a test's starting state."""
        name = f"tunebot-eval-{job_id or 'orphan'}"
        arn = f"arn:aws:bedrock:us-west-2:123456789012:provisioned-model/{name}-left"
        tags = {OWNER_TAG: owner}
        if job_id is not None:
            tags[JOB_TAG] = job_id
        self.throughputs[arn] = StoredThroughput(arn, name, "arn:model", tags, utcnow() - age, "InService")
        return arn

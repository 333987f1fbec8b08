"""The evaluation runner: score a finished job's held-out test set on the base and the fine-tuned model.

``evaluate_job`` is the use case (the job lifecycle calls it for a job in ``evaluating``; the scheduler
calls ``evaluate_pending`` to resume any that a restart interrupted). ``run_variant`` is its engine:
one model, one test set, adaptive concurrency, every answer stored as it arrives.

- Base model: on demand through the ``us.`` inference profile, with the prompt-optimised baseline
  (the dataset's system prompt plus an answer-format instruction derived from the training answers).
- Fine-tuned model: on Provisioned Throughput the runner creates (1 model unit, no commitment, tagged
  as tunebot's), waits for, uses and deletes in every outcome. It is created first so it comes up
  while the base model is being evaluated.
- Concurrency is AIMD: halve on a throttle (once per window, not once per throttled request), one
  more after a run of successes as long as the current limit; retries back off with full jitter.
- A restart skips the examples already stored (``EvaluationExample`` rows); two replicas never work
  on one evaluation (row leases, renewed at every write).
- Cost: base tokens at the price table's per-token prices; Provisioned Throughput by the hour, a
  started hour counted whole (an estimate should not undercount).
"""

from __future__ import annotations

import json
import logging
import math
import queue
import random
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy import case, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from services.config import Settings
from services.datasets.upload import split_s3_uri
from services.evaluation.compare import SANDBOX_LABEL
from services.evaluation.inference import (
    JOB_TAG,
    THROUGHPUT_FAILED,
    ExampleRejected,
    Inference,
    InferenceError,
    Throttled,
    ThroughputNotReady,
    TransientError,
    make_inference,
    throughput_name,
)
from services.evaluation.metrics import squad_scores
from services.evaluation.prompting import (
    AnswerFormat,
    baseline_system_prompt,
    describe_answers,
    format_instruction,
    max_output_tokens,
)
from services.pricing import PriceTable, load_prices
from services.store import outbox
from services.store.db import unit_of_work
from services.store.models import Dataset, Evaluation, EvaluationExample, Job, utcnow

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

BASE = "base"
FINE_TUNED = "fine_tuned"
VARIANTS = (BASE, FINE_TUNED)
BASE_MODEL_PROFILES = {
    "11b": "us.meta.llama3-2-11b-instruct-v1:0",
    "90b": "us.meta.llama3-2-90b-instruct-v1:0",
}
TEST_FILE = "test.jsonl"
TRAIN_FILE = "train.jsonl"
IMAGES_DIR = "images"
MAX_IMAGE_BYTES = 10 * 1024 * 1024
TRAINING_ANSWERS_READ = 5_000  # enough to know the answers' shape; train.jsonl can hold 10,000


# ------------------------------------------------------------------------------------------- errors


class EvaluationFailed(Exception):
    """The evaluation cannot finish now. ``retryable``: a later run may succeed (stored answers kept)."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class TestSetError(EvaluationFailed):
    """test.jsonl (or an image it names) cannot be read; the message names the record and the fix."""

    __test__ = False  # not a pytest class

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class LeaseLost(Exception):
    """Another replica took this evaluation over (our lease expired): stop without touching it."""


class _Stopped(Exception):
    """A worker was told to stop before it could send its example (the example stays to do)."""


# ----------------------------------------------------------------------------------- the test set


@dataclass(frozen=True, slots=True)
class HeldOutExample:
    """One test example as the evaluation asks it: the last user turn, its first image, the references."""

    id: str
    question: str
    references: tuple[str, ...]
    system: str | None = None
    image_uri: str | None = None
    image_format: str | None = None


def _texts(content: object) -> list[str]:
    if not isinstance(content, list):
        return []
    return [str(part["text"]) for part in content if isinstance(part, dict) and "text" in part]


def _first_image(content: object) -> tuple[str | None, str | None]:
    if not isinstance(content, list):
        return None, None
    for part in content:
        image = part.get("image") if isinstance(part, dict) else None
        if isinstance(image, dict):
            location = image.get("source", {}).get("s3Location", {})
            uri = location.get("uri") if isinstance(location, dict) else None
            return (str(uri) if uri else None), (str(image.get("format")) if image.get("format") else None)
    return None, None


def parse_test_record(line: str, where: str) -> HeldOutExample:
    """A test.jsonl record (Bedrock's format plus the ``tunebot`` object the dataset writer adds)."""
    fix = "prepare the dataset again with `tunebot prepare` so test.jsonl is rewritten"
    try:
        record = json.loads(line)
    except ValueError as error:
        raise TestSetError(f"{where}: not valid JSON ({error}); {fix}") from None
    messages = record.get("messages") if isinstance(record, dict) else None
    if not isinstance(messages, list) or not messages:
        raise TestSetError(f'{where}: no "messages" list; {fix}')
    user_turns = [
        index
        for index, message in enumerate(messages)
        if isinstance(message, dict) and message.get("role") == "user"
    ]
    if not user_turns:
        raise TestSetError(f"{where}: no user turn to ask; {fix}")
    asked = messages[user_turns[-1]]
    answers = [
        " ".join(_texts(message.get("content")))
        for message in messages[user_turns[-1] + 1 :]
        if isinstance(message, dict) and message.get("role") == "assistant"
    ]
    extra = record.get("tunebot") if isinstance(record.get("tunebot"), dict) else {}
    references = tuple(str(item) for item in extra.get("references") or ()) or tuple(answers[:1])
    if not references:
        raise TestSetError(f"{where}: no reference answer (no assistant turn after the question); {fix}")
    system_texts = _texts(record.get("system"))
    image_uri, image_format = _first_image(asked.get("content"))
    question = "\n".join(_texts(asked.get("content")))
    if not question and image_uri is None:
        raise TestSetError(f"{where}: the question has neither text nor an image; {fix}")
    return HeldOutExample(
        id=str(extra.get("id") or where),
        question=question,
        references=references,
        system=system_texts[0] if system_texts else None,
        image_uri=image_uri,
        image_format=image_format,
    )


def read_test_examples(lines: Iterable[str], name: str = TEST_FILE) -> list[HeldOutExample]:
    """Every example of a test file, in order; ids must be unique (each gets one stored answer)."""
    examples: list[HeldOutExample] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        example = parse_test_record(line, f"{name} line {number}")
        if example.id in seen:
            raise TestSetError(
                f"{name} line {number}: example id {example.id!r} appears twice; give it a new id"
            )
        seen.add(example.id)
        examples.append(example)
    if not examples:
        raise TestSetError(f"{name} holds no example: prepare the dataset with a test split (--test-share)")
    return examples


def training_answers(lines: Iterable[str]) -> Iterator[str]:
    """The expected answer (last assistant turn) of each training record; unreadable lines are skipped."""
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        messages = record.get("messages") if isinstance(record, dict) else None
        if not isinstance(messages, list):
            continue
        for message in reversed(messages):
            if isinstance(message, dict) and message.get("role") == "assistant":
                yield " ".join(_texts(message.get("content")))
                break


class DatasetSource(Protocol):
    """A prepared dataset's files: JSON Lines by name, images by the URI a record gives."""

    def lines(self, name: str) -> Iterator[str]: ...

    def image(self, uri: str) -> bytes: ...


@dataclass(frozen=True, slots=True)
class DatasetLocation:
    dataset_id: str
    local_dir: Path | None
    s3_uri: str | None


class DatasetFiles:
    """Reads the local prepared folder when this replica has it, otherwise the dataset's S3 prefix."""

    def __init__(self, location: DatasetLocation, s3: S3Client | None = None) -> None:
        self._location = location
        self._s3 = s3

    def _local(self, relative: str) -> Path | None:
        folder = self._location.local_dir
        if folder is None:
            return None
        path = folder / relative
        return path if path.is_file() else None

    def _s3_object(self, uri: str, limit: int | None = None) -> Any:
        if self._s3 is None:
            raise TestSetError(
                f"dataset {self._location.dataset_id}: {uri} is not on this machine and no S3 client is "
                "configured: set TUNEBOT_S3_URI and AWS credentials, or run where the dataset was prepared"
            )
        bucket, key = split_s3_uri(uri)
        try:
            return self._s3.get_object(Bucket=bucket, Key=key)["Body"]
        except (ClientError, BotoCoreError) as error:
            raise TestSetError(
                f"cannot read {uri} ({error}): check the object exists and the service may s3:GetObject it"
            ) from None

    def lines(self, name: str) -> Iterator[str]:
        local = self._local(name)
        if local is not None:
            with local.open(encoding="utf-8") as handle:
                yield from handle
            return
        if self._location.s3_uri is None:
            raise TestSetError(
                f"dataset {self._location.dataset_id} has no {name} here and was never uploaded: "
                "prepare it again with --upload"
            )
        body = self._s3_object(f"{self._location.s3_uri.rstrip('/')}/{name}")
        for raw in body.iter_lines():
            yield raw.decode("utf-8")

    def image(self, uri: str) -> bytes:
        file_name = uri.rsplit("/", 1)[-1]
        local = self._local(f"{IMAGES_DIR}/{file_name}")
        data = local.read_bytes() if local is not None else self._s3_object(uri).read(MAX_IMAGE_BYTES + 1)
        if len(data) > MAX_IMAGE_BYTES:
            raise TestSetError(f"{uri} is larger than Bedrock's 10 MB image limit: prepare the dataset again")
        return bytes(data)


def dataset_files(settings: Settings, location: DatasetLocation) -> DatasetSource:
    """Production wiring: an S3 client only when the files may have to come from S3."""
    s3 = None
    if location.s3_uri is not None:
        from services.job_outputs import make_s3_client

        s3 = make_s3_client(settings.aws_region, settings.aws_endpoint_url)
    return DatasetFiles(location, s3)


def default_inference(settings: Settings) -> Inference:
    return make_inference(settings.aws_region, settings.aws_endpoint_url)


# ---------------------------------------------------------------------------------------- AIMD


class AdaptiveConcurrency:
    """How many requests may be in flight: additive increase, multiplicative decrease.

    A throttle halves the limit, but only once per window: requests sent before the last decrease
    carry an older generation, and their throttles are the same congestion already answered. After
    ``increase_after`` successes in a row (default: the current limit, about one round of requests)
    the limit grows by one.
    """

    def __init__(
        self, initial: int, maximum: int, minimum: int = 1, increase_after: int | None = None
    ) -> None:
        if not 1 <= minimum <= maximum:
            raise ValueError("need 1 <= minimum <= maximum")
        self._condition = threading.Condition()
        self._minimum = minimum
        self._maximum = maximum
        self._increase_after = increase_after
        self._in_flight = 0
        self._generation = 0
        self._successes = 0
        self.limit = max(minimum, min(maximum, initial))
        self.history: list[int] = [self.limit]

    def acquire(self, stop: threading.Event) -> int | None:
        """Wait for a free slot; its generation, or None when ``stop`` was set meanwhile."""
        with self._condition:
            while self._in_flight >= self.limit:
                if stop.is_set():
                    return None
                self._condition.wait(0.05)
            if stop.is_set():
                return None
            self._in_flight += 1
            return self._generation

    def release(self, generation: int, *, throttled: bool = False, succeeded: bool = False) -> None:
        with self._condition:
            self._in_flight -= 1
            if throttled:
                self._successes = 0
                if generation == self._generation:
                    self._generation += 1
                    self._set(max(self._minimum, self.limit // 2))
            elif succeeded:
                self._successes += 1
                if self._successes >= (self._increase_after or self.limit) and self.limit < self._maximum:
                    self._successes = 0
                    self._set(self.limit + 1)
            self._condition.notify_all()

    def _set(self, limit: int) -> None:
        if limit != self.limit:
            self.limit = limit
            if len(self.history) < 100_000:
                self.history.append(limit)


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Full jitter: uniform over [0, min(cap, base·2^attempt)]."""
    return random.uniform(0, min(cap, base * 2**attempt))


# ------------------------------------------------------------------------------------ one variant


@dataclass(frozen=True)
class RunOptions:
    initial_concurrency: int = 2
    max_concurrency: int = 16
    increase_after: int | None = None
    attempts: int = 10  # per example, throttles and transient errors together
    base_delay: float = 0.25
    max_delay: float = 20.0
    flush_seconds: float = 0.5
    flush_size: int = 50
    lease_seconds: float = 600.0
    throughput_wait_seconds: float = 3_600.0
    # After a retryable failure, how long the scheduler waits before trying again (each try may pay
    # for a new Provisioned Throughput hour, so not at every tick).
    retry_cooldown_seconds: float = 900.0
    max_rejected_share: float = 0.1  # above this share (and 5 examples) the run stops as broken
    deadline: float | None = None  # time.monotonic() after which no new example is sent
    sleep: Callable[[float], None] = time.sleep


@dataclass(frozen=True, slots=True)
class ExampleResult:
    example_id: str
    prediction: str | None
    f1: float
    exact_match: float
    input_tokens: int
    output_tokens: int
    rejected: str | None = None


@dataclass
class VariantTotals:
    """What one ``run_variant`` call did (not the evaluation's totals, which include earlier runs)."""

    skipped: int = 0  # already stored by an earlier run
    answered: int = 0
    rejected: int = 0
    calls: int = 0
    throttled: int = 0
    transient: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    concurrency_history: list[int] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def lowest_concurrency(self) -> int:
        return min(self.concurrency_history, default=0)

    @property
    def highest_concurrency(self) -> int:
        return max(self.concurrency_history, default=0)


def stored_example_ids(sessions: sessionmaker[Session], evaluation_id: str) -> set[str]:
    with sessions() as session:
        return set(
            session.scalars(
                select(EvaluationExample.example_id).where(EvaluationExample.evaluation_id == evaluation_id)
            )
        )


def _store(
    sessions: sessionmaker[Session],
    evaluation_id: str,
    owner: str,
    batch: list[ExampleResult],
    lease_seconds: float,
) -> None:
    """One transaction: the answers, the token counters, and the renewed lease (or LeaseLost)."""
    with unit_of_work(sessions) as session:
        renewed = session.execute(
            update(Evaluation)
            .where(Evaluation.id == evaluation_id, Evaluation.lease_owner == owner)
            .values(
                lease_expires_at=utcnow() + timedelta(seconds=lease_seconds),
                input_tokens=Evaluation.input_tokens + sum(item.input_tokens for item in batch),
                output_tokens=Evaluation.output_tokens + sum(item.output_tokens for item in batch),
            )
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        if not renewed:
            raise LeaseLost(f"evaluation {evaluation_id} is no longer leased to {owner}")
        # The job's other evaluation waits for this one (its throughput coming up): keep it leased too.
        same_job = select(Evaluation.job_id).where(Evaluation.id == evaluation_id).scalar_subquery()
        session.execute(
            update(Evaluation)
            .where(
                Evaluation.job_id == same_job, Evaluation.id != evaluation_id, Evaluation.lease_owner == owner
            )
            .values(lease_expires_at=utcnow() + timedelta(seconds=lease_seconds))
            .execution_options(synchronize_session=False)
        )
        session.add_all(
            EvaluationExample(
                evaluation_id=evaluation_id,
                example_id=item.example_id,
                prediction=item.prediction,
                f1=item.f1,
                exact_match=item.exact_match,
            )
            for item in batch
        )


def _drain(results: queue.Queue[ExampleResult], wait: float, limit: int) -> list[ExampleResult]:
    batch: list[ExampleResult] = []
    with suppress(queue.Empty):
        batch.append(results.get(timeout=wait))
        while len(batch) < limit:
            batch.append(results.get_nowait())
    return batch


def run_variant(
    sessions: sessionmaker[Session],
    evaluation_id: str,
    examples: Sequence[HeldOutExample],
    *,
    model_id: str,
    inference: Inference,
    images: Callable[[HeldOutExample], bytes | None],
    system_prompt: Callable[[HeldOutExample], str | None],
    max_tokens: int,
    owner: str,
    options: RunOptions | None = None,
) -> VariantTotals:
    """Answer and score every example not stored yet for ``evaluation_id``; store each as it arrives.

    The caller holds the evaluation's lease (``owner``). Raises ``EvaluationFailed`` (retries
    exhausted, too many rejected requests, out of time), ``InferenceError`` for a refusal that no
    retry fixes, or ``LeaseLost``; whatever was answered before the failure is stored first.
    """
    options = options or RunOptions()
    started = time.monotonic()
    done = stored_example_ids(sessions, evaluation_id)
    todo = iter([example for example in examples if example.id not in done])
    totals = VariantTotals(skipped=sum(1 for example in examples if example.id in done))
    limiter = AdaptiveConcurrency(
        options.initial_concurrency, options.max_concurrency, increase_after=options.increase_after
    )
    stop = threading.Event()
    lock = threading.Lock()
    results: queue.Queue[ExampleResult] = queue.Queue()
    failures: list[BaseException] = []
    out_of_time = threading.Event()

    def next_example() -> HeldOutExample | None:
        with lock:
            if stop.is_set():
                return None
            if options.deadline is not None and time.monotonic() >= options.deadline:
                out_of_time.set()
                return None
            return next(todo, None)

    def count(name: str) -> None:
        with lock:
            setattr(totals, name, getattr(totals, name) + 1)

    def answer(example: HeldOutExample) -> ExampleResult:
        image = images(example) if example.image_uri else None
        system = system_prompt(example)
        last_error: InferenceError | None = None
        for attempt in range(1, options.attempts + 1):
            generation = limiter.acquire(stop)
            if generation is None:
                raise _Stopped
            count("calls")
            try:
                reply = inference.converse(
                    model_id, system, example.question, image, example.image_format, max_tokens=max_tokens
                )
            except Throttled as error:
                limiter.release(generation, throttled=True)
                count("throttled")
                last_error = error
            except TransientError as error:
                limiter.release(generation)
                count("transient")
                last_error = error
            except ExampleRejected as error:
                limiter.release(generation)
                return ExampleResult(example.id, None, 0.0, 0.0, 0, 0, rejected=error.message)
            except BaseException:
                limiter.release(generation)
                raise
            else:
                limiter.release(generation, succeeded=True)
                f1, exact = squad_scores(reply.text, example.references)
                return ExampleResult(
                    example.id, reply.text, f1, exact, reply.input_tokens, reply.output_tokens
                )
            if stop.is_set():
                raise _Stopped
            options.sleep(backoff_delay(attempt, options.base_delay, options.max_delay))
        raise EvaluationFailed(
            f"example {example.id}: Bedrock still refused after {options.attempts} attempts ({last_error}); "
            "the answers so far are stored: the evaluation resumes on the next run",
            retryable=True,
        )

    def work() -> None:
        while (example := next_example()) is not None:
            try:
                results.put(answer(example))
            except _Stopped:
                return
            except BaseException as error:
                with lock:
                    failures.append(error)
                stop.set()
                return

    rejected_limit = max(5, int(options.max_rejected_share * len(examples)))
    first_rejection: str | None = None
    workers = max(1, options.max_concurrency)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"eval-{evaluation_id[:8]}")
    try:
        futures = [pool.submit(work) for _ in range(workers)]
        while True:
            finished = all(future.done() for future in futures)
            batch = _drain(results, 0.0 if finished else options.flush_seconds, options.flush_size)
            if batch:
                _store(sessions, evaluation_id, owner, batch, options.lease_seconds)
                for item in batch:
                    if item.rejected is not None:
                        totals.rejected += 1
                        first_rejection = first_rejection or item.rejected
                    else:
                        totals.answered += 1
                    totals.input_tokens += item.input_tokens
                    totals.output_tokens += item.output_tokens
                if totals.rejected > rejected_limit and not stop.is_set():
                    stop.set()
                    failures.append(
                        EvaluationFailed(
                            f"Bedrock rejected {totals.rejected} test examples as invalid, e.g. "
                            f"{first_rejection!r}: fix the dataset (or the model id) and evaluate again",
                            retryable=False,
                        )
                    )
            elif finished:
                break
    except BaseException:
        stop.set()
        raise
    finally:
        pool.shutdown(wait=True)
        totals.concurrency_history = list(limiter.history)
        totals.seconds = time.monotonic() - started
    if failures:
        raise failures[0]
    if out_of_time.is_set():
        raise EvaluationFailed(
            "the evaluation ran out of time (TUNEBOT_EVAL_MAX_HOURS); answers so far are stored",
            retryable=False,
        )
    return totals


# ------------------------------------------------------------------------------------------ costs


def token_cost(prices: PriceTable, model: str, input_tokens: int, output_tokens: int) -> float:
    """On-demand inference cost of the base model's tokens, in USD."""
    table = prices.models[model]  # type: ignore[index]
    return (
        input_tokens * table.inference_input_per_million_tokens.usd
        + output_tokens * table.inference_output_per_million_tokens.usd
    ) / 1_000_000


def throughput_cost(prices: PriceTable, model: str, seconds: float) -> float:
    """No-commitment Provisioned Throughput is billed by the hour: a started hour counts whole."""
    hours = max(1, math.ceil(max(seconds, 0.0) / 3600))
    return hours * prices.models[model].provisioned_throughput_per_hour.usd  # type: ignore[index]


# ------------------------------------------------------------------------------------ the use case


@dataclass(frozen=True, slots=True)
class JobSnapshot:
    id: str
    group_id: str
    model: str
    name: str
    status: str
    sandbox: bool
    output_model_arn: str | None
    location: DatasetLocation


@dataclass(frozen=True, slots=True)
class EvaluationSummary:
    variant: str
    f1: float
    exact_match: float
    count: int
    missing: int
    cost_usd: float | None


InferenceFactory = Callable[[Settings], Inference]
FilesFactory = Callable[[Settings, DatasetLocation], DatasetSource]


def _snapshot(session: Session, job_id: str) -> JobSnapshot | None:
    job = session.get(Job, job_id)
    if job is None:
        return None
    dataset = session.get(Dataset, job.dataset_id)
    report = (dataset.report or {}) if dataset is not None else {}
    out_dir = report.get("out_dir")
    return JobSnapshot(
        id=job.id,
        group_id=job.group_id,
        model=job.model,
        name=job.name,
        status=job.status,
        sandbox=job.sandbox,
        output_model_arn=job.output_model_arn,
        location=DatasetLocation(
            dataset_id=job.dataset_id,
            local_dir=Path(out_dir) if isinstance(out_dir, str) and out_dir else None,
            s3_uri=dataset.s3_uri if dataset is not None else None,
        ),
    )


def _ensure_rows(sessions: sessionmaker[Session], job_id: str) -> dict[str, str]:
    """The job's two Evaluation rows (created once, even when two replicas race), by variant."""
    with unit_of_work(sessions) as session:
        existing = {
            row.variant: row.id
            for row in session.scalars(select(Evaluation).where(Evaluation.job_id == job_id))
        }
        for variant in VARIANTS:
            if variant not in existing:
                try:
                    with session.begin_nested():
                        row = Evaluation(job_id=job_id, variant=variant)
                        session.add(row)
                    existing[variant] = row.id
                except IntegrityError:
                    pass
    with sessions() as session:
        return {
            row.variant: row.id
            for row in session.scalars(select(Evaluation).where(Evaluation.job_id == job_id))
        }


def _claim(sessions: sessionmaker[Session], evaluation_ids: list[str], owner: str, seconds: float) -> bool:
    """Lease every unfinished evaluation of the job to ``owner``; False (and nothing held) if one is taken."""
    now = utcnow()
    with unit_of_work(sessions) as session:
        for evaluation_id in evaluation_ids:
            won = session.execute(
                update(Evaluation)
                .where(
                    Evaluation.id == evaluation_id,
                    Evaluation.status != "done",
                    # Free, ours, or expired; a lease without an owner is a retry's cool-down.
                    or_(
                        Evaluation.lease_expires_at.is_(None),
                        Evaluation.lease_owner == owner,
                        Evaluation.lease_expires_at < now,
                    ),
                )
                .values(
                    lease_owner=owner, lease_expires_at=now + timedelta(seconds=seconds), status="running"
                )
                .execution_options(synchronize_session=False)
            ).rowcount  # type: ignore[attr-defined]
            if not won:
                session.rollback()
                return False
        session.execute(
            update(Evaluation)
            .where(Evaluation.id.in_(evaluation_ids), Evaluation.started_at.is_(None))
            .values(started_at=now)
            .execution_options(synchronize_session=False)
        )
    return True


def _release(sessions: sessionmaker[Session], evaluation_ids: list[str], owner: str) -> None:
    with unit_of_work(sessions) as session:
        session.execute(
            update(Evaluation)
            .where(Evaluation.id.in_(evaluation_ids), Evaluation.lease_owner == owner)
            .values(lease_owner=None, lease_expires_at=None)
            .execution_options(synchronize_session=False)
        )


def _announce(session: Session, job: JobSnapshot, type_: str, message: str, **extra: Any) -> None:
    payload: dict[str, Any] = {
        "job_id": job.id,
        "group_id": job.group_id,
        "model": job.model,
        "name": job.name,
        "message": f"{SANDBOX_LABEL} — {message}" if job.sandbox else message,
        **extra,
    }
    if job.sandbox:
        payload["sandbox"] = SANDBOX_LABEL
    outbox.record(session, type_, job.id, **payload)


def _aggregate(session: Session, evaluation_id: str, test_count: int) -> tuple[float, float, int]:
    """(F1, EM) in 0–100 over the whole test set, and how many examples have no answer."""
    stored, f1_sum, exact_sum, answered = session.execute(
        select(
            func.count(EvaluationExample.id),
            func.coalesce(func.sum(EvaluationExample.f1), 0.0),
            func.coalesce(func.sum(EvaluationExample.exact_match), 0.0),
            func.coalesce(func.sum(case((EvaluationExample.prediction.is_not(None), 1), else_=0)), 0),
        ).where(EvaluationExample.evaluation_id == evaluation_id)
    ).one()
    count = max(test_count, int(stored))
    if count == 0:
        return 0.0, 0.0, 0
    # A missing prediction scores 0, as in the official script: the mean is over every example.
    return 100 * float(f1_sum) / count, 100 * float(exact_sum) / count, count - int(answered)


def _size_label(model: str) -> str:
    return model.upper()


def _complete(
    sessions: sessionmaker[Session],
    job: JobSnapshot,
    evaluation_id: str,
    test_count: int,
    cost_of: Callable[[Evaluation], float | None],
) -> EvaluationSummary:
    """Write the scores and the ``evaluation.completed`` event together; finish the job when both are in."""
    with unit_of_work(sessions) as session:
        row = session.get(Evaluation, evaluation_id)
        assert row is not None
        f1, exact, missing = _aggregate(session, evaluation_id, test_count)
        row.f1, row.exact_match, row.count, row.missing = f1, exact, test_count, missing
        row.cost_usd = cost_of(row)
        row.status, row.finished_at, row.error = "done", utcnow(), None
        row.lease_owner, row.lease_expires_at = None, None
        others = session.scalars(
            select(Evaluation).where(Evaluation.job_id == job.id, Evaluation.id != evaluation_id)
        ).all()
        job_done = all(other.status == "done" for other in others)
        if job_done:
            session.execute(
                update(Job)
                .where(Job.id == job.id, Job.status == "evaluating")
                .values(status="done", updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )
        missing_note = f"; {missing} without an answer (scored 0)" if missing else ""
        cost_note = f"; evaluation cost ≈ ${row.cost_usd:,.2f}" if row.cost_usd is not None else ""
        if row.variant == BASE:
            message = (
                f"{job.name}: base Llama 3.2 {_size_label(job.model)} (prompt-optimised baseline) scored "
                f"F1 {f1:.1f}, EM {exact:.1f} on {test_count} test examples{missing_note}{cost_note}"
            )
        else:
            base = next((other for other in others if other.variant == BASE and other.status == "done"), None)
            versus = (
                f" vs base {base.f1:.1f} ({f1 - base.f1:+.1f} points)"
                if base is not None and base.f1 is not None
                else ""
            )
            message = (
                f"{job.name}: fine-tuned model scored F1 {f1:.1f}{versus}, EM {exact:.1f} on {test_count} "
                f"test examples{missing_note}{cost_note}; its Provisioned Throughput is deleted"
            )
        _announce(
            session,
            job,
            "evaluation.completed",
            message,
            status="done" if job_done else "evaluating",
            evaluation_id=evaluation_id,
            variant=row.variant,
            metric="SQuAD v1.1",
            f1=f1,
            exact_match=exact,
            count=test_count,
            missing=missing,
            input_tokens=row.input_tokens,
            output_tokens=row.output_tokens,
            cost_usd=row.cost_usd,
        )
        return EvaluationSummary(row.variant, f1, exact, test_count, missing, row.cost_usd)


def _record_failure(
    sessions: sessionmaker[Session],
    job: JobSnapshot,
    evaluation_ids: dict[str, str],
    error: BaseException,
    final: bool,
    owner: str,
    cooldown_seconds: float,
) -> None:
    """A final failure fails the evaluation and the job (with an event); a retryable one waits for the
    next run with its answers kept."""
    text = str(error)
    with unit_of_work(sessions) as session:
        rows = [
            row for row in (session.get(Evaluation, i) for i in evaluation_ids.values()) if row is not None
        ]
        for row in rows:
            if row.status == "done" or row.lease_owner != owner:
                continue
            row.error = text
            row.status = "failed" if final else "pending"
            if final:
                row.finished_at = utcnow()
            else:
                row.lease_owner, row.lease_expires_at = None, utcnow() + timedelta(seconds=cooldown_seconds)
        if not final:
            return
        session.execute(
            update(Job)
            .where(Job.id == job.id, Job.status == "evaluating")
            .values(
                status="failed",
                failure_message=f"evaluation failed: {text}",
                failure_hint="the fine-tuned model itself is fine; fix the cause and evaluate again",
                updated_at=utcnow(),
            )
            .execution_options(synchronize_session=False)
        )
        _announce(
            session,
            job,
            "evaluation.failed",
            f"{job.name}: evaluation failed — {text}. Its Provisioned Throughput was deleted.",
            status="failed",
            error=text,
        )


def _is_final(error: BaseException, started_at: datetime | None, max_hours: float) -> bool:
    """Retryable failures become final once the evaluation has been trying for longer than allowed."""
    if isinstance(error, EvaluationFailed):
        retryable = error.retryable
    elif isinstance(error, Throttled | TransientError | ThroughputNotReady):
        retryable = True
    elif isinstance(error, InferenceError):
        retryable = error.code == "ServiceQuotaExceededException"
    else:
        retryable = True  # a bug or an outage we did not foresee: keep the answers, try again later
    if not retryable:
        return True
    return started_at is not None and utcnow() - started_at > timedelta(hours=max_hours)


@dataclass
class _Throughput:
    """The fine-tuned model's Provisioned Throughput for one run: made or adopted, always deleted."""

    inference: Inference
    sessions: sessionmaker[Session]
    prices: PriceTable
    job: JobSnapshot
    evaluation_id: str
    owner: str
    options: RunOptions
    arn: str | None = None
    created_at: datetime | None = None

    def start(self) -> None:
        if self.job.output_model_arn is None:
            raise EvaluationFailed(
                "Bedrock reported no output model ARN for this job, so there is no fine-tuned model to "
                "evaluate: check the job in the Bedrock console",
                retryable=False,
            )
        name = throughput_name(self.job.id)
        existing = self.inference.describe_provisioned_throughput(name)
        if existing is not None and existing.status == THROUGHPUT_FAILED:
            self.inference.delete_provisioned_throughput(existing.arn)
            existing = None
        if existing is not None:
            # A restart finds the throughput its predecessor made: use it rather than pay for two.
            self.arn, self.created_at = existing.arn, existing.created_at or utcnow()
        else:
            self.created_at = utcnow()
            self.arn = self.inference.create_provisioned_throughput(
                self.job.output_model_arn, name, {JOB_TAG: self.job.id}
            )
        with unit_of_work(self.sessions) as session:
            row = session.get(Evaluation, self.evaluation_id)
            assert row is not None
            row.provisioned_model_arn = self.arn
        log.info(
            "provisioned throughput",
            extra={"job_id": self.job.id, "arn": self.arn, "adopted": bool(existing)},
        )

    def wait(self) -> None:
        """Wait for InService in slices, renewing the lease between them."""
        assert self.arn is not None
        deadline = time.monotonic() + self.options.throughput_wait_seconds
        slice_seconds = max(1.0, self.options.lease_seconds / 3)
        while True:
            remaining = deadline - time.monotonic()
            try:
                self.inference.wait_in_service(self.arn, min(slice_seconds, max(remaining, 0.0)))
                return
            except ThroughputNotReady:
                if remaining <= slice_seconds:
                    raise
            _store(self.sessions, self.evaluation_id, self.owner, [], self.options.lease_seconds)

    def stop(self) -> None:
        """Delete it and add its hours to the evaluation's cost; a failed delete is left to the janitor."""
        if self.arn is None:
            return
        try:
            self.inference.delete_provisioned_throughput(self.arn)
        except Exception:
            log.exception("provisioned throughput not deleted; the janitor will retry",
                          extra={"job_id": self.job.id, "arn": self.arn})  # fmt: skip
        seconds = (utcnow() - (self.created_at or utcnow())).total_seconds()
        cost = throughput_cost(self.prices, self.job.model, seconds)
        with unit_of_work(self.sessions) as session:
            row = session.get(Evaluation, self.evaluation_id)
            assert row is not None
            row.cost_usd = (row.cost_usd or 0.0) + cost
        self.arn = None


def evaluate_job(
    sessions: sessionmaker[Session],
    settings: Settings,
    job_id: str,
    *,
    inference_factory: InferenceFactory = default_inference,
    files_factory: FilesFactory = dataset_files,
    owner: str | None = None,
    options: RunOptions | None = None,
    prices: PriceTable | None = None,
) -> list[EvaluationSummary] | None:
    """Evaluate a job in ``evaluating``: base model, then fine-tuned model; the job ends ``done``.

    Returns the two summaries when both are done, None when there is nothing to do (job not in
    ``evaluating``, another replica holds the lease, or a retryable failure left it for the next run).
    A final failure marks the evaluation and the job failed, with an ``evaluation.failed`` event.
    The Provisioned Throughput is deleted in every outcome.
    """
    owner = owner or f"{socket.gethostname()}:{id(sessions)}"
    base_options = options or RunOptions()
    with sessions() as session:
        job = _snapshot(session, job_id)
    if job is None or job.status != "evaluating":
        log.info("nothing to evaluate", extra={"job_id": job_id, "status": job.status if job else None})
        return None
    rows = _ensure_rows(sessions, job_id)
    with sessions() as session:
        evaluations = {variant: session.get(Evaluation, rows[variant]) for variant in VARIANTS}
    todo = [
        variant for variant in VARIANTS if (row := evaluations[variant]) is not None and row.status != "done"
    ]
    if todo and not _claim(sessions, [rows[variant] for variant in todo], owner, base_options.lease_seconds):
        log.info("evaluation held by another replica", extra={"job_id": job_id})
        return None
    with sessions() as session:
        started = min(
            (row.started_at for row in session.scalars(select(Evaluation).where(Evaluation.job_id == job_id))
             if row.started_at is not None),
            default=None,
        )  # fmt: skip
    deadline = (
        time.monotonic() + max(0.0, settings.eval_max_hours * 3600 - (utcnow() - started).total_seconds())
        if started is not None
        else None
    )
    run_options = replace(base_options, deadline=base_options.deadline or deadline)
    prices = prices or load_prices(settings.prices_file)
    held = [rows[variant] for variant in todo]
    throughput: _Throughput | None = None
    try:
        if todo:
            inference = inference_factory(settings)
            files = files_factory(settings, job.location)
            examples = read_test_examples(files.lines(TEST_FILE))
            answer_format = _training_answer_format(files)
            instruction = format_instruction(answer_format)
            max_tokens = max_output_tokens(answer_format)

            def image_of(example: HeldOutExample) -> bytes | None:
                return files.image(example.image_uri) if example.image_uri else None

            if FINE_TUNED in todo:
                throughput = _Throughput(
                    inference, sessions, prices, job, rows[FINE_TUNED], owner, run_options
                )
                throughput.start()  # comes up while the base model is evaluated
            if BASE in todo:
                run_variant(
                    sessions, rows[BASE], examples,
                    model_id=BASE_MODEL_PROFILES[job.model], inference=inference, images=image_of,
                    system_prompt=lambda example: baseline_system_prompt(example.system, instruction),
                    max_tokens=max_tokens, owner=owner, options=run_options,
                )  # fmt: skip
                _complete(
                    sessions, job, rows[BASE], len(examples),
                    lambda row: token_cost(prices, job.model, row.input_tokens, row.output_tokens),
                )  # fmt: skip
            if throughput is not None:
                throughput.wait()
                assert throughput.arn is not None
                run_variant(
                    sessions, rows[FINE_TUNED], examples,
                    model_id=throughput.arn, inference=inference, images=image_of,
                    system_prompt=lambda example: example.system, max_tokens=max_tokens, owner=owner,
                    options=run_options,
                )  # fmt: skip
                throughput.stop()
                _complete(sessions, job, rows[FINE_TUNED], len(examples), lambda row: row.cost_usd)
    except LeaseLost:
        # The replica that took over adopts the throughput by name and deletes it when it is done;
        # deleting it here would break its run. (The janitor remains the backstop.)
        throughput = None
        log.warning("evaluation taken over by another replica", extra={"job_id": job_id})
        return None
    except Exception as error:
        final = _is_final(error, started, settings.eval_max_hours)
        log.warning("evaluation stopped", extra={"job_id": job_id, "final": final, "error": str(error)})
        if throughput is not None:
            throughput.stop()
            throughput = None
        _record_failure(sessions, job, rows, error, final, owner, run_options.retry_cooldown_seconds)
        return None
    finally:
        if throughput is not None:
            throughput.stop()  # an interrupt (KeyboardInterrupt, SystemExit) still deletes it
        _release(sessions, held, owner)
    return _summaries(sessions, rows)


def _training_answer_format(files: DatasetSource) -> AnswerFormat:
    try:
        return describe_answers(islice(training_answers(files.lines(TRAIN_FILE)), TRAINING_ANSWERS_READ))
    except TestSetError as error:
        log.warning("training answers unreadable; neutral answer format", extra={"error": str(error)})
        return describe_answers(())


def _summaries(sessions: sessionmaker[Session], rows: dict[str, str]) -> list[EvaluationSummary]:
    with sessions() as session:
        summaries = []
        for variant in VARIANTS:
            row = session.get(Evaluation, rows[variant])
            assert row is not None and row.f1 is not None and row.exact_match is not None
            summaries.append(
                EvaluationSummary(variant, row.f1, row.exact_match, row.count, row.missing, row.cost_usd)
            )
        return summaries


def evaluate_pending(
    sessions: sessionmaker[Session],
    settings: Settings,
    *,
    inference_factory: InferenceFactory = default_inference,
    files_factory: FilesFactory = dataset_files,
    owner: str | None = None,
    options: RunOptions | None = None,
) -> list[str]:
    """Scheduler tick: evaluate (or resume) every job in ``evaluating``; the ids that finished."""
    with sessions() as session:
        job_ids = list(
            session.scalars(select(Job.id).where(Job.status == "evaluating").order_by(Job.created_at))
        )
    finished = []
    for job_id in job_ids:
        if evaluate_job(
            sessions, settings, job_id,
            inference_factory=inference_factory, files_factory=files_factory, owner=owner, options=options,
        ) is not None:  # fmt: skip
            finished.append(job_id)
    return finished

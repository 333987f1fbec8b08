"""One variant's run: one model answers one test set, every answer scored and stored as it arrives.

``run_variant`` sends the examples not stored yet through a thread pool bounded by adaptive
concurrency, sends an example again after a throttle or transient error, scores each reply (SQuAD F1
and exact match) and stores the results in batches (``store_results``), each write renewing the
evaluation's lease.
``RunOptions`` holds the run's knobs; ``VariantTotals`` reports what the call did. It knows nothing of
jobs, base versus fine-tuned or Provisioned Throughput: the runner decides which model to ask.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from services.aws.errors import AwsError, Rejected, Throttled, TransientError
from services.evaluation.concurrency import AdaptiveConcurrency, backoff_delay
from services.evaluation.errors import EvaluationFailed, LeaseLost
from services.evaluation.inference import Inference
from services.evaluation.metrics import squad_scores
from services.evaluation.testset import HeldOutExample
from services.platform.db import unit_of_work
from services.platform.tables import Evaluation, EvaluationExample, utcnow


class _Stopped(Exception):
    """A worker was told to stop before it could send its example (the example stays to do)."""


@dataclass(frozen=True)
class RunOptions:
    initial_concurrency: int = 2
    max_concurrency: int = 16
    increase_after: int | None = None
    # Converse calls per example, throttles and transient errors together; each call is itself up to
    # AWS_MAX_ATTEMPTS HTTP attempts under botocore's retry mode (services/aws/clients.py).
    attempts: int = 10
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


def store_results(
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
    exhausted, too many rejected requests, out of time), ``AwsError`` for a refusal that no
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
        last_error: AwsError | None = None
        # Not a second retry policy: botocore has already retried each failed call with backoff. What it
        # cannot do is below: tell the run-wide AIMD limiter that the account is congested (its adaptive
        # mode paces one client's sends; it cannot lower the number of examples in flight across
        # threads), and send an example again later, after the window has shrunk, instead of losing it.
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
            except Rejected as error:
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
            # A jittered pause before the example goes back, so the re-sends of one congested window
            # do not arrive together (the limiter halved once for all of them).
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
                store_results(sessions, evaluation_id, owner, batch, options.lease_seconds)
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

"""The evaluation runner: score a finished job's held-out test set on the base and the fine-tuned model.

``evaluate_job`` is the use case (the job lifecycle calls it for a job in ``evaluating``; the scheduler
calls ``evaluate_pending`` to resume any that a restart interrupted). ``run_variant`` (variant.py) is its
engine: one model, one test set, adaptive concurrency, every answer stored as it arrives.

- Base model: on demand through the ``us.`` inference profile, with the prompt-optimised baseline
  (the dataset's system prompt plus an answer-format instruction derived from the training answers).
- Fine-tuned model: on Provisioned Throughput the runner creates (1 model unit, no commitment, tagged
  as tunebot's), waits for, uses and deletes in every outcome (throughput.py). It is created first so
  it comes up while the base model is being evaluated.
- Concurrency is AIMD: halve on a throttle (once per window, not once per throttled request), one
  more after a run of successes as long as the current limit; retries back off with full jitter
  (concurrency.py).
- A restart skips the examples already stored (``EvaluationExample`` rows); two replicas never work
  on one evaluation (row leases, renewed at every write; records.py).
- Cost: base tokens at the price table's per-token prices; Provisioned Throughput by the hour, a
  started hour counted whole (an estimate should not undercount; costing.py).
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from itertools import islice

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.aws.errors import AwsError, QuotaExceeded, TransientError
from services.aws.runtime import make_inference
from services.evaluation.costing import token_cost
from services.evaluation.errors import EvaluationFailed, LeaseLost
from services.evaluation.inference import Inference
from services.evaluation.model import EvaluationStatus
from services.evaluation.prompting import (
    AnswerFormat,
    baseline_system_prompt,
    describe_answers,
    format_instruction,
    max_output_tokens,
)
from services.evaluation.records import (
    BASE,
    FINE_TUNED,
    VARIANTS,
    EvaluationSummary,
    claim_rows,
    complete_variant,
    ensure_rows,
    read_summaries,
    record_failure,
    release_rows,
    snapshot_job,
)
from services.evaluation.testset import (
    TEST_FILE,
    TRAIN_FILE,
    DatasetLocation,
    DatasetSource,
    HeldOutExample,
    TestSetError,
    dataset_files,
    read_test_examples,
    training_answers,
)
from services.evaluation.throughput import ProvisionedThroughput
from services.evaluation.variant import RunOptions, run_variant
from services.jobs.model import JobStatus
from services.platform.config import Settings
from services.platform.tables import Evaluation, Job, utcnow
from services.tuning.pricing import PriceTable, load_prices

log = logging.getLogger(__name__)

BASE_MODEL_PROFILES = {
    "11b": "us.meta.llama3-2-11b-instruct-v1:0",
    "90b": "us.meta.llama3-2-90b-instruct-v1:0",
}
TRAINING_ANSWERS_READ = 5_000  # enough to know the answers' shape; train.jsonl can hold 10,000

InferenceFactory = Callable[[Settings], Inference]
FilesFactory = Callable[[Settings, DatasetLocation], DatasetSource]


def default_inference(settings: Settings) -> Inference:
    return make_inference(settings)


def _is_final(error: BaseException, started_at: datetime | None, max_hours: float) -> bool:
    """Retryable failures become final once the evaluation has been trying for longer than allowed."""
    if isinstance(error, EvaluationFailed):
        retryable = error.retryable
    elif isinstance(error, TransientError):  # Throttled and ThroughputNotReady too
        retryable = True
    elif isinstance(error, AwsError):
        retryable = isinstance(error, QuotaExceeded)
    else:
        retryable = True  # a bug or an outage we did not foresee: keep the answers, try again later
    if not retryable:
        return True
    return started_at is not None and utcnow() - started_at > timedelta(hours=max_hours)


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
        job = snapshot_job(session, job_id)
    if job is None or job.status != JobStatus.EVALUATING:
        log.info("nothing to evaluate", extra={"job_id": job_id, "status": job.status if job else None})
        return None
    rows = ensure_rows(sessions, job_id)
    with sessions() as session:
        evaluations = {variant: session.get(Evaluation, rows[variant]) for variant in VARIANTS}
    todo = [
        variant
        for variant in VARIANTS
        if (row := evaluations[variant]) is not None and row.status != EvaluationStatus.DONE
    ]
    if todo and not claim_rows(
        sessions, [rows[variant] for variant in todo], owner, base_options.lease_seconds
    ):
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
    throughput: ProvisionedThroughput | None = None
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
                throughput = ProvisionedThroughput(
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
                complete_variant(
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
                complete_variant(sessions, job, rows[FINE_TUNED], len(examples), lambda row: row.cost_usd)
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
        record_failure(sessions, job, rows, error, final, owner, run_options.retry_cooldown_seconds)
        return None
    finally:
        if throughput is not None:
            throughput.stop()  # an interrupt (KeyboardInterrupt, SystemExit) still deletes it
        release_rows(sessions, held, owner)
    return read_summaries(sessions, rows)


def _training_answer_format(files: DatasetSource) -> AnswerFormat:
    try:
        return describe_answers(islice(training_answers(files.lines(TRAIN_FILE)), TRAINING_ANSWERS_READ))
    except TestSetError as error:
        log.warning("training answers unreadable; neutral answer format", extra={"error": str(error)})
        return describe_answers(())


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
            session.scalars(select(Job.id).where(Job.status == JobStatus.EVALUATING).order_by(Job.created_at))
        )
    finished = []
    for job_id in job_ids:
        if evaluate_job(
            sessions, settings, job_id,
            inference_factory=inference_factory, files_factory=files_factory, owner=owner, options=options,
        ) is not None:  # fmt: skip
            finished.append(job_id)
    return finished

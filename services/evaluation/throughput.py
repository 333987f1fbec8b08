"""The fine-tuned model's Provisioned Throughput for one evaluation run: made or adopted, always deleted.

``ProvisionedThroughput`` creates the throughput (1 model unit, no commitment, tagged as tunebot's) or
adopts the one a restarted predecessor made, records its ARN on the evaluation, waits for it to be
InService while keeping the lease alive, and deletes it, adding its billed hours to the evaluation's
cost. The runner starts it before the base model's run so it comes up meanwhile, and stops it in every
outcome; a delete that fails is left to the janitor.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from services.aws.throughput import ThroughputNotReady
from services.evaluation.costing import throughput_cost
from services.evaluation.errors import EvaluationFailed
from services.evaluation.inference import JOB_TAG, THROUGHPUT_FAILED, Inference, throughput_name
from services.evaluation.records import JobSnapshot
from services.evaluation.variant import RunOptions, store_results
from services.platform.db import unit_of_work
from services.platform.tables import Evaluation, utcnow
from services.tuning.pricing import PriceTable

log = logging.getLogger(__name__)

NEVER_READY = (
    "its Provisioned Throughput never became ready ({detail}) within TUNEBOT_EVAL_MAX_HOURS of the "
    "evaluation's start, so tunebot deleted it and stopped; Bedrock may be short of capacity for this "
    "model: launch again later, or ask an admin to raise TUNEBOT_EVAL_MAX_HOURS"
)


@dataclass
class ProvisionedThroughput:
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
        """Wait for InService in slices, renewing the lease between them.

        The wait ends at ``throughput_wait_seconds`` (retryable: a later try may find capacity) or at the
        evaluation's own deadline, whichever comes first; at the deadline the evaluation is over, since
        ``TUNEBOT_EVAL_MAX_HOURS`` is the bound a user is promised for ``evaluating``.
        """
        assert self.arn is not None
        deadline = time.monotonic() + self.options.throughput_wait_seconds
        bounded = self.options.deadline is not None and self.options.deadline < deadline
        if self.options.deadline is not None:
            deadline = min(deadline, self.options.deadline)
        slice_seconds = max(1.0, self.options.lease_seconds / 3)
        while True:
            remaining = deadline - time.monotonic()
            try:
                self.inference.wait_in_service(self.arn, min(slice_seconds, max(remaining, 0.0)))
                return
            except ThroughputNotReady as error:
                if remaining <= slice_seconds:
                    if bounded:
                        message = NEVER_READY.format(detail=error.message)
                        raise EvaluationFailed(message, retryable=False) from None
                    raise
            store_results(self.sessions, self.evaluation_id, self.owner, [], self.options.lease_seconds)

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

"""The Provisioned Throughput janitor: cost safety for evaluations that did not clean up after themselves.

The runner deletes its throughput in every outcome it lives to see; a process killed outright cannot.
So at start-up and on a schedule, ``sweep`` deletes every throughput tagged as tunebot's whose job is
finished (done, failed, cancelled) or whose age passed ``TUNEBOT_EVAL_MAX_HOURS``, and says so in the
job's thread (an ``evaluation.cleanup`` event). A throughput of a job still evaluating, younger than
the limit, is in use and stays.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from services.aws.errors import AwsError
from services.evaluation.inference import Inference, OwnedThroughput
from services.jobs.model import FINAL
from services.platform import outbox
from services.platform.config import Settings
from services.platform.db import unit_of_work
from services.platform.tables import Job, utcnow

log = logging.getLogger(__name__)

FINISHED = FINAL
UNKNOWN_SUBJECT = "unknown-job"


def cleanup_reason(
    throughput: OwnedThroughput, job_status: str | None, now: datetime, max_hours: float
) -> str | None:
    """Why this throughput should go, or None to keep it. Pure."""
    if job_status in FINISHED:
        return f"its job is {job_status}"
    if throughput.created_at is not None and now - throughput.created_at > timedelta(hours=max_hours):
        age = (now - throughput.created_at).total_seconds() / 3600
        return f"it is {age:.1f} h old, past TUNEBOT_EVAL_MAX_HOURS ({max_hours:g} h)"
    return None


def sweep(
    sessions: sessionmaker[Session],
    settings: Settings,
    inference: Inference,
    *,
    now: datetime | None = None,
) -> list[str]:
    """Delete tunebot's throughputs that outlived their purpose; return the ARNs deleted."""
    now = now or utcnow()
    deleted: list[str] = []
    for throughput in inference.list_owned_provisioned_throughputs():
        with sessions() as session:
            job = session.get(Job, throughput.job_id) if throughput.job_id else None
            status = job.status if job is not None else None
        reason = cleanup_reason(throughput, status, now, settings.eval_max_hours)
        if reason is None:
            continue
        try:
            inference.delete_provisioned_throughput(throughput.arn)
        except AwsError as error:
            log.warning("throughput not deleted", extra={"arn": throughput.arn, "error": str(error)})
            continue
        log.info("throughput deleted by janitor", extra={"arn": throughput.arn, "job_id": throughput.job_id})
        deleted.append(throughput.arn)
        with unit_of_work(sessions) as session:
            _record_cleanup(session, throughput, reason)
    return deleted


def _record_cleanup(session: Session, throughput: OwnedThroughput, reason: str) -> None:
    job = session.get(Job, throughput.job_id) if throughput.job_id else None
    message = (
        f"deleted the Provisioned Throughput {throughput.arn.rsplit('/', 1)[-1]} left behind by an "
        f"evaluation: {reason}; it no longer bills"
    )
    payload: dict[str, Any] = {"arn": throughput.arn, "reason": reason, "job_id": throughput.job_id}
    if job is not None:
        payload.update(group_id=job.group_id, model=job.model, name=job.name, status=job.status)
        message = f"{job.name}: {message}"
    subject = job.id if job is not None else (throughput.job_id or UNKNOWN_SUBJECT)[:32]
    sandbox = job is not None and job.sandbox
    outbox.announce(session, "evaluation.cleanup", subject, message, sandbox=sandbox, **payload)

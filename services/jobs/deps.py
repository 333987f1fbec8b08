"""What the job use cases need from outside, built once per process and passed to every use case."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from services.aws.bedrock import BedrockJobs
from services.aws.clients import ClientOptions, bedrock_client, s3_client, sqs_client
from services.aws.queue import JobEventQueue
from services.aws.s3 import JobOutputs
from services.platform.config import Settings
from services.tuning.pricing import PriceTable, load_prices

SANDBOX_ROLE_ARN = "arn:aws:iam::123456789012:role/tunebot-sandbox"


@dataclass(frozen=True, slots=True)
class JobDeps:
    sessions: sessionmaker[Session]
    bedrock: BedrockJobs
    outputs: JobOutputs
    settings: Settings
    prices: PriceTable
    owner: str
    sandbox: bool = False
    events: JobEventQueue | None = None  # push: Bedrock's state changes, when TUNEBOT_EVENTS_QUEUE_URL is set
    submit_lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)


def make_job_deps(
    settings: Settings,
    sessions: sessionmaker[Session],
    owner: str,
    *,
    sandbox: bool = False,
) -> JobDeps:
    """The production wiring: AWS clients with the configured region, endpoint and retry policy."""
    options = ClientOptions.from_settings(settings)
    return JobDeps(
        sessions=sessions,
        bedrock=BedrockJobs(bedrock_client(options)),
        outputs=JobOutputs(s3_client(options)),
        settings=settings,
        prices=load_prices(settings.prices_file),
        owner=owner,
        sandbox=sandbox,
        events=(
            JobEventQueue(sqs_client(options), settings.events_queue_url)
            if settings.events_queue_url
            else None
        ),
    )


def outputs_root(settings: Settings) -> str:
    return settings.s3_uri or "s3://tunebot-sandbox/tunebot"

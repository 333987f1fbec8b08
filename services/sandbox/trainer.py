"""The offline stand-in for Bedrock (DESIGN §8): an embedded moto server for S3 and the Bedrock job API,
and a simulated trainer that finishes jobs like Bedrock would.

Everything downstream runs unchanged against it: the job service talks to the moto server through the
same boto3 clients, over loopback. The trainer moves a job to Completed ``TUNEBOT_SANDBOX_TRAIN_SECONDS``
after it first sees it, having written ``step_wise_training_metrics.csv`` and ``validation_metrics.csv``
with a plausible loss curve under the job's output prefix, where Bedrock writes them. Every event of a
sandbox job says "sandbox: simulated results" (``services.jobs.service`` marks them).

The simulated Bedrock survives a restart of the process: after every tick (and at a clean stop) the
trainer writes its jobs, their statuses and how long each has trained to
``TUNEBOT_DATA_DIR/sandbox/bedrock-jobs.json``, and the next start puts them back into moto, so a job
that was training carries on where it was and one that had finished is still there, metrics included.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from moto.backends import get_backend
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.server import ThreadedMotoServer

from services.aws.clients import ClientOptions, s3_client
from services.aws.s3 import TRAINING_METRICS_FILE, VALIDATION_METRICS_FILE, split_s3_uri
from services.platform.config import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

SANDBOX_CREDENTIALS = ("sandbox-access-key", "sandbox-secret-key")  # moto accepts any; nothing real
SANDBOX_S3_URI = "s3://tunebot-sandbox/tunebot"
SANDBOX_ROLE_ARN = "arn:aws:iam::123456789012:role/tunebot-sandbox"
STEPS_PER_EPOCH = 12
STATE_FILE = Path("sandbox") / "bedrock-jobs.json"
# Each completed job's custom model ARN -> how many training records it saw, beside the state file, so
# the simulated model scores like a model of that training size (a sweep's subsets share one test set).
TRAINED_FILE = "trained-models.json"
# What moto's job keeps that a restart must give back, by its constructor's argument names.
_JOB_FIELDS = (
    "job_name", "custom_model_name", "role_arn", "base_model_identifier", "training_data_config",
    "output_data_config", "hyper_parameters", "client_request_token", "customization_type",
    "custom_model_kms_key_id", "job_tags", "custom_model_tags", "validation_data_config", "vpc_config",
)  # fmt: skip


@dataclass
class Sandbox:
    """A running stand-in: its endpoint, the settings that point at it, and its trainer."""

    server: ThreadedMotoServer
    settings: Settings
    trainer: SimulatedTrainer

    def stop(self) -> None:
        self.trainer.save()
        self.server.stop()


def start_sandbox(settings: Settings) -> Sandbox:
    """Start moto on a free loopback port; return settings for it (endpoint, bucket, role, and the
    stand-in's credentials, which every client built from them uses).

    Safe to call again in the same process: moto's state is the process's, so a second sandbox finds
    the first one's bucket (BucketAlreadyOwnedByYou is expected) and its jobs."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    sandboxed = settings.pointed_at_stand_in(
        SANDBOX_CREDENTIALS,
        aws_endpoint_url=endpoint,
        s3_uri=settings.s3_uri or SANDBOX_S3_URI,
        role_arn=settings.role_arn or SANDBOX_ROLE_ARN,
    )
    s3 = s3_client(ClientOptions.from_settings(sandboxed))
    bucket, _prefix = split_s3_uri(sandboxed.s3_uri or SANDBOX_S3_URI)
    # moto's state is per process: a sandbox started again in the same process finds its bucket there.
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        location: Any = {"LocationConstraint": sandboxed.aws_region}
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration=location)
    state_file = Path(settings.data_dir) / STATE_FILE
    trainer = SimulatedTrainer(
        s3, sandboxed.aws_region, sandboxed.sandbox_train_seconds, state_file=state_file
    )
    restored = trainer.restore()
    log.info("sandbox started: simulated Bedrock and S3", extra={"endpoint": endpoint, "restored": restored})
    return Sandbox(server=server, settings=sandboxed, trainer=trainer)


def loss_curve(epochs: int, seed: str) -> tuple[list[tuple[int, int, float]], list[float]]:
    """A plausible run: training loss decaying with noise per step, validation loss per epoch above it."""
    rng = random.Random(seed)
    start, floor = rng.uniform(2.0, 2.6), rng.uniform(0.25, 0.45)
    rate = rng.uniform(0.03, 0.06)
    training = []
    for step in range(1, epochs * STEPS_PER_EPOCH + 1):
        loss = floor + (start - floor) * math.exp(-rate * step) + rng.uniform(-0.04, 0.04)
        training.append((step, (step - 1) // STEPS_PER_EPOCH, round(max(loss, 0.01), 4)))
    validation = []
    for epoch in range(epochs):
        last = training[(epoch + 1) * STEPS_PER_EPOCH - 1][2]
        validation.append(round(last * rng.uniform(1.05, 1.2) + 0.05, 4))
    return training, validation


def metrics_files(epochs: int, seed: str) -> dict[str, str]:
    training, validation = loss_curve(epochs, seed)
    training_csv = "step_number,epoch_number,training_loss,perplexity\n" + "".join(
        f"{step},{epoch},{loss},{math.exp(loss):.4f}\n" for step, epoch, loss in training
    )
    validation_csv = "step_number,epoch_number,validation_loss,perplexity\n" + "".join(
        f"{(epoch + 1) * STEPS_PER_EPOCH},{epoch},{loss},{math.exp(loss):.4f}\n"
        for epoch, loss in enumerate(validation)
    )
    return {TRAINING_METRICS_FILE: training_csv, VALIDATION_METRICS_FILE: validation_csv}


@dataclass
class SimulatedTrainer:
    """Finishes the moto server's InProgress jobs after ``train_seconds``, writing their metrics first."""

    s3: S3Client
    region: str
    train_seconds: float
    clock: Callable[[], float] = time.monotonic
    first_seen: dict[str, float] = field(default_factory=dict)
    state_file: Path | None = None

    def _jobs(self) -> dict[str, Any]:
        jobs: dict[str, Any] = get_backend("bedrock")[DEFAULT_ACCOUNT_ID][
            self.region
        ].model_customization_jobs
        return jobs

    def tick(self) -> list[str]:
        """Complete every job that has trained long enough; return their names."""
        now = self.clock()
        finished = []
        for name, job in list(self._jobs().items()):
            if job.status != "InProgress":
                continue
            seen = self.first_seen.setdefault(name, now)
            if now - seen < self.train_seconds:
                continue
            self._write_metrics(name, job)
            self._record_training_size(job)
            job.status = "Completed"
            finished.append(name)
            log.info("sandbox job completed", extra={"job": name})
        self.save()
        return finished

    def save(self) -> None:
        """Write the simulated jobs to the state file (atomically: a kill mid-write keeps the last one)."""
        if self.state_file is None:
            return
        now = self.clock()
        jobs = [
            {
                "fields": {name: getattr(job, name, None) for name in _JOB_FIELDS},
                "status": job.status,
                "trained_seconds": now - self.first_seen.get(name, now),
            }
            for name, job in self._jobs().items()
        ]
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        partial = self.state_file.with_suffix(".partial")
        partial.write_text(json.dumps({"jobs": jobs}))
        os.replace(partial, self.state_file)

    def restore(self) -> int:
        """Put the jobs of the state file back into moto; return how many came back."""
        if self.state_file is None or not self.state_file.exists():
            return 0
        try:
            saved = json.loads(self.state_file.read_text())["jobs"]
        except (OSError, ValueError, KeyError) as error:
            log.warning("sandbox state unreadable; starting empty", extra={"error": str(error)})
            return 0
        backend = get_backend("bedrock")[DEFAULT_ACCOUNT_ID][self.region]
        now = self.clock()
        restored = 0
        for entry in saved:
            fields = entry["fields"]
            name = fields["job_name"]
            if name in self._jobs():
                continue
            backend.create_model_customization_job(**fields)
            job = self._jobs()[name]
            job.status = entry["status"]
            self.first_seen[name] = now - float(entry.get("trained_seconds", 0.0))
            if job.status == "Completed":
                self._write_metrics(name, job)  # the simulated S3 started empty too
            restored += 1
        return restored

    def _record_training_size(self, job: Any) -> None:
        if self.state_file is None:
            return
        try:
            bucket, key = split_s3_uri(job.training_data_config["s3Uri"])
            body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as error:  # the model then scores by its test set's report, as before
            log.warning("sandbox training size unknown", extra={"job": job.job_name, "error": str(error)})
            return
        records = sum(1 for line in body.splitlines() if line.strip())
        path = self.state_file.parent / TRAINED_FILE
        trained = json.loads(path.read_text()) if path.exists() else {}
        trained[job.output_model_arn] = records
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(trained))
        os.replace(partial, path)

    def _write_metrics(self, name: str, job: Any) -> None:
        epochs = int((job.hyper_parameters or {}).get("epochCount", "3"))
        bucket, prefix = split_s3_uri(job.output_data_config["s3Uri"])
        folder = f"{prefix}/model-customization-job-{name}" if prefix else f"model-customization-job-{name}"
        for file_name, text in metrics_files(epochs, name).items():
            area = "training_artifacts" if file_name == TRAINING_METRICS_FILE else "validation_artifacts"
            self.s3.put_object(Bucket=bucket, Key=f"{folder}/{area}/{file_name}", Body=text.encode())

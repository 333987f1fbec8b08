"""The service role's scheduled work, wired once at start-up: the sandbox (when chosen), polling Bedrock
(and, with push on, the listener on Bedrock's job events),
dataset checks, evaluations with the comparison of pairs, and the Provisioned Throughput janitor.

Each task runs under its own database lease (services.platform.scheduler): with several replicas, one does it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from sqlalchemy.orm import Session, sessionmaker

from services.aws.errors import AwsError
from services.datasets.service import CheckDeps, check_waiting, make_check_deps
from services.evaluation import janitor, overdue
from services.evaluation.group_report import compare_group
from services.evaluation.inference import Inference
from services.evaluation.runner import default_inference, evaluate_pending
from services.evaluation.variant import RunOptions
from services.jobs.deps import JobDeps, make_job_deps
from services.jobs.poll import poll_once
from services.jobs.push import EventListener
from services.jobs.service import group_id_of
from services.platform import leases
from services.platform.config import Settings
from services.platform.scheduler import Scheduler
from services.sandbox.trainer import Sandbox
from services.sweeps.deps import SweepDeps
from services.sweeps.outcome import finish_sweeps

log = logging.getLogger(__name__)

DATASET_CHECK_SECONDS = 5  # how soon an uploaded dataset's check starts
JANITOR_SECONDS = 900


@dataclass
class ServiceWiring:
    """What the API routes and the tasks share: the job and dataset dependencies, and the sandbox."""

    job_deps: JobDeps
    check_deps: CheckDeps
    sweep_deps: SweepDeps
    sandbox: Sandbox | None = None
    events: EventListener | None = None

    def close(self) -> None:
        if self.events is not None:
            self.events.stop()
        if self.check_deps.runner is not None:
            self.check_deps.runner.close()
        if self.sandbox is not None:
            self.sandbox.stop()


def register_tasks(
    scheduler: Scheduler,
    sessions: sessionmaker[Session],
    owner: str,
    backend: str,
    settings: Settings,
) -> ServiceWiring:
    sandbox: Sandbox | None = None
    inference_factory: Callable[[Settings], Inference] = default_inference
    if backend == "sandbox":
        from services.sandbox.inference import SimulatedInference
        from services.sandbox.trainer import start_sandbox

        # Embedded moto for S3 and Bedrock jobs; the trainer finishes jobs like Bedrock would.
        sandbox = start_sandbox(settings)
        settings = sandbox.settings  # pointed at the stand-in, its credentials carried by the settings
        simulated = SimulatedInference(settings.data_dir)
        trainer = sandbox.trainer

        def simulated_model(_settings: Settings) -> Inference:
            return simulated  # one simulated model, so its throughputs outlive a single evaluation

        def train() -> None:
            trainer.tick()

        inference_factory = simulated_model
        scheduler.every("sandbox-trainer", 2, train)

    is_sandbox = sandbox is not None
    job_deps = make_job_deps(settings, sessions, owner, sandbox=is_sandbox)
    check_deps = make_check_deps(
        settings,
        sessions,
        owner,
        sandbox=is_sandbox,
        wake=partial(scheduler.run_soon, "datasets"),  # an upload's check starts now, not at the next tick
    )
    sweep_deps = SweepDeps(job_deps, check_deps.s3)

    def poll() -> None:
        poll_once(job_deps)

    def check_datasets() -> None:
        check_waiting(check_deps)

    # Short row leases, renewed by the scheduler's lease keeper: a dead runner's evaluation is resumed
    # by another replica within seconds, not after the runner's default ten minutes.
    run_options = RunOptions(lease_seconds=leases.LEASE_SECONDS)

    def evaluate() -> None:
        if overdue.fail_overdue(sessions, settings):
            sweep()  # their Provisioned Throughputs go now, not at the janitor's next round
        finished = evaluate_pending(
            sessions,
            settings,
            inference_factory=inference_factory,
            owner=owner,
            options=run_options,
        )
        for job_id in finished:
            _compare_if_pair(sessions, settings, job_id)
        if finished:
            finish_sweeps(sweep_deps)  # a sweep's last evaluation ends it now, not at the next round

    def sweeps() -> None:
        finish_sweeps(sweep_deps)

    def sweep() -> None:
        try:
            janitor.sweep(sessions, settings, inference_factory(settings))
        except AwsError as error:  # e.g. no permission to list: say so, try again next time
            log.warning("janitor could not list Provisioned Throughput", extra={"error": str(error)})
        except NotImplementedError:
            # An endpoint without Provisioned Throughput (moto, in tests and benchmarks): one line, no
            # traceback; nothing there can be left running.
            log.warning("janitor skipped: this Bedrock endpoint has no Provisioned Throughput listing")

    # With push on, events bring changes within seconds and the poll only reconciles, less often.
    scheduler.every("poll", settings.job_poll_seconds, poll)
    scheduler.every("datasets", DATASET_CHECK_SECONDS, check_datasets)
    # Evaluations wait on Bedrock far longer than a poll interval; checking as often as polling is enough.
    scheduler.every("evaluate", settings.poll_seconds, evaluate)
    # The janitor runs at start-up (the first tick is immediate) and then every 15 minutes.
    scheduler.every("janitor", JANITOR_SECONDS, sweep)
    # Sweeps also end when a job fails or is cancelled, which no evaluation announces.
    scheduler.every("sweeps", settings.poll_seconds, sweeps)
    listener = EventListener(job_deps, job_deps.events) if job_deps.events is not None else None
    if listener is not None:
        listener.start()  # every replica listens: SQS hands each message to one, the guarded apply dedups
    return ServiceWiring(
        job_deps=job_deps, check_deps=check_deps, sweep_deps=sweep_deps, sandbox=sandbox, events=listener
    )


def _compare_if_pair(sessions: sessionmaker[Session], settings: Settings, job_id: str) -> None:
    group_id = group_id_of(sessions, job_id)
    if group_id is not None:
        # Does nothing until both sizes of a pair are evaluated; announces group.compared once.
        compare_group(sessions, settings, group_id)

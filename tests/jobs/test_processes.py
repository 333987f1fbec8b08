"""Process level: `tunebot serve --role service` against a moto server on loopback, driven by the CLI;
then two service processes on one database polling the same jobs."""

from __future__ import annotations

import json
import os
import subprocess
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from services.aws.clients import make_s3_client
from services.platform.db import make_engine, make_session_factory
from services.platform.migrate import upgrade
from services.platform.tables import Event, Job
from tests.datasets.fixtures import make_llava, make_zip
from tests.jobs.conftest import add_dataset, moto_jobs
from tests.servers import AUTH, BUCKET, REGION, TOKEN, TUNEBOT_BIN, cli, serve, service_env, wait_until

pytestmark = pytest.mark.slow
POLLING = {"TUNEBOT_POLL_SECONDS": "5"}  # the CLI follows jobs that move
TRAINING_CSV = "step_number,epoch_number,training_loss,perplexity\n1,0,2.0,7.4\n2,0,1.5,4.5\n3,1,1.1,3.0\n"


def cli_on_a_terminal(base: str, *args: str, answer: str) -> tuple[int, str]:
    """Run `tunebot jobs ARGS` on a pseudo-terminal, as a person would, answering its question."""
    env = {**os.environ, "TUNEBOT_SERVICE_URL": base, "TUNEBOT_API_TOKEN": TOKEN}
    controller, terminal = os.openpty()
    process = subprocess.Popen(
        [TUNEBOT_BIN, "jobs", *args], stdin=terminal, stdout=terminal, stderr=terminal, env=env
    )
    os.close(terminal)
    seen = b""
    try:
        while b"Launch, accepting this estimate?" not in seen:
            chunk = os.read(controller, 4096)
            assert chunk, seen.decode(errors="replace")
            seen += chunk
        os.write(controller, answer.encode() + b"\n")
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # Linux answers EIO once the child closed its end
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(controller)
    return process.wait(timeout=60), seen.decode(errors="replace").replace("\r\n", "\n")


def test_the_cli_launches_follows_and_cancels_through_a_service_process(
    moto_url: str, database_url: str, tmp_path: Path
) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    dataset_id = add_dataset(sessions)
    with serve(service_env(database_url, tmp_path, **POLLING), tmp_path / "service.log") as base:
        pair = ("--model", "11b", "--model", "90b", "--no-evaluate", "--idempotency-key", "k1")
        # Without a terminal to ask on and without --yes, nothing billable starts; the estimate is shown.
        unasked = cli(base, "launch", dataset_id, *pair)
        assert unasked.returncode == 2 and "Rerun with --yes" in unasked.stderr
        assert "11B: 8 epochs" in unasked.stdout and "estimated $" in unasked.stdout
        assert "placeholder prices: set real ones in TUNEBOT_PRICES_FILE" in unasked.stdout
        # A person at a terminal sees the estimate and is asked; "no" launches nothing.
        declined, shown = cli_on_a_terminal(base, "launch", dataset_id, *pair, answer="n")
        assert declined == 1 and "not launched" in shown
        assert shown.index("total: estimated $") < shown.index("Launch, accepting this estimate?")
        assert len(moto_jobs()) == 0
        launched = cli(base, "launch", dataset_id, *pair, "--yes")
        again = cli(base, "launch", dataset_id, *pair, "--yes")
        assert launched.returncode == 0, launched.stderr
        assert "launched" in launched.stdout and "already launched with this key" in again.stdout
        job_11b, job_90b = json.loads(cli(base, "list", "--json").stdout)["jobs"][::-1]
        assert len(moto_jobs()) == 2
        assert (job_11b["name"], job_90b["name"]) == ("charts-11b", "charts-90b")  # names people can type

        s3 = make_s3_client(REGION, moto_url)
        key = f"tunebot/jobs/{job_11b['id']}/output/model-customization-job-x/training_artifacts/"
        s3.put_object(Bucket=BUCKET, Key=key + "step_wise_training_metrics.csv", Body=TRAINING_CSV.encode())
        moto_jobs()[job_11b["bedrock_job_name"]].status = "Completed"
        cancelled = cli(base, "cancel", "charts-90b")  # by its name
        assert cancelled.returncode == 0, cancelled.stderr
        assert "cannot resume" in cancelled.stdout

        wait_until(lambda: "done" in cli(base, "show", job_11b["id"]).stdout, 30)
        wait_until(lambda: "cancelled" in cli(base, "show", job_90b["id"]).stdout, 30)
        shown = cli(base, "show", "charts-11b").stdout
        assert "final training loss 1.1" in shown and "loss-curve.png" in shown
        refused = cli(base, "cancel", job_11b["id"])
        assert refused.returncode == 1 and refused.stderr.startswith("not_cancellable:")
        unknown = cli(base, "launch", dataset_id, "--epochs", "12", "--yes")
        assert unknown.returncode == 2 and "(epochs)" in unknown.stderr
    engine.dispose()


def test_two_service_processes_polling_ten_jobs_make_each_job_and_event_once(
    moto_url: str, database_url: str, tmp_path: Path
) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    dataset_id = add_dataset(sessions)
    env = service_env(database_url, tmp_path, **POLLING, TUNEBOT_MAX_CONCURRENT_JOBS="4")
    with ExitStack() as stack:
        bases = [stack.enter_context(serve(env, tmp_path / f"service-{n}.log")) for n in range(2)]
        headers = AUTH
        for index in range(10):
            body = {"dataset_id": dataset_id, "models": ["11b"], "requested_by": "U1", "evaluate": False}
            for base in bases:  # every launch is sent to both replicas with the same key
                answer = httpx.post(
                    base + "/api/v1/jobs",
                    json=body,
                    headers={**headers, "Idempotency-Key": f"k{index}"},
                    timeout=30,
                )
                assert answer.status_code in (200, 201), answer.text

        def finish_running() -> bool:
            for job in moto_jobs().values():
                job.status = "Completed"
            with sessions() as session:
                finished = session.scalar(select(func.count()).select_from(Job).where(Job.status == "done"))
            return finished == 10

        wait_until(finish_running, 90, lambda: (tmp_path / "service-0.log").read_text()[-2000:])

    assert len(moto_jobs()) == 10
    with sessions() as session:
        counts = dict(session.execute(select(Event.type, func.count()).group_by(Event.type)).all())
    assert counts["job.created"] == counts["job.submitted"] == counts["job.completed"] == 10
    assert counts.get("job.queued") == 6
    engine.dispose()


def test_the_cli_checks_lists_and_shows_datasets_through_a_service_process(
    moto_url: str, database_url: str, tmp_path: Path
) -> None:
    good = make_zip(tmp_path / "charts.zip", make_llava(tmp_path / "llava", 120, text_only=110))
    small = make_zip(tmp_path / "small.zip", make_llava(tmp_path / "small", 12, text_only=10))
    with serve(service_env(database_url, tmp_path, **POLLING), tmp_path / "service.log") as base:
        usable = cli(base, "check", str(good), "--created-by", "U1", group="datasets")
        unusable = cli(base, "check", str(small), "--created-by", "U1", group="datasets")
        missing = cli(base, "check", str(tmp_path / "nope.zip"), group="datasets")
        listed = cli(base, "list", "--created-by", "U1", group="datasets")
        dataset_id = usable.stdout.split()[0]
        shown = cli(base, "show", dataset_id, "--json", group="datasets")

    assert usable.returncode == 0, usable.stdout + usable.stderr
    assert " ready " in usable.stdout and "120 accepted" in usable.stdout
    assert unusable.returncode == 1
    assert " unusable " in unusable.stdout
    assert missing.returncode == 2 and "no file at" in missing.stderr
    assert len(listed.stdout.strip().splitlines()) == 2
    assert json.loads(shown.stdout)["report"]["counts"]["accepted"] == 120

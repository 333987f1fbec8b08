"""The sandbox survives its own restart: a simulated job that was training when the process was killed
carries on and finishes after `tunebot serve` starts again, once, with its metrics."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from services.sandbox.trainer import STATE_FILE
from tests.faults.harness import AUTH, TOKEN, Replica, events_of, jobs_in, wait_until
from tests.jobs.conftest import add_dataset

pytestmark = pytest.mark.slow


def test_a_simulated_job_training_when_the_sandbox_is_killed_finishes_after_the_restart(
    database_url: str, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    env = {
        "TUNEBOT_DATABASE_URL": database_url,
        "TUNEBOT_API_TOKEN": TOKEN,
        "TUNEBOT_BACKEND": "sandbox",
        "TUNEBOT_DATA_DIR": str(data_dir),
        "TUNEBOT_POLL_SECONDS": "5",
        "TUNEBOT_SANDBOX_TRAIN_SECONDS": "15",
    }
    dataset_id = add_dataset(sessions)
    sandbox = Replica(env, tmp_path / "sandbox.log").start()
    try:
        answer = sandbox.launch(dataset_id, "restart-1")
        assert answer.status_code == 201, answer.text
        [job] = jobs_in(sessions)
        assert job.status == "training"
        state = data_dir / STATE_FILE

        def saved() -> bool:
            return state.exists() and job.bedrock_job_name in state.read_text()

        wait_until(saved, 30, sandbox.tail)
        sandbox.kill()
        assert jobs_in(sessions)[0].status == "training", "killed while the simulated job trains"
        [entry] = json.loads(state.read_text())["jobs"]
        assert entry["status"] == "InProgress"

        sandbox.start()
        wait_until(lambda: jobs_in(sessions)[0].status == "done", 90, sandbox.tail)
        again = sandbox.launch(dataset_id, "restart-1")  # the same key answers with the same group
        assert again.status_code == 200 and again.json()["group_id"] == answer.json()["group_id"]
        detail = httpx.get(f"{sandbox.base}/api/v1/jobs/{job.id}", headers=AUTH, timeout=30).json()
    finally:
        sandbox.stop()

    assert detail["status"] == "done"
    assert detail["metrics"] and len(detail["metrics"]["training"]) > 0
    assert [event.subject_id for event in events_of(sessions, "job.completed")] == [job.id], "once"
    assert events_of(sessions, "job.failed") == []
    [completed] = events_of(sessions, "job.completed")
    assert "sandbox: simulated results" in completed.payload["message"]

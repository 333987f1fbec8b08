"""The sandbox product end to end, as a newcomer meets it with `make run`: `tunebot serve` as a process
without AWS credentials picks the sandbox, and the CLI (as processes) checks a dataset, launches both
sizes, and reads the comparison once the simulated backend has trained and evaluated them. The two
sizes' F1 differ, as the published study's do, and every figure says it is simulated."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from services.platform.labels import SANDBOX_LABEL
from tests.conftest import TUNEBOT_BIN, free_port
from tests.datasets.fixtures import make_vqav2, make_zip

# Two trainings and four evaluations through real processes: minutes on a busy machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(480)]
TOKEN = "sandbox-product-token-0123456789"


@contextmanager
def make_run(env: dict[str, str], log: Path) -> Iterator[str]:
    """`tunebot serve` as `make run` starts it; its log goes to a file (a pipe nobody reads would fill
    up and stall the server)."""
    port = free_port()
    with log.open("w") as sink:
        process = subprocess.Popen(
            [TUNEBOT_BIN, "serve", "--port", str(port)], env={**os.environ, **env}, stdout=sink, stderr=sink
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while not _ready(base):
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def _ready(base: str) -> bool:
    try:
        return httpx.get(base + "/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def tunebot(base: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TUNEBOT_SERVICE_URL": base, "TUNEBOT_API_TOKEN": TOKEN}
    return subprocess.run([TUNEBOT_BIN, *args], env=env, capture_output=True, text=True, timeout=120)


def test_make_run_without_aws_shows_a_labelled_comparison_where_11b_and_90b_differ(
    database_url: str, tmp_path: Path
) -> None:
    # VQAv2-shaped data: the study's Cut-VQAv2 figures are the ones where the sizes differ most.
    upload = make_zip(tmp_path / "vqa.zip", make_vqav2(tmp_path / "vqa", 300))
    env = {
        "TUNEBOT_DATABASE_URL": database_url,
        "TUNEBOT_API_TOKEN": TOKEN,
        "TUNEBOT_DATA_DIR": str(tmp_path / "data"),
        "TUNEBOT_POLL_SECONDS": "5",
        "TUNEBOT_SANDBOX_TRAIN_SECONDS": "1",
    }  # no TUNEBOT_BACKEND and no AWS credentials: the sandbox is chosen, as by `make run`
    log = tmp_path / "serve.log"
    with make_run(env, log) as base:
        info = httpx.get(base + "/api/v1/info", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        assert info.json()["backend"] == "sandbox"

        checked = tunebot(base, "datasets", "check", str(upload), "--json")
        assert checked.returncode == 0, checked.stderr
        dataset = json.loads(checked.stdout)
        assert dataset["status"] == "ready" and dataset["sandbox"] is True

        launched = tunebot(
            base, "jobs", "launch", dataset["id"], "--model", "11b", "--model", "90b", "--yes", "--json"
        )
        assert launched.returncode == 0, launched.stderr
        assert SANDBOX_LABEL in launched.stderr  # the estimate it showed before launching says so
        group_id = json.loads(launched.stdout)["group_id"]

        deadline = time.monotonic() + 300
        while (
            shown := tunebot(base, "jobs", "compare", group_id, "--chart", str(tmp_path / "c.png"))
        ).returncode:
            assert "no comparison yet" in shown.stderr, shown.stderr
            assert time.monotonic() < deadline, shown.stderr + log.read_text()[-3000:]
            time.sleep(2)
        stored = json.loads(tunebot(base, "jobs", "compare", group_id, "--json").stdout)

    small, large = stored["model_11b"], stored["model_90b"]
    assert stored["sandbox"] is True and stored["example_count"] >= 20
    assert small["base_f1"] != large["base_f1"] and small["fine_tuned_f1"] != large["fine_tuned_f1"]
    assert stored["verdict"].startswith(SANDBOX_LABEL)
    # Where the sizes disagree, the report quotes the test set's question and reference (read from the
    # sandbox's S3 with the credentials its settings carry).
    assert stored["disagreements"]
    assert all(item["question"] and item["references"] for item in stored["disagreements"])
    lines = shown.stdout.splitlines()
    assert lines[0] == SANDBOX_LABEL  # the report a person reads starts with the label
    assert f"11B: F1 {small['base_f1']:.1f} → {small['fine_tuned_f1']:.1f}" in shown.stdout
    assert f"90B: F1 {large['base_f1']:.1f} → {large['fine_tuned_f1']:.1f}" in shown.stdout
    assert (tmp_path / "c.png").read_bytes().startswith(b"\x89PNG")

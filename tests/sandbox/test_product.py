"""The sandbox product end to end, as a newcomer meets it with `make run`: `tunebot serve` as a process
without AWS credentials picks the sandbox, and the CLI (as processes) checks a dataset, launches both
sizes, and reads the comparison once the simulated backend has trained and evaluated them. The two
sizes' F1 differ, as the published study's do, and every figure says it is simulated."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from services.platform.labels import SANDBOX_LABEL
from tests.datasets.fixtures import make_vqav2, make_zip
from tests.servers import AUTH, cli, sandbox_env, serve

# Two trainings and four evaluations through real processes: minutes on a busy machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(480)]


def test_make_run_without_aws_shows_a_labelled_comparison_where_11b_and_90b_differ(
    database_url: str, tmp_path: Path
) -> None:
    # VQAv2-shaped data: the study's Cut-VQAv2 figures are the ones where the sizes differ most.
    upload = make_zip(tmp_path / "vqa.zip", make_vqav2(tmp_path / "vqa", 300))
    env = sandbox_env(database_url, tmp_path)
    del env["TUNEBOT_BACKEND"]  # and no AWS credentials: the sandbox is chosen, as by `make run`
    log = tmp_path / "serve.log"
    with serve(env, log, role=None) as base:
        info = httpx.get(base + "/api/v1/info", headers=AUTH, timeout=10)
        assert info.json()["backend"] == "sandbox"

        checked = cli(base, "check", str(upload), "--json", group="datasets")
        assert checked.returncode == 0, checked.stderr
        dataset = json.loads(checked.stdout)
        assert dataset["status"] == "ready" and dataset["sandbox"] is True

        launched = cli(base, "launch", dataset["id"], "--model", "11b", "--model", "90b", "--yes", "--json")
        assert launched.returncode == 0, launched.stderr
        assert SANDBOX_LABEL in launched.stderr  # the estimate it showed before launching says so
        group_id = json.loads(launched.stdout)["group_id"]

        deadline = time.monotonic() + 300
        while (shown := cli(base, "compare", group_id, "--chart", str(tmp_path / "c.png"))).returncode:
            assert "no comparison yet" in shown.stderr, shown.stderr
            assert time.monotonic() < deadline, shown.stderr + log.read_text()[-3000:]
            time.sleep(2)
        stored = json.loads(cli(base, "compare", group_id, "--json").stdout)

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

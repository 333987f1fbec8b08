"""`tunebot jobs sweep` against a `tunebot serve --role service` process in the sandbox: the whole
sweep's estimate shown before anything starts, then sizes 100, 1000 and all for both models, to the
verdict printed by `tunebot sweeps show`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.datasets.fixtures import make_llava, make_zip
from tests.servers import cli, sandbox_env, serve, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(480)]  # a whole sweep, on a loaded machine

LABEL = "sandbox: simulated results"


def test_the_cli_sweeps_sizes_and_models_to_a_verdict_through_a_service_process(
    database_url: str, tmp_path: Path
) -> None:
    folder = make_llava(tmp_path / "charts", 1_500, text_only=1_400)
    source = make_zip(tmp_path / "charts.zip", folder)
    with serve(
        sandbox_env(database_url, tmp_path, TUNEBOT_MAX_CONCURRENT_JOBS="6"), tmp_path / "service.log"
    ) as base:
        checked = cli(base, "check", str(source), "--json", group="datasets")
        assert checked.returncode == 0, checked.stderr
        dataset = json.loads(checked.stdout)
        train = dataset["report"]["counts"]["train"]

        # Without a terminal to ask on and without --yes, nothing starts; the whole estimate is shown.
        unasked = cli(base, "sweep", dataset["id"], "--sizes", "100,1000,all")
        assert unasked.returncode == 2 and "Rerun with --yes" in unasked.stderr
        assert f"sizes 100, 1,000, {train:,} x 11B and 90B" in unasked.stdout
        assert "   100 x 11B: 8 epochs" in unasked.stdout and " 1,000 x 90B: 5 epochs" in unasked.stdout
        assert "total: estimated $" in unasked.stdout and LABEL in unasked.stdout
        bad = cli(base, "sweep", dataset["id"], "--sizes", "50,all", "--yes")
        assert bad.returncode == 2 and "(sizes)" in bad.stderr and "minimum of 100" in bad.stderr

        started = cli(
            base, "sweep", dataset["id"], "--sizes", "100,1000,all", "--yes", "--idempotency-key", "s1"
        )
        assert started.returncode == 0, started.stderr
        assert "started (idempotency key s1)" in started.stdout
        again = cli(
            base, "sweep", dataset["id"], "--sizes", "100,1000,all", "--yes", "--idempotency-key", "s1"
        )
        assert "already started with this key" in again.stdout
        found = re.search(r"^sweep (\w+) started", started.stdout, re.MULTILINE)
        assert found is not None, started.stdout
        sweep_id = found.group(1)

        def ended() -> bool:
            return "evaluated" in cli(base, "show", sweep_id, group="sweeps").stdout.splitlines()[0]

        wait_until(ended, 240, lambda: cli(base, "show", sweep_id, group="sweeps").stdout)
        shown = cli(base, "show", sweep_id, group="sweeps").stdout
        assert "F1 per doubling of data" in shown and "Next:" in shown and LABEL in shown
        assert shown.count(" done ") == 6
        answer = json.loads(cli(base, "show", sweep_id, "--json", group="sweeps").stdout)
        assert sorted({cell["train_size"] for cell in answer["cells"]}) == [100, 1000, train]
        unknown = cli(base, "cancel", "nosuchsweep", group="sweeps")
        assert unknown.returncode == 1 and unknown.stderr.startswith("sweep_not_found:")
        finished = cli(base, "cancel", sweep_id, group="sweeps")
        assert finished.returncode == 1 and "only a running sweep can be cancelled" in finished.stderr

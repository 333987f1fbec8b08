"""The benchmarks keep running: nothing else runs bench/ between full runs (an hour on 2 cores), and
bench/slack_ack.py once crashed at its very end, writing its results, after the client's answers became
typed. So: every benchmark imports and answers --help; `make bench` runs every benchmark the README's
table is written from; the README shows the table bench/table.py writes from the committed results; and
the in-process benchmarks and bench/slack_ack.py run end to end on tiny inputs, into a scratch results
folder that bench/table.py then reads. (mypy strict covers bench/ too, in `make lint`.)"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
# Scripts a user runs; the others are their shared parts (common, fixtures, baselines).
SCRIPTS = ("prepare", "check", "slack_ack", "notify", "eval", "poll", "score")


def bench_env(results: Path | None) -> dict[str, str]:
    """Full-scale defaults; results into ``results`` if given, else bench/results/ (read, never written)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNEBOT_BENCH_")}
    if results is not None:
        env["TUNEBOT_BENCH_RESULTS_DIR"] = str(results)
    return env


def run_script(name: str, *args: str, results: Path | None = None, timeout: float = 100) -> str:
    completed = subprocess.run(
        [sys.executable, str(BENCH / f"{name}.py"), *args],
        env=bench_env(results),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert completed.returncode == 0, f"bench/{name}.py {' '.join(args)} failed:\n{completed.stderr[-3000:]}"
    return completed.stdout


def table_of(results: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BENCH / "table.py")],
        env=bench_env(results),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def rows_of(table: str) -> list[str]:
    return [line for line in table.splitlines() if line.startswith("| ")][2:]  # past the head and rule


def written(results: Path, name: str) -> dict[str, Any]:
    path = results / f"{name}.json"
    assert path.is_file(), f"bench/{name}.py wrote no {path.name}"
    loaded: dict[str, Any] = json.loads(path.read_text())
    assert loaded["machine"]["cores"] == os.cpu_count()  # every result says where it was measured
    return loaded


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_benchmark_imports_and_explains_itself(name: str) -> None:
    assert "usage:" in run_script(name, "--help")


def test_make_bench_runs_every_benchmark_the_table_is_written_from() -> None:
    makefile = (ROOT / "Makefile").read_text()
    listed = re.search(r"^BENCHMARKS := (.+)$", makefile, re.MULTILINE)
    assert listed is not None, "the Makefile lists no BENCHMARKS"
    table = (BENCH / "table.py").read_text()
    tabled = re.search(r"^BENCHMARKS: .*? = \{(.+?)^\}", table, re.MULTILINE | re.DOTALL)
    assert tabled is not None, "bench/table.py has no BENCHMARKS"
    assert sorted(listed.group(1).split()) == sorted(SCRIPTS)
    assert sorted(re.findall(r'^\s+"(\w+)":', tabled.group(1), re.MULTILINE)) == sorted(SCRIPTS)


def test_readme_shows_the_table_written_from_the_committed_results() -> None:
    table = table_of()
    assert table.stderr == "", table.stderr  # every benchmark's full results are committed
    readme = (ROOT / "README.md").read_text()
    performance = readme.split("## Performance", 1)[1].split("\n## ", 1)[0]
    stale = [row for row in rows_of(table.stdout) if row not in performance]
    assert not stale, "README's table is not bench/table.py's; paste its output over:\n" + "\n".join(stale)
    measured = next(line for line in table.stdout.splitlines() if line.startswith("Measured: "))
    assert measured in performance


@pytest.mark.slow
def test_tiny_runs_write_results_the_table_reads(tmp_path: Path) -> None:
    results = tmp_path / "results"
    run_script("score", "--pairs", "300", "--repeats", "1", results=results)
    run_script("eval", "--examples", "12", "--sequential-examples", "4", results=results)
    run_script("poll", "--jobs", "12", "--history", "3", results=results)

    score = written(results, "score")
    assert (score["pairs"], score["identical_scores"]) == (300, True)
    evaluation = written(results, "eval")
    assert (evaluation["examples"], evaluation["tunebot"]["lost"]) == (12, 0)
    assert evaluation["sequential"]["examples"] == 4
    poll = written(results, "poll")
    assert poll["active_jobs"] == 12
    assert [tick["changed_jobs"] for tick in poll["ticks"]] == [0, 10]

    table = table_of(results)
    rows = rows_of(table.stdout)
    assert [row.split("`")[1] for row in rows] == [
        "bench/eval.py", "bench/poll.py", "bench/poll.py", "bench/score.py",
    ]  # fmt: skip
    assert "SQuAD F1 over 300 pairs" in rows[-1]
    assert "12 examples" in rows[0] and "0 lost" in rows[0]
    # The benchmarks not run are named as left out, not silently dropped.
    for missing in ("prepare", "check", "slack_ack", "notify"):
        assert f"{missing}.json: its rows are left out" in table.stderr


@pytest.mark.slow
@pytest.mark.timeout(300)  # a server and a check worker start: a minute on a loaded 2-core machine
def test_a_tiny_slack_ack_run_writes_results_the_table_reads(tmp_path: Path) -> None:
    """The run whose end once crashed: a real `tunebot serve` checking a 120-record upload (Bedrock's
    minimum is 100, so the check accepts it), two rounds of two commands at once."""
    results = tmp_path / "results"
    cache = tmp_path / "cache"
    run_script(
        "slack_ack", "--records", "120", "--concurrency", "2", "--baseline-rounds", "1", "--min-rounds", "1",
        "--cache-dir", str(cache), results=results, timeout=280,
    )  # fmt: skip

    acknowledged = written(results, "slack_ack")
    assert acknowledged["check"]["status"] == "ready", acknowledged["check"]
    assert acknowledged["check"]["accepted"] == 120
    assert acknowledged["levels"]["2"]["baseline"]["requests"] == 2
    assert acknowledged["levels"]["2"]["during_dataset_check"]["requests"] >= 2
    [row] = rows_of(table_of(results).stdout)
    assert "rounds of 2 concurrent signed slash commands" in row
    assert "checks a 120-record upload" in row

"""The README's performance table, written from bench/results/*.json (so the two cannot drift apart).

Run: `.venv/bin/python bench/table.py` (`make bench` runs it last) and paste its output over the table in
README.md's Performance section. A benchmark without a results file is left out, and said so on stderr.
With TUNEBOT_BENCH_QUICK=1 (`make bench QUICK=1`) it reads a quick run's results, in bench/results/quick/:
a table of those is for checking the benchmarks run, not for the README.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

KIND_NAMES = {
    "passthrough": "pass-through RGB PNG charts",
    "convert": "RGBA PNG charts (flattened and re-encoded)",
}
Row = tuple[str, str, str, str, str]


def _load(name: str) -> dict[str, Any] | None:
    path = common.results_path(name)
    if not path.is_file():
        print(f"no {path}: its rows are left out", file=sys.stderr)
        return None
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def _s(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds >= 10 else f"{seconds:.2f} s"


def _x(ratio: float) -> str:
    return f"{ratio:.2f}×"


def _faster(ratio: float) -> str:
    """A speed-up as read: below 1 it is a slow-down, and says so."""
    return f"{ratio:.2f}× faster" if ratio >= 1 else f"{1 / ratio:.2f}× slower"


def _rounds(spread: dict[str, float] | None, rounds: int) -> str:
    """A ratio measured over several side-by-side rounds: its median is shown, and here its range."""
    if spread is None or rounds < 2:
        return ""
    return f", median of {rounds} rounds ({spread['min']:.2f}–{spread['max']:.2f})"


def _met(ok: bool) -> str:
    return "" if ok else " (not met)"


def prepare_rows(results: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    records = results["records"]
    latency_ms = round(results["latency_per_request_s"] * 1000)
    this_run = results.get("machine", {}).get("date")
    for kind, values in results["kinds"].items():
        what = (
            f"`bench/prepare.py`: {values.get('records', records):,} ChartQA-shaped records, "
            f"{KIND_NAMES[kind]}"
        )
        measured = values.get("measured", "")
        if this_run and not measured.startswith(this_run):
            what += f" (kept from an earlier run: {measured})"
        delayed, direct = values["with_upload_25ms_per_request"], values["with_upload"]
        local, ratios = values["without_upload"], values["ratios"]
        spreads = values.get("ratio_spread", {})
        target_met = ratios["speedup_vs_notebook_25ms"] >= 8
        rows.append((
            f"{what}: prepare + upload to moto behind a loopback proxy adding {latency_ms} ms per request",
            _s(delayed["tunebot"]["seconds"]),
            "AWS's notebook exactly (json.load, `shutil.copy2` each image, one sequential `upload_file` per "
            f"example): {_s(delayed['notebook']['seconds'])}",
            f"**{_faster(ratios['speedup_vs_notebook_25ms'])}**"
            + _rounds(spreads.get("speedup_vs_notebook_25ms"), len(values.get("rounds", [])))
            + _met(target_met),
            "≥ 8×",
        ))  # fmt: skip
        rows.append((
            "same, moto on plain loopback (no added latency)",
            _s(direct["tunebot"]["seconds"]),
            f"the notebook: {_s(direct['notebook']['seconds'])}",
            _faster(ratios["speedup_vs_notebook"])
            + _rounds(spreads.get("speedup_vs_notebook"), len(values.get("rounds", []))),
            "reported beside",
        ))  # fmt: skip
        floor_met = ratios["time_vs_floor"] <= 1.25
        rows.append((
            "same, prepare without upload",
            _s(local["tunebot"]["seconds"]),
            "the floor (read, hash, fully decode every image"
            + (", flatten and encode each as PNG" if kind == "convert" else "")
            + f", all cores): {_s(local['floor']['seconds'])}",
            f"**{_x(ratios['time_vs_floor'])} the floor's time**"
            + _rounds(spreads.get("time_vs_floor"), len(values.get("rounds", [])))
            + _met(floor_met),
            "≤ 1.25×",
        ))  # fmt: skip
    memory = results.get("memory") or {}
    sizes = sorted(
        (value for value in memory.values() if isinstance(value, dict)), key=lambda m: m["records"]
    )
    if len(sizes) == 2:
        small, large = sizes
        ratio = memory["ratio_large_vs_small"]
        rows.append((
            "peak memory of the whole process tree (psutil: the command and its workers), pass-through",
            f"{large['records']:,} records: {large['tree_peak_rss_mb']:.0f} MB",
            f"{small['records']:,} records: {small['tree_peak_rss_mb']:.0f} MB",
            f"**{ratio:.2f}×**{_met(ratio <= 1.25)}",
            "≤ 1.25×",
        ))  # fmt: skip
    return rows


def check_rows(results: dict[str, Any]) -> list[Row]:
    service, cli = results["service_check"], results["tunebot_prepare"]
    ratio = results["ratio_service_vs_cli"]
    return [(
        f"`bench/check.py`: {results['records']:,}-record zip checked by `tunebot serve --role service` "
        "through its API (upload to the report, the check in its worker process)",
        f"{_s(service['seconds'])} (first check, starting the worker: {_s(service['first_check_s'])})",
        f"`tunebot prepare --upload` on the same zip, its own process: {_s(cli['seconds'])}",
        f"**{_x(ratio)} the CLI's time**{_met(results['met'])}",
        "≤ 1.2×",
    )]  # fmt: skip


def slack_ack_rows(results: dict[str, Any]) -> list[Row]:
    check = results["check"]
    rows: list[Row] = []
    for level in results["levels"].values():
        loaded, idle = level["during_dataset_check"], level["baseline"]
        target = level["target_p99_ms"]
        rows.append((
            f"`bench/slack_ack.py`: rounds of {level['concurrency']} concurrent signed slash commands to "
            "`tunebot serve`, time to HTTP 200",
            f"p50 {loaded['p50_ms']:.0f} ms, p99 {loaded['p99_ms']:.0f} ms ({loaded['requests']:,} requests) "
            f"while the same server checks a {check['records']:,}-record upload ({_s(check['seconds'])})",
            f"idle server: p50 {idle['p50_ms']:.0f} ms, p99 {idle['p99_ms']:.0f} ms",
            f"**p99 {loaded['p99_ms'] / idle['p99_ms']:.1f}× the idle p99**{_met(level['meets_target'])}",
            f"p99 < {target / 1000:g} s" if target >= 1000 else f"p99 < {target:.0f} ms",
        ))  # fmt: skip
    return rows


def notify_rows(results: dict[str, Any]) -> list[Row]:
    push, poll = results["modes"]["push"], results["modes"]["poll_only"]
    spaced = push["spaced"]
    return [
        (
            "`bench/notify.py`: Bedrock's status change (moto, simulated) to the Slack stand-in accepting "
            f"the post that says so, {spaced['launches']} launches in one channel "
            f"{spaced['spacing_s']:.0f} s apart",
            f"push (EventBridge → SQS): p50 {spaced['p50_s']:.1f} s, p95 {spaced['p95_s']:.1f} s, "
            f"max {spaced['max_s']:.1f} s",
            f"polling only, `TUNEBOT_POLL_SECONDS={results['poll_seconds']}`: "
            f"p50 {poll['spaced']['p50_s']:.1f} s, p95 {poll['spaced']['p95_s']:.1f} s",
            f"**p95 {results['ratio_push_to_poll_only_spaced_p95']:.3f}× polling's**",
            "push p95 ≤ 5 s; polling p95 ≤ poll + 5 s",
        ),
        (
            f"same, a burst of {push['burst']['launches']} launches at once completing together",
            f"push: p95 {push['burst']['p95_s']:.1f} s, drained at {push['burst']['drain_calls_per_s']:.2f} "
            "chat calls/s",
            f"polling only: p95 {poll['burst']['p95_s']:.1f} s, "
            f"{poll['burst']['drain_calls_per_s']:.2f} calls/s",
            "",
            "drains at Slack's ~1 message/s per channel",
        ),
    ]


def eval_rows(results: dict[str, Any]) -> list[Row]:
    tunebot, sequential = results["tunebot"], results["sequential"]
    stand_in = results["stand_in"]
    return [(
        f"`bench/eval.py`: {results['examples']:,} examples, stand-in with "
        f"{stand_in['latency_seconds'] * 1000:.0f} ms latency throttling above "
        f"{stand_in['rate_limit_per_second']:.0f} requests/s",
        f"{_s(tunebot['seconds'])}, {tunebot['lost']} lost, {tunebot['answered_twice']} answered twice",
        f"the throttle's bound: {_s(results['throttle_bound_seconds'])}; a sequential loop, run on "
        f"{sequential['examples']:,} examples and extrapolated: {_s(sequential['extrapolated_seconds'])}",
        f"**{results['tunebot_over_bound']:.3f}× the bound**, {results['speedup_vs_sequential']:.2f}× faster "
        "than sequential (extrapolated)",
        "≤ 1.3× the bound",
    )]  # fmt: skip


def poll_rows(results: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for tick in results["ticks"]:
        calls = ", ".join(f"{count} `{name}`" for name, count in tick["tunebot_calls"].items())
        rows.append((
            f"`bench/poll.py`: Bedrock calls per poll tick, {results['active_jobs']} active jobs, "
            f"{tick['changed_jobs']} changed",
            calls,
            f"one `Get` per job: {tick['one_get_per_job_total_calls']} calls",
            f"**{tick['one_get_per_job_total_calls'] / tick['tunebot_total_calls']:.0f}× fewer calls**",
            "≤ 2 lists + 1 Get per change",
        ))  # fmt: skip
    return rows


def score_rows(results: dict[str, Any]) -> list[Row]:
    return [(
        f"`bench/score.py`: SQuAD F1 over {results['pairs']:,} pairs",
        _s(results["tunebot_seconds"]),
        "a plain transcription of the official v1.1 logic: "
        f"{_s(results['official_seconds'])}, identical scores",
        f"**{results['ratio']:.2f}× its time**",
        "≤ 1.0×",
    )]  # fmt: skip


BENCHMARKS: dict[str, Callable[[dict[str, Any]], list[Row]]] = {
    "prepare": prepare_rows,
    "check": check_rows,
    "slack_ack": slack_ack_rows,
    "notify": notify_rows,
    "eval": eval_rows,
    "poll": poll_rows,
    "score": score_rows,
}


def _when(results: dict[str, Any]) -> str:
    machine = results.get("machine")
    if not isinstance(machine, dict) or "date" not in machine:
        return "date and load not recorded"
    load = machine.get("load_average_1m", machine.get("load_average_1m_at_start"))
    quick = ", quick mode" if machine.get("quick") else ""
    return f"{machine['date']}, {machine.get('cores')} cores, 1-minute load average {load}{quick}"


def main() -> None:
    lines = [
        "| what | tunebot | beside it, same run | ratio | target |",
        "| --- | --- | --- | --- | --- |",
    ]
    measured: list[str] = []
    for name, rows_of in BENCHMARKS.items():
        results = _load(name)
        if results is None:
            continue
        lines.extend("| " + " | ".join(row) + " |" for row in rows_of(results))
        measured.append(f"`{name}` {_when(results)}")
    print("\n".join(lines))
    print()
    print("Measured: " + "; ".join(measured) + ".")


if __name__ == "__main__":
    main()

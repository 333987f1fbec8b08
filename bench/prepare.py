"""Benchmark: `tunebot prepare` against AWS's published notebook and against the floor, both image kinds,
plus whole-process-tree memory growth.

Run: `.venv/bin/python bench/prepare.py [--records 2000] [--repeats 2]` (TUNEBOT_BENCH_QUICK=1: 500 records,
memory at 1,000 vs 5,000).

One run measures, each contender in its own child process (timed inside it, from its first step to its
last, so interpreter start-up counts for none of them), for each image kind of bench/fixtures.py
(pass-through RGB PNGs; RGBA PNGs that must be flattened and re-encoded):
1. `tunebot prepare --upload` against the notebook's way exactly (bench/baselines.py: copy2, one
   sequential upload_file per example, the whole JSON in memory), both uploading to a moto server
   (its own process on loopback): directly, and through a loopback proxy that holds every request
   25 ms (in-region S3's cost per request). Target: >= 8x the notebook's time with the proxy.
2. `tunebot prepare` without upload against the floor (read + hash + full decode of every image, plus
   the encode of those that must change, on all cores). Target: <= 1.25x the floor's time.
3. Peak memory of the whole process tree (psutil: the command and its pool's workers) preparing
   pass-through datasets of --memory-small and --memory-large records. Target: <= 1.25x.
Results: bench/results/prepare.json. ``--rounds N`` measures the notebook and tunebot side by side N
times and reports each ratio's median and spread (the machine is shared). Kinds not run this time (and
the memory figures with --skip-memory) keep their earlier entry, each with the machine and date it was
measured on.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Final

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import baselines  # noqa: E402
import common  # noqa: E402
import fixtures  # noqa: E402

BUCKET = "bench"
REGION: Final = "us-west-2"  # a Literal, as the S3 stubs want for LocationConstraint
LATENCY_S = 0.025
TARGET_NOTEBOOK_SPEEDUP = 8.0
TARGET_FLOOR_RATIO = 1.25
TARGET_MEMORY_RATIO = 1.25


# --- the children ---------------------------------------------------------------------------------------


def run_tunebot(source: Path, out: Path, upload_uri: str | None) -> dict[str, Any]:
    from services.cli import app

    args = ["prepare", str(source), "--out", str(out), "--json"]
    if upload_uri:
        args += ["--s3-uri", upload_uri, "--upload"]
    stdout = io.StringIO()
    real_stdout, sys.stdout = sys.stdout, stdout
    started = time.perf_counter()
    try:
        app(args, standalone_mode=False)
    except SystemExit as exit_:  # typer.Exit(0/1) ends the command
        if exit_.code not in (0, None):
            raise
    finally:
        sys.stdout = real_stdout
    elapsed = time.perf_counter() - started
    report = json.loads(stdout.getvalue())
    upload = report.get("upload") or {}
    return {
        "seconds": elapsed,
        "accepted": report["counts"]["accepted"],
        "images_uploaded": upload.get("uploaded"),
    }


def child(mode: str, source: Path, out: Path, target: str | None) -> None:
    if mode == "tunebot":
        result = run_tunebot(source, out, target)
    elif mode == "notebook":
        assert target is not None
        result = baselines.run_notebook(source, out, target)
    else:
        result = baselines.run_floor(source)
    print(json.dumps(result))


# --- the parent -----------------------------------------------------------------------------------------


def measure(
    mode: str, source: Path, work: Path, target: str | None, env: dict[str, str], label: str
) -> dict[str, Any]:
    out = work / f"{mode}-{source.name}-{time.monotonic_ns()}"
    command = [sys.executable, __file__, "--child", mode, "--source", str(source), "--out", str(out)]
    if target:
        command += ["--target", target]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with common.TreePeakMemory(process.pid) as memory:
        stdout, stderr = process.communicate(timeout=1800)
    if process.returncode != 0:
        raise SystemExit(f"{mode} on {source.name} failed:\n{stderr[-2000:]}")
    result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    result["seconds"] = round(result["seconds"], 3)
    result["records_per_second"] = round(result["accepted"] / result["seconds"], 1)
    result["tree_peak_rss_mb"] = memory.peak_mb
    print(
        f"  {label:34s} {source.name:28s} {result['seconds']:8.2f} s  peak {memory.peak_mb:6.0f} MB",
        file=sys.stderr,
    )
    return result


def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return min(runs, key=lambda run: run["seconds"])


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median time (the lower middle of an even count): a real run, not an average."""
    return sorted(runs, key=lambda run: run["seconds"])[(len(runs) - 1) // 2]


def spread(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"median": ordered[(len(ordered) - 1) // 2], "min": ordered[0], "max": ordered[-1]}


def measure_kind(
    kind: str,
    source: Path,
    work: Path,
    direct: dict[str, str],
    delayed: dict[str, str],
    repeats: int,
    rounds: int,
) -> dict[str, Any]:
    """Each round: tunebot's runs (the best of ``repeats`` counts) then the notebook's, both uploads."""
    per_round: list[dict[str, Any]] = []
    for round_ in range(rounds):
        runs: dict[str, list[dict[str, Any]]] = {
            "tunebot_upload": [], "tunebot_upload_25ms": [], "tunebot_local": [], "floor": [],
        }  # fmt: skip
        for repeat in range(repeats):
            uri = f"s3://{BUCKET}/tunebot-{kind}-{round_}-{repeat}"
            runs["tunebot_upload"].append(
                measure("tunebot", source, work, uri, direct, "tunebot prepare --upload")
            )
            uri = f"s3://{BUCKET}/tunebot-25ms-{kind}-{round_}-{repeat}"
            runs["tunebot_upload_25ms"].append(
                measure("tunebot", source, work, uri, delayed, "tunebot prepare --upload, 25 ms")
            )
            runs["tunebot_local"].append(measure("tunebot", source, work, None, direct, "tunebot prepare"))
            runs["floor"].append(measure("floor", source, work, None, direct, "floor"))
        notebook = measure("notebook", source, work, BUCKET, direct, "notebook")
        notebook_25ms = measure("notebook", source, work, BUCKET, delayed, "notebook, 25 ms")
        upload, upload_25ms = best(runs["tunebot_upload"]), best(runs["tunebot_upload_25ms"])
        local, floor = best(runs["tunebot_local"]), best(runs["floor"])
        per_round.append({
            "load_average_1m": round(os.getloadavg()[0], 1),
            "with_upload": {"tunebot": upload, "notebook": notebook},
            "with_upload_25ms_per_request": {"tunebot": upload_25ms, "notebook": notebook_25ms},
            "without_upload": {"tunebot": local, "floor": floor},
            "all_runs_s": {name: [run["seconds"] for run in values] for name, values in runs.items()},
            "ratios": {
                "speedup_vs_notebook": round(notebook["seconds"] / upload["seconds"], 2),
                "speedup_vs_notebook_25ms": round(notebook_25ms["seconds"] / upload_25ms["seconds"], 2),
                "time_vs_floor": round(local["seconds"] / floor["seconds"], 2),
            },
        })  # fmt: skip
    names = ("speedup_vs_notebook", "speedup_vs_notebook_25ms", "time_vs_floor")
    spreads = {name: spread([one["ratios"][name] for one in per_round]) for name in names}
    # The round whose 25 ms ratio is the median one gives the seconds shown beside the ratios.
    shown = next(
        one
        for one in per_round
        if one["ratios"]["speedup_vs_notebook_25ms"] == spreads["speedup_vs_notebook_25ms"]["median"]
    )
    return {
        "dataset": str(source.name),
        **{key: shown[key] for key in ("with_upload", "with_upload_25ms_per_request", "without_upload")},
        "ratios": {name: values["median"] for name, values in spreads.items()},
        "ratio_spread": spreads,
        "rounds": per_round,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=500 if common.QUICK else 2000)
    parser.add_argument("--memory-small", type=int, default=1000)
    parser.add_argument("--memory-large", type=int, default=5000 if common.QUICK else 10000)
    parser.add_argument(
        "--repeats", type=int, default=2, help="runs of tunebot and the floor; the best counts"
    )
    parser.add_argument("--rounds", type=int, default=1, help="side-by-side rounds; ratios are their median")
    parser.add_argument("--kinds", default=",".join(fixtures.KINDS))
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "tunebot-bench")
    parser.add_argument("--child", choices=["tunebot", "notebook", "floor"])
    parser.add_argument("--source", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--target")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.source, args.out, args.target)
        return

    from services.aws.clients import make_s3_client

    machine = common.machine()
    kinds = [kind for kind in args.kinds.split(",") if kind]
    sources = {kind: fixtures.dataset(args.cache_dir, args.records, kind) for kind in kinds}
    moto, endpoint = common.start_moto_server()
    host, port = endpoint.removeprefix("http://").split(":")
    proxy = common.LatencyProxy(host, int(port), LATENCY_S).start()
    base_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TUNEBOT_", "AWS_"))},
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
    }
    direct = {**base_env, "AWS_ENDPOINT_URL": endpoint}
    delayed = {**base_env, "AWS_ENDPOINT_URL": proxy.url}
    make_s3_client(REGION, endpoint, ("bench", "bench")).create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    per_kind: dict[str, Any] = {}
    memory: dict[str, Any] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="tunebot-bench-") as scratch:
            work = Path(scratch)
            print(f"records={args.records}, cores={os.cpu_count()}, moto at {endpoint}", file=sys.stderr)
            for kind, source in sources.items():
                per_kind[kind] = {
                    **measure_kind(kind, source, work, direct, delayed, args.repeats, args.rounds),
                    "records": args.records,
                    "measured": measured(machine),
                }
            if not args.skip_memory:
                for size in (args.memory_small, args.memory_large):
                    source = fixtures.dataset(args.cache_dir, size, "passthrough")
                    run = measure("tunebot", source, work, None, direct, f"tunebot prepare ({size} records)")
                    memory[str(size)] = {
                        "records": size,
                        "seconds": run["seconds"],
                        "tree_peak_rss_mb": run["tree_peak_rss_mb"],
                    }
    finally:
        proxy.stop()
        moto.terminate()
        moto.wait(30)

    earlier = _earlier_results()
    for kind, values in earlier.get("kinds", {}).items():
        if kind not in per_kind:  # not run this time: the earlier entry, with its own date and load
            per_kind[kind] = {
                "records": earlier.get("records"),
                "measured": measured(earlier.get("machine", {})),
                **values,
            }
    if not memory and earlier.get("memory"):
        memory = {"measured": measured(earlier.get("machine", {})), **earlier["memory"]}
    ratios = {kind: values["ratios"] for kind, values in per_kind.items()}
    met: dict[str, Any] = {
        kind: {
            "speedup_vs_notebook_25ms": values["speedup_vs_notebook_25ms"] >= TARGET_NOTEBOOK_SPEEDUP,
            "time_vs_floor": values["time_vs_floor"] <= TARGET_FLOOR_RATIO,
        }
        for kind, values in ratios.items()
    }
    if memory and "ratio_large_vs_small" not in memory:
        small, large = memory[str(args.memory_small)], memory[str(args.memory_large)]
        memory["ratio_large_vs_small"] = round(large["tree_peak_rss_mb"] / small["tree_peak_rss_mb"], 3)
    if memory:
        met["memory"] = memory["ratio_large_vs_small"] <= TARGET_MEMORY_RATIO
    results = {
        "benchmark": "tunebot prepare, ChartQA-shaped PNG charts 800x600 (2 questions per chart), both kinds",
        "machine": machine,
        "records": args.records,
        "repeats": args.repeats,
        "rounds": args.rounds,
        "latency_per_request_s": LATENCY_S,
        "baselines": {
            "notebook": baselines.__doc__.split("\n\n")[1].replace("\n", " "),
            "floor": baselines.__doc__.split("\n\n")[2].replace("\n", " "),
        },
        "kinds": per_kind,
        "memory": memory,
        "ratios": ratios,
        "targets": {
            "speedup_vs_notebook_25ms": f">= {TARGET_NOTEBOOK_SPEEDUP}",
            "time_vs_floor": f"<= {TARGET_FLOOR_RATIO}",
            "memory_large_vs_small": f"<= {TARGET_MEMORY_RATIO}",
        },
        "met": met,
    }
    print(f"wrote {common.write_results('prepare', results)}", file=sys.stderr)
    print(json.dumps({"ratios": ratios, "memory": memory.get("ratio_large_vs_small"), "met": met}, indent=2))


def measured(machine: dict[str, Any]) -> str:
    """When and how loaded, for a figure kept from an earlier run (the top-level machine is this run's)."""
    return f"{machine.get('date', 'date not recorded')}, load average {machine.get('load_average_1m', '?')}"


def _earlier_results() -> dict[str, Any]:
    path = common.RESULTS_DIR / "prepare.json"
    if not path.is_file():
        return {}
    earlier: dict[str, Any] = json.loads(path.read_text())
    return earlier


if __name__ == "__main__":
    main()

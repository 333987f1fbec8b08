"""Benchmark: a dataset check through the service against `tunebot prepare` on the same file.

Run: `.venv/bin/python bench/check.py [--records 2000] [--repeats 2]` (TUNEBOT_BENCH_QUICK=1: 500 records).

A moto server, as its own process on loopback, holds the bucket. One ChartQA-shaped zip (pass-through
PNG charts, bench/fixtures.py) is, in alternating runs:
1. `tunebot prepare ZIP --upload --s3-uri ...` as its own process: the command's wall time, start-up
   included;
2. sent to `tunebot serve --role service` (its own process: SQLite, the bedrock backend pointed at moto)
   through its API, as the bot sends a file shared in Slack: the time from the POST until the dataset's
   status leaves `checking` (the check's worker process started, the images uploaded, the row written).
The best run of each counts; the service's first check (which starts its worker process) is reported
beside it. Target: the service's check <= 1.2x the CLI's time. Results: bench/results/check.json.
"""

from __future__ import annotations

import argparse
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

import common  # noqa: E402
import fixtures  # noqa: E402

from services.api.schemas import DatasetStatus  # noqa: E402
from services.aws.clients import make_s3_client  # noqa: E402
from services.client import ServiceClient  # noqa: E402

BUCKET = "bench"
REGION: Final = "us-west-2"  # a Literal, as the S3 stubs want for LocationConstraint
API_TOKEN = "bench-api-token-0123456789"
TARGET_RATIO = 1.2


def aws_env(endpoint: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TUNEBOT_", "AWS_", "SLACK_"))},
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_REGION": REGION,
        "AWS_ENDPOINT_URL": endpoint,
    }


def run_cli(archive: Path, work: Path, endpoint: str, run: int) -> dict[str, Any]:
    out = work / f"cli-{run}"
    command = [
        common.TUNEBOT, "prepare", str(archive), "--out", str(out), "--json",
        "--s3-uri", f"s3://{BUCKET}/cli-{run}", "--upload",
    ]  # fmt: skip
    started = time.perf_counter()
    completed = subprocess.run(command, env=aws_env(endpoint), capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise SystemExit(f"tunebot prepare failed:\n{completed.stderr[-2000:]}")
    report = json.loads(completed.stdout)
    return {
        "seconds": round(seconds, 3),
        "accepted": report["counts"]["accepted"],
        "uploaded": report["upload"]["uploaded"],
    }


def run_service(service: ServiceClient, archive: Path) -> dict[str, Any]:
    started = time.perf_counter()
    accepted = service.upload_dataset(str(archive), archive.name, created_by="UBENCH")
    while True:
        dataset = service.get_dataset(accepted.id)
        if dataset.status != DatasetStatus.CHECKING:
            break
        time.sleep(0.1)
    seconds = time.perf_counter() - started
    report = dataset.report or {}
    if dataset.status != DatasetStatus.READY:
        # An unusable dataset has no error, only its report's findings (under Bedrock's 100 records is a
        # warning there, not an error).
        findings = [*report.get("errors", []), *report.get("warnings", [])][:3]
        why = dataset.error or "; ".join(finding["message"] for finding in findings)
        raise SystemExit(f"the service's check ended {dataset.status}: {why}")
    return {
        "seconds": round(seconds, 3),
        "accepted": report["counts"]["accepted"],
        "uploaded": (report.get("upload") or {}).get("uploaded"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=500 if common.QUICK else 2000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "tunebot-bench")
    args = parser.parse_args()

    machine = common.machine()
    archive = fixtures.zipped(fixtures.dataset(args.cache_dir, args.records))
    moto, endpoint = common.start_moto_server()
    work = Path(tempfile.mkdtemp(prefix="tunebot-bench-check-"))
    port = common.free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **aws_env(endpoint),
        "TUNEBOT_DATABASE_URL": f"sqlite:///{work / 'tunebot.db'}",
        "TUNEBOT_DATA_DIR": str(work / "data"),
        "TUNEBOT_BACKEND": "bedrock",
        "TUNEBOT_LOG_LEVEL": "WARNING",
        "TUNEBOT_API_TOKEN": API_TOKEN,
        "TUNEBOT_ROLE_ARN": "arn:aws:iam::123456789012:role/TunebotBedrock",
        "TUNEBOT_S3_URI": f"s3://{BUCKET}/service",
        "TUNEBOT_POLL_SECONDS": "3600",
    }
    server: subprocess.Popen[bytes] | None = None
    try:
        make_s3_client(REGION, endpoint, ("bench", "bench")).create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        server = subprocess.Popen(
            [common.TUNEBOT, "serve", "--role", "service", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        common.wait_ready(base, server)
        service = ServiceClient(base, API_TOKEN, timeout=300)
        print(f"records={args.records}, cores={os.cpu_count()}, moto at {endpoint}", file=sys.stderr)
        cli_runs, service_runs = [], []
        for run in range(args.repeats):
            service_runs.append(run_service(service, archive))
            print(f"  service check  {service_runs[-1]['seconds']:8.2f} s", file=sys.stderr)
            cli_runs.append(run_cli(archive, work, endpoint, run))
            print(f"  tunebot prepare {cli_runs[-1]['seconds']:7.2f} s", file=sys.stderr)
    finally:
        if server is not None:
            server.terminate()
            server.wait(60)
        moto.terminate()
        moto.wait(30)

    cli = min(cli_runs, key=lambda run: run["seconds"])
    checked = min(service_runs, key=lambda run: run["seconds"])
    ratio = round(checked["seconds"] / cli["seconds"], 2)
    results = {
        "benchmark": "a dataset check through the service's API against `tunebot prepare --upload`, same zip",
        "machine": machine,
        "dataset": f"ChartQA-shaped zip, {args.records} records, pass-through PNG charts 800x600",
        "setup": "moto_server on loopback; `tunebot serve --role service` (SQLite, bedrock backend on moto)",
        "records": args.records,
        "repeats": args.repeats,
        "tunebot_prepare": {**cli, "runs_s": [run["seconds"] for run in cli_runs]},
        "service_check": {
            **checked,
            "first_check_s": service_runs[0]["seconds"],
            "runs_s": [run["seconds"] for run in service_runs],
        },
        "ratio_service_vs_cli": ratio,
        "target": f"<= {TARGET_RATIO}",
        "met": ratio <= TARGET_RATIO,
    }
    print(f"wrote {common.write_results('check', results)}", file=sys.stderr)
    print(json.dumps({"ratio_service_vs_cli": ratio, "met": results["met"]}, indent=2))


if __name__ == "__main__":
    main()

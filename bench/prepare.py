"""Benchmark: `tunebot prepare` against a naive pipeline and against the floor, plus memory growth.

Run: `.venv/bin/python bench/prepare.py [--records 2000] [--memory-records 20000]`.

One run measures, each in its own subprocess (so peak memory is measured per run):
1. tunebot prepare --upload to a moto S3 server on loopback, against a naive pipeline written below
   the way the published AWS sample works: the whole annotation JSON in memory, every record's image
   decoded and re-saved, one sequential put_object per image. Target: >= 5x the naive records/s.
2. tunebot prepare without upload, against the floor: read, hash and fully decode each distinct image
   once, on all cores. Target: tunebot time <= 1.5x the floor's.
3. tunebot prepare without upload at --memory-records, peak RSS against the run at --records.
   Target: <= 1.25x.

The dataset is ChartQA-shaped (train/png/*.png charts of 800x600 drawn with Pillow, two questions per
chart in train/train_human.json). It is generated once and cached in --cache-dir. Results go to
bench/results/prepare.json.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "bench" / "results" / "prepare.json"
QUESTIONS_PER_CHART = 2
CHART_SIZE = (800, 600)
BUCKET = "bench"
TARGET_NAIVE_SPEEDUP = 5.0
TARGET_FLOOR_RATIO = 1.5
TARGET_MEMORY_RATIO = 1.25


# --- the dataset --------------------------------------------------------------------------------------


def draw_chart(number: int) -> bytes:
    from PIL import Image, ImageDraw

    rng = random.Random(number)
    width, height = CHART_SIZE
    chart = Image.new("RGB", CHART_SIZE, "white")
    draw = ImageDraw.Draw(chart)
    draw.line((60, 40, 60, height - 60), fill="black", width=2)
    draw.line((60, height - 60, width - 30, height - 60), fill="black", width=2)
    bars = rng.randint(3, 9)
    step = (width - 120) // bars
    for bar in range(bars):
        value = rng.randint(20, height - 120)
        left = 80 + bar * step
        colour = (rng.randint(0, 200), rng.randint(0, 200), rng.randint(80, 255))
        draw.rectangle((left, height - 60 - value, left + step * 2 // 3, height - 61), fill=colour)
        draw.text((left, height - 50), f"Q{bar + 1}", fill="black")
        draw.text((left, height - 75 - value), str(value), fill="black")
    draw.text((width // 2 - 60, 10), f"Chart {number}", fill="black")
    buffer = io.BytesIO()
    chart.save(buffer, "PNG")
    return buffer.getvalue()


def _write_chart(args: tuple[Path, int]) -> None:
    folder, number = args
    target = folder / f"chart_{number}.png"
    if not target.exists():
        target.write_bytes(draw_chart(number))


def dataset(cache: Path, records: int) -> Path:
    """A ChartQA-shaped folder with ``records`` questions; charts are shared between sizes by hard link."""
    charts = (records + QUESTIONS_PER_CHART - 1) // QUESTIONS_PER_CHART
    pool_dir = cache / "charts"
    pool_dir.mkdir(parents=True, exist_ok=True)
    missing = [(pool_dir, n) for n in range(charts) if not (pool_dir / f"chart_{n}.png").exists()]
    if missing:
        print(f"drawing {len(missing)} charts into {pool_dir} (once) ...", file=sys.stderr)
        with ProcessPoolExecutor() as executor:
            list(executor.map(_write_chart, missing, chunksize=64))
    root = cache / f"chartqa-{records}"
    png = root / "train" / "png"
    png.mkdir(parents=True, exist_ok=True)
    for number in range(charts):
        link = png / f"chart_{number}.png"
        if not link.exists():
            os.link(pool_dir / f"chart_{number}.png", link)
    annotations = root / "train" / "train_human.json"
    if not annotations.exists():
        rows = []
        for index in range(records):
            number = index // QUESTIONS_PER_CHART
            query = f"What is the value of the tallest bar in chart {number}?"
            if index % QUESTIONS_PER_CHART:
                query = f"How many bars does chart {number} have?"
            rows.append({"imgname": f"chart_{number}.png", "query": query, "label": str(index % 97)})
        annotations.write_text(json.dumps(rows))
    return root


# --- the contenders (each runs in a child process) ----------------------------------------------------


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
    return {"seconds": elapsed, "accepted": report["counts"]["accepted"], "upload": report.get("upload")}


def run_naive(source: Path, out: Path, upload_uri: str) -> dict[str, Any]:
    """The published sample's way: everything in memory, re-save every image, one put at a time."""
    import boto3
    from PIL import Image

    bucket, _, prefix = upload_uri.removeprefix("s3://").partition("/")
    # boto3's defaults, as the published sample has them (not tunebot's client factory): the baseline.
    client = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-west-2")
    started = time.perf_counter()
    rows = json.loads((source / "train" / "train_human.json").read_text())
    records = []
    for index, row in enumerate(rows):
        image = Image.open(source / "train" / "png" / row["imgname"]).convert("RGB")
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        key = f"{prefix}/images/{index}.png"
        client.put_object(Bucket=bucket, Key=key, Body=buffer.getvalue())
        records.append(
            {
                "schemaVersion": "bedrock-conversation-2024",
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"text": row["query"]},
                            {
                                "image": {
                                    "format": "png",
                                    "source": {"s3Location": {"uri": f"s3://{bucket}/{key}"}},
                                }
                            },
                        ],
                    },
                    {"role": "assistant", "content": [{"text": row["label"]}]},
                ],
            }
        )
    random.Random(0).shuffle(records)
    cut = int(len(records) * 0.85)
    out.mkdir(parents=True, exist_ok=True)
    for name, part in (("train.jsonl", records[:cut]), ("validation.jsonl", records[cut:])):
        body = "".join(json.dumps(record) + "\n" for record in part)
        (out / name).write_text(body)
        client.put_object(Bucket=bucket, Key=f"{prefix}/{name}", Body=body.encode())
    return {"seconds": time.perf_counter() - started, "accepted": len(records)}


def _decode_once(path: str) -> int:
    from PIL import Image

    data = Path(path).read_bytes()
    hashlib.sha256(data).hexdigest()
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return image.width


def run_floor(source: Path) -> dict[str, Any]:
    """Read, hash and fully decode each distinct image once, on all cores: no pipeline can do less."""
    started = time.perf_counter()
    rows = json.loads((source / "train" / "train_human.json").read_text())
    paths = sorted({str(source / "train" / "png" / row["imgname"]) for row in rows})
    with ProcessPoolExecutor() as executor:
        decoded = sum(1 for _ in executor.map(_decode_once, paths, chunksize=16))
    return {"seconds": time.perf_counter() - started, "accepted": len(rows), "images": decoded}


def peak_rss_mb() -> float:
    """This process's own peak RSS. Not ru_maxrss: Linux carries that across exec, so a child would
    report the bench parent's (moto keeps every uploaded object in memory) instead of its own."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(mode: str, source: Path, out: Path, upload_uri: str | None) -> None:
    if mode == "tunebot":
        result = run_tunebot(source, out, upload_uri)
    elif mode == "naive":
        assert upload_uri is not None
        result = run_naive(source, out, upload_uri)
    else:
        result = run_floor(source)
    result["peak_rss_mb"] = peak_rss_mb()
    # Pool workers are forked (not exec'd), so their ru_maxrss is their own peak.
    result["children_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps(result))


# --- the parent: one subprocess per measurement -------------------------------------------------------


def measure(
    mode: str, source: Path, work: Path, upload_uri: str | None, env: dict[str, str]
) -> dict[str, Any]:
    out = work / f"{mode}-{source.name}-{time.monotonic_ns()}"
    command = [sys.executable, __file__, "--child", mode, "--source", str(source), "--out", str(out)]
    if upload_uri:
        command += ["--upload-uri", upload_uri]
    completed = subprocess.run(command, capture_output=True, text=True, env=env, check=False, timeout=900)
    if completed.returncode != 0:
        raise SystemExit(f"{mode} on {source.name} failed:\n{completed.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    result["records_per_second"] = round(result["accepted"] / result["seconds"], 1)
    result["seconds"] = round(result["seconds"], 3)
    result["peak_rss_mb"] = round(result["peak_rss_mb"], 1)
    result["children_peak_rss_mb"] = round(result["children_peak_rss_mb"], 1)
    print(
        f"  {mode:8s} {source.name:16s} {result['seconds']:8.2f} s  "
        f"{result['records_per_second']:8.1f} rec/s  peak {result['peak_rss_mb']:.0f} MB",
        file=sys.stderr,
    )
    return result


def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return min(runs, key=lambda run: run["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--memory-records", type=int, default=20000)
    parser.add_argument(
        "--repeats", type=int, default=2, help="runs of each timed contender; the best counts"
    )
    parser.add_argument(
        "--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "tunebot-bench-prepare"
    )
    parser.add_argument("--child", choices=["tunebot", "naive", "floor"])
    parser.add_argument("--source", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--upload-uri")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.source, args.out, args.upload_uri)
        return

    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per PUT otherwise
    small = dataset(args.cache_dir, args.records)
    large = dataset(args.cache_dir, args.memory_records)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TUNEBOT_", "AWS_"))},
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_REGION": "us-west-2",
        "AWS_ENDPOINT_URL": endpoint,
    }
    from services.aws.clients import make_s3_client

    make_s3_client("us-west-2", endpoint, ("bench", "bench")).create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
    )
    try:
        with tempfile.TemporaryDirectory(prefix="tunebot-bench-") as scratch:
            work = Path(scratch)
            print(f"records={args.records}, cores={os.cpu_count()}, moto at {endpoint}", file=sys.stderr)
            upload_runs, naive_runs, local_runs, floor_runs = [], [], [], []
            for repeat in range(args.repeats):
                upload_runs.append(measure("tunebot", small, work, f"s3://{BUCKET}/tunebot-{repeat}", env))
                naive_runs.append(measure("naive", small, work, f"s3://{BUCKET}/naive-{repeat}", env))
                local_runs.append(measure("tunebot", small, work, None, env))
                floor_runs.append(measure("floor", small, work, None, env))
            large_run = measure("tunebot", large, work, None, env)
    finally:
        server.stop()

    upload, naive, local, floor = best(upload_runs), best(naive_runs), best(local_runs), best(floor_runs)
    memory_small = max(run["peak_rss_mb"] for run in local_runs)
    ratios = {
        "speedup_vs_naive": round(upload["records_per_second"] / naive["records_per_second"], 2),
        "time_vs_floor": round(local["seconds"] / floor["seconds"], 2),
        "peak_memory_large_vs_small": round(large_run["peak_rss_mb"] / memory_small, 3),
    }
    results = {
        "benchmark": "tunebot prepare (ChartQA-shaped PNG charts 800x600, 2 questions per chart)",
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "records": args.records,
        "memory_records": args.memory_records,
        "repeats": args.repeats,
        "with_upload_to_moto": {"tunebot": upload, "naive": naive},
        "without_upload": {"tunebot": local, "floor": floor},
        "memory": {
            "small": {"records": args.records, "peak_rss_mb": memory_small},
            "large": {"records": args.memory_records, **large_run},
        },
        "ratios": ratios,
        "targets": {
            "speedup_vs_naive": f">= {TARGET_NAIVE_SPEEDUP}",
            "time_vs_floor": f"<= {TARGET_FLOOR_RATIO}",
            "peak_memory_large_vs_small": f"<= {TARGET_MEMORY_RATIO}",
        },
        "met": {
            "speedup_vs_naive": ratios["speedup_vs_naive"] >= TARGET_NAIVE_SPEEDUP,
            "time_vs_floor": ratios["time_vs_floor"] <= TARGET_FLOOR_RATIO,
            "peak_memory_large_vs_small": ratios["peak_memory_large_vs_small"] <= TARGET_MEMORY_RATIO,
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps({"ratios": ratios, "met": results["met"]}, indent=2))


if __name__ == "__main__":
    main()

"""Benchmark: time to notification, from the moment Bedrock's status changes to the Slack post carrying it.

Run: `.venv/bin/python bench/notify.py` (TUNEBOT_BENCH_QUICK=1: fewer launches, closer together, a 10 s
poll; a couple of minutes).

Real parts on loopback: a moto server (S3, Bedrock jobs, EventBridge, SQS), the Slack stand-in of the tests
(tests/slack_stub.py, with Slack's per-channel rate limit), and `tunebot serve` as its own process (job
service and Slack bot in one, SQLite, backend `bedrock` pointed at moto). Each launch is one 11B job in
channel C1 without evaluation. Bedrock is simulated: this script sets the moto job's status to Completed
(the clock starts there) and, with push on, puts Bedrock's documented "Model Customization Job State
Change" event on moto's EventBridge, whose rule delivers it to the queue the service long-polls. The clock
stops when the Slack stand-in accepts the first call whose text says "<job>: training completed".
Two modes, each with a fresh server: push (TUNEBOT_EVENTS_QUEUE_URL set) and polling only
(TUNEBOT_POLL_SECONDS). Two cases per mode: launches started ``--spacing`` seconds apart, each completing
``--train`` seconds after its launch; and a burst of ``--launches`` at once, completing together.
Targets (issue 14): push p95 <= 5 s; polling-only p95 <= poll interval + 5 s; the burst drains at Slack's
per-channel rate. Results go to bench/results/notify.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import common  # noqa: E402
from moto.backends import get_backend  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

from bot.reply_to import encode  # noqa: E402
from services.api.schemas import JobStatus  # noqa: E402
from services.aws.clients import ClientOptions, make_client  # noqa: E402
from services.aws.queue import EVENT_DETAIL_TYPE, EVENT_PATTERN, EVENT_SOURCE  # noqa: E402
from services.client import ServiceClient  # noqa: E402
from services.platform.db import make_engine, make_session_factory, unit_of_work  # noqa: E402
from services.platform.tables import Dataset  # noqa: E402
from tests.slack_stub import SlackCall, SlackStub  # noqa: E402

TUNEBOT = common.TUNEBOT
API_TOKEN = "bench-api-token-0123456789"
ACCOUNT = "123456789012"
REGION = "us-west-2"
BUCKET = "tunebot-bench"
QUEUE = "tunebot-job-events"
CHANNEL = "C1"


class TimedStub(SlackStub):
    """The Slack stand-in, noting when each call it answered was answered."""

    def __init__(self) -> None:
        super().__init__()
        self.answered_at: list[tuple[float, SlackCall]] = []

    def _record(self, call: SlackCall, status: int, answer: dict[str, Any]) -> None:
        super()._record(call, status, answer)
        with self.lock:
            self.answered_at.append((time.monotonic(), call))

    def first_post_saying(self, text: str) -> float | None:
        with self.lock:
            for stamp, call in self.answered_at:
                if call.ok and call.method.startswith("chat.") and text in json.dumps(call.params):
                    return stamp
        return None

    def accepted_between(self, method: str, since: float, until: float) -> list[SlackCall]:
        with self.lock:
            return [
                c for stamp, c in self.answered_at if c.ok and c.method == method and since <= stamp <= until
            ]

    def accepted_chat_calls(self, since: float = 0.0, until: float = float("inf")) -> int:
        with self.lock:
            return sum(
                1
                for stamp, call in self.answered_at
                if call.ok and call.method.startswith("chat.") and since <= stamp <= until
            )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[int(q) - 1]


def summary(latencies: list[float]) -> dict[str, float]:
    return {
        "p50_s": round(statistics.median(latencies), 2),
        "p95_s": round(percentile(latencies, 95), 2),
        "max_s": round(max(latencies), 2),
    }


class Aws:
    """moto on loopback: the bucket, and for push the queue with EventBridge's rule on Bedrock's event."""

    def __init__(self) -> None:
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=common.free_port(), verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        httpx.post(self.url + "/moto-api/reset", timeout=30)  # moto's state is per process: start clean
        options = ClientOptions(REGION, self.url, credentials=("testing", "testing"))
        self.s3 = make_client("s3", options)
        self.sqs = make_client("sqs", options)
        self.events = make_client("events", options)
        self.s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})

    def queue(self) -> str:
        url: str = self.sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        self.events.put_rule(Name=QUEUE, EventPattern=json.dumps(EVENT_PATTERN))
        self.events.put_targets(Rule=QUEUE, Targets=[{"Id": "queue", "Arn": arn}])
        return url

    def complete(self, bedrock_job_name: str, push: bool) -> float:
        """Bedrock's side of a change: the status moves (the clock starts), then its event is published."""
        job = get_backend("bedrock")[ACCOUNT][REGION].model_customization_jobs[bedrock_job_name]
        job.status = "Completed"
        changed = time.monotonic()
        if push:
            detail = {"version": "0.0", "jobName": bedrock_job_name, "jobArn": job.job_arn}
            self.events.put_events(
                Entries=[
                    {
                        "Source": EVENT_SOURCE,
                        "DetailType": EVENT_DETAIL_TYPE,
                        "Resources": [job.job_arn],
                        "Detail": json.dumps(detail),
                    }
                ]
            )
        return changed

    def stop(self) -> None:
        self.server.stop()


def run_mode(push: bool, args: argparse.Namespace) -> dict[str, Any]:
    aws = Aws()
    stub = TimedStub()
    stub.start()  # SlackStub.start() is typed to return the base class
    stub.responses["auth.test"] = {"ok": True, "user": "tunebot", "team": "Bench", "user_id": "UBOT"}
    work = Path(tempfile.mkdtemp(prefix="tunebot-notify-"))
    port = common.free_port()
    base = f"http://127.0.0.1:{port}"
    database_url = f"sqlite:///{work / 'tunebot.db'}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TUNEBOT_", "SLACK_", "AWS_"))},
        "TUNEBOT_DATABASE_URL": database_url,
        "TUNEBOT_DATA_DIR": str(work / "data"),
        "TUNEBOT_BACKEND": "bedrock",
        "TUNEBOT_LOG_LEVEL": "WARNING",
        "TUNEBOT_API_TOKEN": API_TOKEN,
        "TUNEBOT_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/TunebotBedrock",
        "TUNEBOT_S3_URI": f"s3://{BUCKET}/tunebot",
        "TUNEBOT_POLL_SECONDS": str(args.poll),
        "TUNEBOT_MAX_CONCURRENT_JOBS": "50",
        "TUNEBOT_MAX_LAUNCH_COST_USD": "1000000",
        "AWS_ENDPOINT_URL": aws.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,
        "SLACK_BOT_TOKEN": "xoxb-bench-token",
        "SLACK_SIGNING_SECRET": "bench-signing-secret",
        "TUNEBOT_SLACK_API_URL": stub.api_url,
    }
    if push:
        env["TUNEBOT_EVENTS_QUEUE_URL"] = aws.queue()
        env["TUNEBOT_RECONCILE_SECONDS"] = "300"
    server = subprocess.Popen(
        [TUNEBOT, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        common.wait_ready(base, server)
        dataset_id = add_dataset(database_url)
        service = ServiceClient(base, API_TOKEN, timeout=60)
        cases = {}
        if not args.burst_only:
            cases["spaced"] = run_case(
                service, aws, stub, dataset_id, push, args, "spaced", spacing=args.spacing
            )
        cases["burst"] = run_case(service, aws, stub, dataset_id, push, args, "burst", spacing=0.0)
    finally:
        server.terminate()
        server.wait(timeout=60)
        stub.stop()
        aws.stop()
    return cases


def add_dataset(database_url: str) -> str:
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    with unit_of_work(sessions) as session:
        dataset = Dataset(
            name="charts",
            status="ready",
            source_uri=f"s3://{BUCKET}/raw/charts.zip",
            s3_uri=f"s3://{BUCKET}/tunebot/datasets/charts",
            created_by="UBENCH",
            report={
                "counts": {"train": 300, "validation": 50, "test": 40},
                "tokens": {"train_total": 300_000, "validation_total": 50_000, "test_total": 40_000},
            },
        )
        session.add(dataset)
        session.flush()
        dataset_id = dataset.id
    engine.dispose()
    return dataset_id


def run_case(
    service: ServiceClient,
    aws: Aws,
    stub: TimedStub,
    dataset_id: str,
    push: bool,
    args: argparse.Namespace,
    case: str,
    spacing: float,
) -> dict[str, Any]:
    """Launch, let each job train ``args.train`` s, complete it on Bedrock, time its Slack post."""
    mode = "push" if push else "poll"
    changes: dict[str, float] = {}  # job name -> when Bedrock's status changed
    threads: list[threading.Thread] = []
    calls_before = stub.accepted_chat_calls()
    start = time.monotonic()
    for index in range(args.launches):
        due = start + index * spacing
        time.sleep(max(0.0, due - time.monotonic()))
        launched = service.launch_jobs(
            f"{mode}-{case}-{index}",
            dataset_id=dataset_id,
            models=["11b"],
            requested_by="UBENCH",
            evaluate=False,
            reply_to=encode(CHANNEL),
            name=f"{mode}-{case}-{index}",
        )
        [job] = launched.jobs
        assert job.status == JobStatus.TRAINING, job.status

        def finish(name: str = job.name, bedrock_name: str = job.bedrock_job_name) -> None:
            time.sleep(args.train)
            changes[name] = aws.complete(bedrock_name, push)

        thread = threading.Thread(target=finish)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    deadline = time.monotonic() + args.poll + 120
    posted: dict[str, float] = {}
    while len(posted) < len(changes) and time.monotonic() < deadline:
        for name in changes:
            if name not in posted and (stamp := stub.first_post_saying(f"{name}: training completed")):
                posted[name] = stamp
        time.sleep(0.05)
    latencies = [posted[name] - changes[name] for name in changes if name in posted]
    result: dict[str, Any] = {
        "launches": args.launches,
        "spacing_s": spacing,
        "train_s": args.train,
        "notified": len(latencies),
        "latencies_s": [round(value, 2) for value in sorted(latencies)],
        **(summary(latencies) if latencies else {}),
    }
    if case == "burst" and latencies:
        last = max(posted.values())
        first_change = min(changes.values())
        calls = stub.accepted_chat_calls() - calls_before
        draining = stub.accepted_chat_calls(first_change, last)
        result["accepted_chat_calls"] = calls  # every chat call of the case (launch cards, threads, updates)
        result["drain_s"] = round(last - first_change, 2)
        result["chat_calls_while_draining"] = draining
        # Slack allows about one message a second per channel (short bursts above it): the drain's own rate.
        result["drain_calls_per_s"] = round(draining / (last - first_change), 2)
        # The backlog should drain at that rate for one call per distinct message: one post per event (the
        # event id in its metadata), the card updated only when what it shows changed.
        posts = stub.accepted_between("chat.postMessage", first_change, last)
        result["posts_while_draining"] = len(posts)
        result["drain_posts_per_s"] = round(len(posts) / (last - first_change), 2)
        case_posts = stub.accepted_between("chat.postMessage", start, float("inf"))
        per_event = Counter(
            (c.params.get("metadata") or {}).get("event_payload", {}).get("event_id")
            for c in case_posts
            if (c.params.get("metadata") or {}).get("event_type") == "tunebot_event"
        )
        result["posts_per_event"] = sorted(set(per_event.values()))
        updates = stub.accepted_between("chat.update", start, float("inf"))
        shown = {(c.params.get("ts"), json.dumps(c.params.get("blocks"), sort_keys=True)) for c in updates}
        result["card_updates"] = len(updates)
        result["card_updates_repeating_content"] = len(updates) - len(shown)
    return result


def burst_only(args: argparse.Namespace) -> None:
    """The burst case alone (push): how the backlog of ten launches at once drains into one channel."""
    burst = run_mode(True, args)["burst"]
    results = {
        "benchmark": "notify burst",
        "what": "a burst of launches in one channel completing together, push on: the drain's rate and "
        "whether each message cost one call (one post per event, no card update repeating what it showed)",
        "burst": burst,
        "target": "drains at Slack's ~1 post/s per channel, one call per distinct message",
        "simulated": "Bedrock jobs and their events are moto's; Slack is the test stand-in",
        "machine": common.machine(),
        "date": time.strftime("%Y-%m-%d"),
    }
    print(f"wrote {common.write_results('notify_burst', results)}", file=sys.stderr)
    print(json.dumps({k: v for k, v in burst.items() if k != "latencies_s"}, indent=2))


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every request
    quick = common.QUICK
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--launches", type=int, default=4 if quick else 10)
    parser.add_argument("--spacing", type=float, default=8.0 if quick else 20.0)
    parser.add_argument("--train", type=float, default=5.0)
    parser.add_argument("--poll", type=int, default=10 if quick else 60, help="TUNEBOT_POLL_SECONDS")
    parser.add_argument(
        "--burst-only",
        action="store_true",
        help="only the burst case, with push; results in notify_burst.json",
    )
    args = parser.parse_args()

    if args.burst_only:
        burst_only(args)
        return
    modes = {"push": run_mode(True, args), "poll_only": run_mode(False, args)}
    targets = {
        "push_spaced_p95_s": 5.0,
        "poll_only_spaced_p95_s": args.poll + 5.0,
    }
    met = {
        "push_spaced_p95": modes["push"]["spaced"].get("p95_s", float("inf")) <= targets["push_spaced_p95_s"],
        "poll_only_spaced_p95": modes["poll_only"]["spaced"].get("p95_s", float("inf"))
        <= targets["poll_only_spaced_p95_s"],
    }
    results = {
        "benchmark": "notify",
        "quick": quick,
        "what": "seconds from Bedrock's status change (moto, simulated) to the Slack stand-in accepting the "
        "post that says so; tunebot serve as its own process",
        "poll_seconds": args.poll,
        "reconcile_seconds_with_push": 300,
        "modes": modes,
        "targets": targets,
        "met": met,
        "ratio_push_to_poll_only_spaced_p95": (
            round(modes["push"]["spaced"]["p95_s"] / modes["poll_only"]["spaced"]["p95_s"], 3)
            if modes["push"]["spaced"].get("p95_s") and modes["poll_only"]["spaced"].get("p95_s")
            else None
        ),
        "simulated": "Bedrock jobs and their events are moto's; Slack is the test stand-in",
        "machine": common.machine(),
        "date": time.strftime("%Y-%m-%d"),
    }
    print(f"wrote {common.write_results('notify', results)}", file=sys.stderr)
    print(
        json.dumps(
            {
                mode: {case: {k: v for k, v in r.items() if k != "latencies_s"} for case, r in cases.items()}
                for mode, cases in modes.items()
            },
            indent=2,
        )
    )
    print(json.dumps({"met": met}))


if __name__ == "__main__":
    main()

"""Benchmark: 1,000 examples evaluated against a rate-limited stand-in, tunebot's runner vs a sequential loop.

Run: `.venv/bin/python bench/eval.py [--examples N] [--sequential-examples M]`.

The stand-in sits at the inference seam (``services.evaluation.inference.Inference``): every admitted
request takes 200 ms; admission is a token bucket of 20 requests/s (burst 5), and a request over the
limit gets ``Throttled`` (Bedrock's ThrottlingException) after 10 ms, as a 429 comes back fast. So no
client can finish 1,000 examples faster than about (1,000 − 5) / 20 ≈ 50 s: the throttle's bound.

- tunebot: ``run_variant`` with its default options (AIMD concurrency, jittered retries), storing every
  answer in a SQLite database as it arrives, exactly as in production.
- sequential: what the published AWS sample does, one request after another, sleeping and retrying on
  a throttle. At 200 ms a request it never reaches the limit; it runs on a subset (default 250) and its
  time is extrapolated linearly to the full set (said so in the JSON) to keep the benchmark short.

Both run in the same process, one after the other, against fresh stand-ins with the same settings.
Target: tunebot within 1.3× of the throttle's bound, zero examples lost. Results: bench/results/eval.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
from sqlalchemy import func, select

from services.aws.errors import Throttled
from services.evaluation.inference import OwnedThroughput, Reply
from services.evaluation.metrics import squad_scores
from services.evaluation.testset import HeldOutExample
from services.evaluation.variant import RunOptions, run_variant
from services.jobs.model import JobStatus
from services.platform.db import make_engine, make_session_factory, unit_of_work
from services.platform.migrate import upgrade
from services.platform.tables import Dataset, Evaluation, EvaluationExample, Job, JobGroup, utcnow

MODEL = "us.meta.llama3-2-11b-instruct-v1:0"
RATE = 20.0
BURST = 5.0
LATENCY = 0.2
THROTTLE_LATENCY = 0.01
TARGET_RATIO = 1.3


class RateLimitedBedrock:
    """Converse behind a token bucket: admitted requests take ``latency``; the others are throttled."""

    def __init__(self, rate: float = RATE, burst: float = BURST, latency: float = LATENCY) -> None:
        self.rate, self.burst, self.latency = rate, burst, latency
        self._tokens = burst
        self._stamp = time.monotonic()
        self._lock = threading.Lock()
        self.admitted = 0
        self.throttled = 0
        self.answered: Counter[str] = Counter()

    def _admit(self) -> bool:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                self.admitted += 1
                return True
            self.throttled += 1
            return False

    def converse(
        self,
        model_id: str,
        system: str | None,
        question: str,
        image_bytes: bytes | None,
        image_format: str | None,
        *,
        max_tokens: int = 512,
    ) -> Reply:
        if not self._admit():
            time.sleep(THROTTLE_LATENCY)
            raise Throttled(
                "ThrottlingException", "Too many requests, please wait before trying again.", "Converse"
            )
        time.sleep(self.latency)
        with self._lock:
            self.answered[question] += 1
        return Reply(f"answer {question.rsplit(' ', 1)[-1]}", 120, 3)

    # The benchmark evaluates the base model: no Provisioned Throughput is involved.
    def create_provisioned_throughput(self, model_arn: str, name: str, tags: Mapping[str, str]) -> str:
        raise NotImplementedError

    def describe_provisioned_throughput(self, arn_or_name: str) -> OwnedThroughput | None:
        return None

    def wait_in_service(self, arn: str, timeout: float) -> None:
        raise NotImplementedError

    def delete_provisioned_throughput(self, arn: str) -> None:
        raise NotImplementedError

    def list_owned_provisioned_throughputs(self) -> list[OwnedThroughput]:
        return []


def make_examples(count: int) -> list[HeldOutExample]:
    return [
        HeldOutExample(id=f"ex-{index:05d}", question=f"question {index}", references=(f"answer {index}",))
        for index in range(count)
    ]


def tunebot_run(examples: list[HeldOutExample], workdir: Path) -> dict[str, object]:
    engine = make_engine(f"sqlite:///{workdir / 'bench.db'}")
    upgrade(engine)
    sessions = make_session_factory(engine)
    owner = "bench"
    with unit_of_work(sessions) as session:
        dataset = Dataset(name="bench", status="ready", source_uri="bench")
        session.add(dataset)
        session.flush()
        group = JobGroup(idempotency_key="bench", dataset_id=dataset.id, requested_by="bench")
        session.add(group)
        session.flush()
        job = Job(
            group_id=group.id, dataset_id=dataset.id, model="11b", name="bench", status=JobStatus.EVALUATING,
            requested_by="bench", bedrock_job_name="tunebot-bench", custom_model_name="bench",
            client_request_token="bench", epochs=1, learning_rate=1e-5, recommended_epochs=1,
            recommended_learning_rate=1e-5,
        )  # fmt: skip
        session.add(job)
        session.flush()
        evaluation = Evaluation(job_id=job.id, variant="base", lease_owner=owner, lease_expires_at=utcnow())
        session.add(evaluation)
        session.flush()
        evaluation_id = evaluation.id
    options = RunOptions()  # the product's defaults
    stand_in = RateLimitedBedrock()
    started = time.perf_counter()
    totals = run_variant(
        sessions, evaluation_id, examples,
        model_id=MODEL, inference=stand_in, images=lambda _: None, system_prompt=lambda _: None,
        max_tokens=64, owner=owner, options=options,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    with sessions() as session:
        stored = session.scalar(
            select(func.count(func.distinct(EvaluationExample.example_id))).where(
                EvaluationExample.evaluation_id == evaluation_id
            )
        )
        rows = session.scalar(
            select(func.count(EvaluationExample.id)).where(EvaluationExample.evaluation_id == evaluation_id)
        )
    engine.dispose()
    history = totals.concurrency_history
    return {
        "seconds": round(seconds, 2),
        "requests_per_second": round(len(examples) / seconds, 2),
        "stored_examples": stored,
        "stored_rows": rows,
        "lost": len(examples) - int(stored or 0),
        "answered_twice": sum(1 for count in stand_in.answered.values() if count > 1),
        "calls": totals.calls,
        "throttled": totals.throttled,
        "throttled_share": round(totals.throttled / max(totals.calls, 1), 3),
        "concurrency": {
            "initial": history[0],
            "lowest": min(history),
            "highest": max(history),
            "final": history[-1],
            "changes": len(history) - 1,
            "first_30_values": history[:30],
        },
        "options": {
            "initial_concurrency": options.initial_concurrency,
            "max_concurrency": options.max_concurrency,
            "increase_after": options.increase_after or "current limit",
            "base_delay": options.base_delay,
            "max_delay": options.max_delay,
            "attempts": options.attempts,
        },
    }


def sequential_run(examples: list[HeldOutExample]) -> dict[str, object]:
    """The AWS sample's shape: a for loop, one Converse at a time, sleep and retry on a throttle."""
    stand_in = RateLimitedBedrock()
    predictions: dict[str, str] = {}
    started = time.perf_counter()
    for example in examples:
        while True:
            try:
                reply = stand_in.converse(MODEL, None, example.question, None, None, max_tokens=64)
                break
            except Throttled:
                time.sleep(1.0)
        predictions[example.id] = reply.text
    seconds = time.perf_counter() - started
    f1 = sum(squad_scores(predictions[e.id], e.references)[0] for e in examples) / len(examples)
    return {
        "seconds": round(seconds, 2),
        "examples": len(examples),
        "lost": len(examples) - len(predictions),
        "throttled": stand_in.throttled,
        "mean_f1": round(100 * f1, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--examples", type=int, default=300 if common.QUICK else 1000)
    parser.add_argument("--sequential-examples", type=int, default=100 if common.QUICK else 250)
    arguments = parser.parse_args()
    examples = make_examples(arguments.examples)
    bound = (arguments.examples - BURST) / RATE
    with tempfile.TemporaryDirectory() as workdir:
        tunebot = tunebot_run(examples, Path(workdir))
    subset = examples[: arguments.sequential_examples]
    sequential = sequential_run(subset)
    extrapolated = float(sequential["seconds"]) * arguments.examples / len(subset)  # type: ignore[arg-type]
    ratio = float(tunebot["seconds"]) / bound  # type: ignore[arg-type]
    result = {
        "benchmark": "evaluation runner vs sequential loop, stand-in Converse with a token-bucket throttle",
        "machine": common.machine(),
        "stand_in": {
            "latency_seconds": LATENCY,
            "rate_limit_per_second": RATE,
            "burst": BURST,
            "throttle_reply_seconds": THROTTLE_LATENCY,
            "seam": "services.evaluation.inference.Inference (in process; no HTTP)",
        },
        "examples": arguments.examples,
        "throttle_bound_seconds": round(bound, 2),
        "target": f"tunebot seconds <= {TARGET_RATIO} x bound, zero examples lost",
        "tunebot": tunebot,
        "tunebot_over_bound": round(ratio, 3),
        "sequential": {
            **sequential,
            "note": (
                f"run on the first {len(subset)} of the {arguments.examples} examples and extrapolated "
                "linearly (it never throttles at 5 requests/s, so time is proportional to the count)"
            ),
            "extrapolated_seconds": round(extrapolated, 2),
        },
        "speedup_vs_sequential": round(extrapolated / float(tunebot["seconds"]), 2),  # type: ignore[arg-type]
        "met_target": ratio <= TARGET_RATIO and tunebot["lost"] == 0 and tunebot["answered_twice"] == 0,
    }
    print(f"wrote {common.write_results('eval', result)}", file=sys.stderr)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""The sandbox: the whole path from upload to a completed job, offline, with every event labelled."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from services.aws.s3 import TRAINING_METRICS_FILE, VALIDATION_METRICS_FILE
from services.jobs.results import curve_from_csv, curve_from_json, curve_to_json
from services.platform.tables import Event
from services.sandbox.trainer import STEPS_PER_EPOCH, metrics_files
from tests.jobs.conftest import AUTH, sessions_of
from tests.servers import ready_service, sandbox_env, set_env, upload_and_wait, wait_for_answer

LABEL = "sandbox: simulated results"


def test_the_simulated_metrics_read_back_as_a_falling_curve_with_one_validation_point_per_epoch() -> None:
    files = metrics_files(epochs=3, seed="tunebot-abc")

    curve = curve_from_csv("11B", files[TRAINING_METRICS_FILE], files[VALIDATION_METRICS_FILE])

    assert len(curve.training) == 3 * STEPS_PER_EPOCH
    assert [point.step for point in curve.validation] == [12, 24, 36]
    assert curve.training[-1].loss < curve.training[0].loss / 2
    assert metrics_files(epochs=3, seed="tunebot-abc") == files  # the same job gives the same curve
    # stored as JSON on the job, and read back for the pair's joint loss plot without loss
    assert curve_from_json("11B", curve_to_json(curve)) == curve


@pytest.fixture
def sandbox_client(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    set_env(monkeypatch, sandbox_env(database_url, tmp_path))
    with ready_service() as client:
        yield client


def test_the_sandbox_runs_upload_to_completed_job_offline(sandbox_client: TestClient, tmp_path: Path) -> None:
    dataset = upload_and_wait(sandbox_client, tmp_path, records=130)
    assert dataset["status"] == "ready", dataset
    assert dataset["s3_uri"].startswith("s3://tunebot-sandbox/")
    assert dataset["sandbox"] is True  # the API says what the sandbox holds, for every surface to label

    fields = {"dataset_id": dataset["id"], "models": ["11b", "90b"], "epochs": 2}
    estimate = sandbox_client.post("/api/v1/estimates", json=fields, headers=AUTH)
    assert estimate.status_code == 200, estimate.json()
    estimated = {job["model"]: job["cost"]["total_usd"] for job in estimate.json()["jobs"]}
    assert estimate.json()["sandbox"] and estimate.json()["estimate"] is True
    note = estimate.json()["note"]
    assert "placeholder prices" in note and "TUNEBOT_PRICES_FILE" in note

    launched = sandbox_client.post(
        "/api/v1/jobs",
        json={**fields, "requested_by": "U1"},
        headers={**AUTH, "Idempotency-Key": "sandbox-1"},
    )
    assert launched.status_code == 201, launched.json()
    jobs = launched.json()["jobs"]
    assert all(job["sandbox"] for job in jobs)
    # The launch stores the figures the estimate showed: one cost model behind both.
    assert {job["model"]: job["cost_estimate_usd"] for job in jobs} == estimated
    assert all("placeholder prices" in job["cost_note"] for job in jobs)

    finished = [
        wait_for_answer(sandbox_client, f"/api/v1/jobs/{job['id']}", lambda j: j["status"] == "done", 120)
        for job in jobs
    ]

    for job in finished:
        assert len(job["metrics"]["training"]) == 2 * STEPS_PER_EPOCH
        assert len(job["metrics"]["validation"]) == 2
        png = sandbox_client.get(f"/api/v1/jobs/{job['id']}/loss-curve.png", headers=AUTH)
        assert png.content.startswith(b"\x89PNG")
        # evaluated against the base model on the held-out test split, with simulated answers
        scores = {evaluation["variant"]: evaluation for evaluation in job["evaluations"]}
        assert set(scores) == {"base", "fine_tuned"}
        assert all(
            score["status"] == "done" and score["count"] == dataset["report"]["counts"]["test"]
            for score in scores.values()
        )
        assert scores["fine_tuned"]["f1"] >= scores["base"]["f1"]

    group = wait_for_answer(
        sandbox_client, f"/api/v1/groups/{launched.json()['group_id']}", lambda g: g["comparison"]
    )
    assert LABEL in group["comparison"]["verdict"]
    # ... and the comparison's cost of each size is that same estimate, the evaluation counted once.
    compared = {size: group["comparison"][f"model_{size}"]["total_cost_usd"] for size in ("11b", "90b")}
    assert compared == estimated
    assert group["cost_estimate_usd"] == estimate.json()["total_usd"]
    chart = sandbox_client.get(f"/api/v1/groups/{group['id']}/comparison.png", headers=AUTH)
    assert chart.status_code == 200 and chart.content.startswith(b"\x89PNG")
    curves = sandbox_client.get(f"/api/v1/groups/{group['id']}/loss-curves.png", headers=AUTH)
    assert curves.status_code == 200 and curves.content.startswith(b"\x89PNG")
    assert curves.content != chart.content
    with sessions_of(sandbox_client)() as session:
        events = list(session.scalars(select(Event).order_by(Event.id)))
    assert {
        "dataset.checked",
        "job.created",
        "job.submitted",
        "job.completed",
        "evaluation.completed",
        "group.compared",
    } <= {e.type for e in events}
    assert [e.type for e in events].count("group.compared") == 1
    assert all(LABEL in event.payload["message"] and event.payload["sandbox"] == LABEL for event in events)


def simulated_test_set(
    root: Path, name: str, count: int, *, source_format: str, train: int
) -> list[tuple[bytes, str]]:
    """A prepared dataset folder as the pipeline writes it: test.jsonl and report.json beside it."""
    folder = root / "datasets" / name
    folder.mkdir(parents=True)
    examples, lines = [], []
    for index in range(count):
        image = f"{name} chart {index}".encode()
        uri = f"s3://b/images/{hashlib.sha256(image).hexdigest()}.png"
        user = [
            {"text": "What is the highest bar?"},
            {"image": {"format": "png", "source": {"s3Location": {"uri": uri}}}},
        ]
        record = {
            "messages": [
                {"role": "user", "content": user},
                {"role": "assistant", "content": [{"text": f"answer {index}"}]},
            ]
        }
        lines.append(json.dumps(record) + "\n")
        examples.append((image, f"answer {index}"))
    (folder / "test.jsonl").write_text("".join(lines))
    (folder / "report.json").write_text(json.dumps({"format": source_format, "counts": {"train": train}}))
    return examples


def test_simulated_models_follow_the_seeds_published_f1_by_size_and_data(tmp_path: Path) -> None:
    from services.sandbox.inference import SimulatedInference

    # Cut-VQAv2 in the seed's study: 11B 42.17 -> 73.2 and 90B 67.4 -> 76.5 with 10,000 examples;
    # 90B with 100 examples 72.9, 11B with 1,000 examples 68.6 (reference/metrics.md).
    small_data = simulated_test_set(tmp_path, "vqa-100", 1_500, source_format="vqav2", train=100)
    large_data = simulated_test_set(tmp_path, "vqa-10k", 1_500, source_format="vqav2", train=10_000)
    middle_data = simulated_test_set(tmp_path, "vqa-1k", 1_500, source_format="vqav2", train=1_000)
    model = SimulatedInference(tmp_path)
    tuned = {
        size: model.create_provisioned_throughput(
            f"arn:aws:bedrock:us-west-2:123456789012:custom-model/tunebot-{size}-x", f"pt-{size}", {}
        )
        for size in ("11b", "90b")
    }
    base = {size: f"us.meta.llama3-2-{size}-instruct-v1:0" for size in ("11b", "90b")}

    def f1(model_id: str, examples: list[tuple[bytes, str]]) -> float:
        right = sum(
            model.converse(model_id, None, "What is the highest bar?", image, "png").text == answer
            for image, answer in examples
        )
        return 100 * right / len(examples)

    # Within sampling noise of the published figures (1,500 examples: a standard error near 1.2 points).
    assert f1(base["11b"], large_data) == pytest.approx(42.17, abs=4)
    assert f1(base["90b"], large_data) == pytest.approx(67.4, abs=4)
    assert f1(tuned["11b"], large_data) == pytest.approx(73.2, abs=4)
    assert f1(tuned["90b"], large_data) == pytest.approx(76.5, abs=4)
    assert f1(tuned["90b"], small_data) == pytest.approx(72.9, abs=4)
    assert f1(tuned["11b"], middle_data) == pytest.approx(68.6, abs=4)
    # F1 rises with data, and the two sizes differ: the comparison has something real-looking to say.
    assert f1(tuned["11b"], small_data) < f1(tuned["11b"], middle_data) < f1(tuned["11b"], large_data)
    assert f1(tuned["90b"], large_data) > f1(tuned["11b"], large_data)
    # Per-example noise: the sizes disagree on some examples both ways, and answer the same twice.
    answers = {
        size: [
            model.converse(tuned[size], None, "What is the highest bar?", image, "png").text
            for image, _ in large_data
        ]
        for size in ("11b", "90b")
    }
    only_11b = sum(
        a == ref != b for a, b, (_, ref) in zip(answers["11b"], answers["90b"], large_data, strict=True)
    )
    only_90b = sum(
        b == ref != a for a, b, (_, ref) in zip(answers["11b"], answers["90b"], large_data, strict=True)
    )
    assert only_11b > 0 and only_90b > only_11b
    assert f1(tuned["90b"], large_data) == f1(tuned["90b"], large_data)

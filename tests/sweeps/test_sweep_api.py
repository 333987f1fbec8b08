"""A sandbox sweep through the HTTP API: estimate, start (idempotent), nested subsets sharing one test
set, jobs queued within the quota, the curve and verdict once at the end, and cancel as a whole."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from services.platform.tables import Event
from tests.jobs.conftest import AUTH, sessions_of
from tests.servers import ready_service, sandbox_env, set_env, upload_and_wait, wait_for_answer

LABEL = "sandbox: simulated results"
# A whole sweep (six jobs trained and evaluated, simulated) on a loaded machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(480)]


@pytest.fixture
def sandbox(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    # Six jobs: two of them wait in the queue.
    set_env(monkeypatch, sandbox_env(database_url, tmp_path, TUNEBOT_MAX_CONCURRENT_JOBS="4"))
    with ready_service() as client:
        yield client


def ready_dataset(
    client: TestClient, tmp_path: Path, records: int = 1_500, images: int = 150
) -> dict[str, Any]:
    dataset = upload_and_wait(client, tmp_path, records=records, images=images)
    assert dataset["status"] == "ready", dataset
    return dataset


def lines_of(data_dir: Path, dataset_id: str, name: str) -> list[str]:
    return (data_dir / "datasets" / dataset_id / name).read_text().splitlines()


def test_a_sandbox_sweep_runs_nested_subsets_on_one_test_set_and_ends_with_one_verdict(
    sandbox: TestClient, tmp_path: Path
) -> None:
    dataset = ready_dataset(sandbox, tmp_path)
    train = dataset["report"]["counts"]["train"]
    assert train > 1_000
    fields = {"dataset_id": dataset["id"], "sizes": [100, 1000, "all"], "models": ["11b", "90b"]}

    estimate = sandbox.post("/api/v1/sweep-estimates", json=fields, headers=AUTH)
    assert estimate.status_code == 200, estimate.json()
    planned = estimate.json()
    assert planned["sizes"] == [100, 1000, train] and planned["sandbox"] is True
    assert [(job["train_size"], job["model"]) for job in planned["jobs"]] == [
        (100, "11b"), (100, "90b"), (1000, "11b"), (1000, "90b"), (train, "11b"), (train, "90b"),
    ]  # fmt: skip
    # Epochs from the size rules: under 500 examples 8 epochs, 500 to 5,000 five (DESIGN §4).
    assert {job["train_size"]: job["epochs"] for job in planned["jobs"]} == {100: 8, 1000: 5, train: 5}
    assert planned["total_usd"] == pytest.approx(sum(job["cost"]["total_usd"] for job in planned["jobs"]))

    started = sandbox.post(
        "/api/v1/sweeps", json={**fields, "requested_by": "U1"}, headers={**AUTH, "Idempotency-Key": "sw-1"}
    )
    assert started.status_code == 201, started.json()
    sweep = started.json()
    again = sandbox.post(
        "/api/v1/sweeps", json={**fields, "requested_by": "U1"}, headers={**AUTH, "Idempotency-Key": "sw-1"}
    )
    assert again.status_code == 200 and again.json()["id"] == sweep["id"]
    assert {cell["job"]["id"] for cell in again.json()["cells"]} == {
        cell["job"]["id"] for cell in sweep["cells"]
    }
    assert len(sweep["cells"]) == 6 and sweep["status"] == "running"
    # Each job's launch stored the figure the sweep's estimate showed for it.
    shown = {(job["train_size"], job["model"]): job["cost"]["total_usd"] for job in planned["jobs"]}
    stored = {
        (cell["train_size"], cell["model"]): cell["job"]["cost_estimate_usd"] for cell in sweep["cells"]
    }
    assert stored == shown
    assert sweep["cost_estimate_usd"] == planned["total_usd"]
    assert {(cell["train_size"], cell["job"]["epochs"]) for cell in sweep["cells"]} == {
        (100, 8), (1000, 5), (train, 5)
    }  # fmt: skip

    # The subsets are nested, drawn from the parent's training records, and share one test set.
    data_dir = tmp_path / "data"
    subsets = {cell["train_size"]: cell["dataset_id"] for cell in sweep["cells"]}
    parent_train = set(lines_of(data_dir, dataset["id"], "train.jsonl"))
    records = {size: set(lines_of(data_dir, subsets[size], "train.jsonl")) for size in subsets}
    assert {size: len(lines) for size, lines in records.items()} == {100: 100, 1000: 1000, train: train}
    assert records[100] < records[1000] < records[train] == parent_train
    test_set = (data_dir / "datasets" / dataset["id"] / "test.jsonl").read_bytes()
    assert all(
        (data_dir / "datasets" / subset / "test.jsonl").read_bytes() == test_set
        for subset in subsets.values()
    )
    # Stratified: the image records keep their share (150 of 1,500) in the smallest subset too.
    with_image = sum('"image"' in line for line in records[100])
    assert 8 <= with_image <= 12

    ended = wait_for_answer(sandbox, f"/api/v1/sweeps/{sweep['id']}", lambda s: s["status"] != "running", 240)
    assert ended["status"] == "evaluated", ended["lines"]
    assert all(cell["job"]["status"] == "done" for cell in ended["cells"])
    verdict = ended["verdict"]
    assert verdict["sandbox"] is True and LABEL in verdict["lines"]
    text = "\n".join(ended["lines"])
    assert "F1 per doubling of data" in text and "Next:" in text
    curves = {curve["model"]: curve for curve in ended["fit"]["curves"]}
    assert [point["train_size"] for point in curves["11b"]["points"]] == [100, 1000, train]
    # the simulated models follow the study: more data helps, and fine-tuning never falls below the base
    for curve in curves.values():
        points = [point["f1"]["value"] for point in curve["points"]]
        assert points[0] < points[-1]
        assert min(points) >= curve["base_f1"]["value"]
    assert ended["fit"]["example_count"] == dataset["report"]["counts"]["test"]
    chart = sandbox.get(f"/api/v1/sweeps/{sweep['id']}/chart.png", headers=AUTH)
    assert chart.status_code == 200 and chart.content.startswith(b"\x89PNG")
    (tmp_path / "sweep.png").write_bytes(chart.content)

    # Each size's pair has its gallery: where 11B and 90B disagree, and where fine-tuning helped.
    pair = next(cell["job"]["group_id"] for cell in ended["cells"] if cell["train_size"] == 100)
    disagree = sandbox.get(f"/api/v1/groups/{pair}/gallery/disagree.png", headers=AUTH)
    assert disagree.status_code == 200 and disagree.content.startswith(b"\x89PNG")
    (tmp_path / "disagree.png").write_bytes(disagree.content)
    job = ended["cells"][0]["job"]["id"]
    helped = sandbox.get(f"/api/v1/jobs/{job}/gallery/helped.png", headers=AUTH)
    assert helped.status_code == 200 and helped.content.startswith(b"\x89PNG")
    (tmp_path / "helped.png").write_bytes(helped.content)
    needs_pair = sandbox.get(f"/api/v1/jobs/{job}/gallery/disagree.png", headers=AUTH)
    assert needs_pair.status_code == 409 and "only in a pair" in needs_pair.json()["error"]["message"]

    with sessions_of(sandbox)() as session:
        events = list(session.scalars(select(Event).order_by(Event.id)))
    types = [event.type for event in events]
    assert types.count("sweep.created") == 1 and types.count("sweep.finished") == 1
    assert "job.queued" in types  # six jobs, four slots
    finished = next(event for event in events if event.type == "sweep.finished")
    assert LABEL in finished.payload["message"] and finished.payload["sandbox"] == LABEL
    # A later tick announces nothing new.
    time.sleep(6)
    with sessions_of(sandbox)() as session:
        assert len(list(session.scalars(select(Event).where(Event.type == "sweep.finished")))) == 1


def test_a_sweep_is_refused_with_what_to_ask_for_and_cancelled_as_a_whole(
    sandbox: TestClient, tmp_path: Path
) -> None:
    dataset = ready_dataset(sandbox, tmp_path, records=400, images=20)
    train = dataset["report"]["counts"]["train"]
    refused = sandbox.post(
        "/api/v1/sweep-estimates", json={"dataset_id": dataset["id"], "sizes": [50, "all"]}, headers=AUTH
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "sizes"
    assert "Bedrock's minimum of 100" in refused.json()["error"]["message"]
    too_many = sandbox.post(
        "/api/v1/sweep-estimates", json={"dataset_id": dataset["id"], "sizes": [100, 5000]}, headers=AUTH
    )
    assert (
        too_many.status_code == 422 and f"at most {train:,} or 'all'" in too_many.json()["error"]["message"]
    )
    unknown = sandbox.get("/api/v1/sweeps/nosuchsweep", headers=AUTH)
    assert unknown.status_code == 404 and "no sweep has that id" in unknown.json()["error"]["message"]

    started = sandbox.post(
        "/api/v1/sweeps",
        json={"dataset_id": dataset["id"], "sizes": [100, "all"], "models": ["11b"], "requested_by": "U1"},
        headers={**AUTH, "Idempotency-Key": "sw-cancel"},
    )
    assert started.status_code == 201, started.json()
    sweep_id = started.json()["id"]
    cancelled = sandbox.post(f"/api/v1/sweeps/{sweep_id}/cancel", json={"requested_by": "U1"}, headers=AUTH)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    ended = wait_for_answer(
        sandbox,
        f"/api/v1/sweeps/{sweep_id}",
        lambda s: all(cell["job"]["status"] in ("cancelled", "failed", "done") for cell in s["cells"]),
        60,
    )
    assert {cell["job"]["status"] for cell in ended["cells"]} == {"cancelled"}
    assert ended["status"] == "cancelled" and ended["verdict"] is None
    chart = sandbox.get(f"/api/v1/sweeps/{sweep_id}/chart.png", headers=AUTH)
    assert chart.status_code == 404 and "no chart yet" in chart.json()["error"]["message"]

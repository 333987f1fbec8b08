"""The sweep use cases on moto in process: the cost cap on the whole sweep, the size rules per subset,
stratified nested subsets, and a retry that finishes a sweep without a second job."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.aws.clients import make_s3_client
from services.jobs.deps import JobDeps
from services.platform.errors import Conflict, Forbidden, NotFound
from services.platform.tables import Dataset, Job
from services.sweeps.deps import SweepDeps
from services.sweeps.plan import subset_tokens
from services.sweeps.service import SweepRequest, estimate_sweep, start_sweep
from tests.jobs.conftest import REGION, add_dataset, make_deps, moto_jobs, settings_for
from tests.sweeps.files import put_prepared_files


def sweep_deps(sessions: sessionmaker[Session], tmp_path: Path, **settings: object) -> SweepDeps:
    jobs: JobDeps = make_deps(sessions, settings_for(tmp_path, **settings))
    return SweepDeps(jobs, make_s3_client(REGION, None))


def request(dataset_id: str, key: str = "sweep-1", **overrides: object) -> SweepRequest:
    values: dict[str, object] = {
        "idempotency_key": key, "dataset_id": dataset_id, "sizes": (100, "all"), "models": ("11b", "90b"),
        "requested_by": "U1",
    }  # fmt: skip
    values.update(overrides)
    return SweepRequest(**values)  # type: ignore[arg-type]


def test_a_sweep_above_the_cap_needs_an_admin_and_each_job_stores_its_share(
    aws: None, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    dataset_id = add_dataset(sessions, train=300)
    put_prepared_files(sessions, dataset_id)
    deps = sweep_deps(sessions, tmp_path, max_launch_cost_usd=0.01)
    plan = estimate_sweep(deps, dataset_id, (100, "all"), ("11b", "90b"))
    assert plan.approval_required and plan.sizes == (100, 300)

    with pytest.raises(Forbidden) as refused:
        start_sweep(deps, request(dataset_id))
    assert refused.value.code == "approval_required" and refused.value.field == "approved_by"
    assert "TUNEBOT_MAX_LAUNCH_COST_USD" in refused.value.message
    with sessions() as session:  # nothing was made: no subset, no job
        assert session.scalars(select(Dataset).where(Dataset.idempotency_key.is_not(None))).all() == []
        assert session.scalars(select(Job)).all() == []

    view = start_sweep(deps, request(dataset_id, approved_by="UADMIN1"))
    assert view.created and view.sweep.approved_by == "UADMIN1"
    assert sum(cell.job.cost_estimate_usd or 0 for cell in view.cells) == pytest.approx(
        plan.total_usd, abs=0.02
    )
    # Epochs and learning rate per subset from the size rules, each clamped to Bedrock's ranges.
    assert {(cell.train_size, cell.job.epochs, cell.job.learning_rate) for cell in view.cells} == {
        (100, 8, 1e-5), (300, 8, 1e-5),
    }  # fmt: skip
    # Two slots (the default quota): two jobs on Bedrock, the other two queued.
    assert len(moto_jobs()) == 2
    assert sorted(cell.job.status for cell in view.cells) == ["queued", "queued", "training", "training"]


def test_a_sweep_refuses_a_dataset_not_ready_with_the_launchs_words(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    unusable = add_dataset(sessions, status="unusable")
    with pytest.raises(Conflict) as refused:
        estimate_sweep(sweep_deps(sessions, tmp_path), unusable, (100, "all"), ("11b",))
    assert (refused.value.code, refused.value.field) == ("dataset_not_ready", "dataset_id")
    assert refused.value.message == (
        f"dataset {unusable} (charts) is unusable: only a ready dataset uploaded to S3 can be trained; "
        f"its report says what to fix (`tunebot datasets show {unusable}`)"
    )
    with pytest.raises(NotFound) as missing:
        estimate_sweep(sweep_deps(sessions, tmp_path), "nope", (100, "all"), ("11b",))
    assert (missing.value.code, missing.value.field) == ("dataset_not_found", "dataset_id")


def test_a_retry_of_the_same_sweep_makes_no_second_subset_or_job(
    aws: None, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    dataset_id = add_dataset(sessions, train=300)
    put_prepared_files(sessions, dataset_id)
    deps = sweep_deps(sessions, tmp_path)
    first = start_sweep(deps, request(dataset_id, models=("11b",)))
    second = start_sweep(deps, request(dataset_id, models=("11b",)))
    assert not second.created and second.sweep.id == first.sweep.id
    assert [cell.job.id for cell in second.cells] == [cell.job.id for cell in first.cells]
    with sessions() as session:
        subsets = session.scalars(select(Dataset).where(Dataset.idempotency_key.is_not(None))).all()
        assert sorted(row.report["counts"]["train"] for row in subsets) == [100, 300]
        parent = session.get(Dataset, dataset_id)
        assert parent is not None
        # The subset's training tokens are the parent's share, the figure its launch priced.
        for row in subsets:
            size = row.report["counts"]["train"]
            assert row.report["tokens"]["train_total"] == subset_tokens(parent.report, size)
            assert row.report["sweep"]["parent_dataset_id"] == dataset_id


def test_subsets_keep_each_system_prompt_in_its_share(
    aws: None, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    from services.sweeps.subsets import Parent, ensure_subsets
    from tests.sweeps.files import record

    dataset_id = add_dataset(sessions, train=1_000)
    put_prepared_files(sessions, dataset_id)
    # A fifth of the records belong to a second task (its own system prompt).
    lines = [record(index, "Answer as JSON." if index % 5 == 0 else None) for index in range(1_000)]
    s3 = make_s3_client(REGION, None)
    s3.put_object(
        Bucket="tunebot-test", Key="tunebot/datasets/charts/train.jsonl", Body="\n".join(lines).encode()
    )
    deps = sweep_deps(sessions, tmp_path)
    with sessions() as session:
        row = session.get(Dataset, dataset_id)
        assert row is not None
        parent = Parent(row.id, row.name, row.s3_uri, row.format, dict(row.report or {}))
    made = ensure_subsets(
        deps, parent, sweep_id="s", sweep_key="k", sizes=[100, 500], seed=0, requested_by="U1"
    )
    subset = (tmp_path / "data" / "datasets" / made[100] / "train.jsonl").read_text().splitlines()
    assert sum("Answer as JSON." in line for line in subset) == 20
    larger = set((tmp_path / "data" / "datasets" / made[500] / "train.jsonl").read_text().splitlines())
    assert set(subset) < larger
    assert all(json.loads(line)["messages"] for line in subset)

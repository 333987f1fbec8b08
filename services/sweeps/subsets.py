"""The sweep's training subsets as datasets of their own, each a ready dataset a launch can train on.

A subset of ``n`` is the first ``n`` records of one seeded, stratified order of the parent's training
records (``services.sweeps.model.nested_order``), so every smaller subset is inside the next. Each
subset gets the parent's validation and test files byte for byte: every job of the sweep is scored on
the one held-out test set. Records keep pointing at the parent's images, which are already uploaded.
Files go to ``TUNEBOT_DATA_DIR/datasets/<id>`` and to ``TUNEBOT_S3_URI/datasets/<id>`` like a checked
dataset's; the row is created ready, with the parent's report adjusted (``services.sweeps.plan``).
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.aws.upload import UploadError, upload_folder
from services.datasets.model import DatasetStatus
from services.evaluation.testset import TEST_FILE, TRAIN_FILE, DatasetLocation, TestSetError, dataset_files
from services.platform.db import unit_of_work
from services.platform.errors import Conflict, Unavailable
from services.platform.tables import Dataset, new_id
from services.sweeps.deps import SweepDeps
from services.sweeps.model import nested_subsets, subset_names
from services.sweeps.plan import subset_report

VALIDATION_FILE = "validation.jsonl"
REPORT_FILE = "report.json"


@dataclass(frozen=True, slots=True)
class Parent:
    id: str
    name: str
    s3_uri: str | None
    format: str | None
    report: dict[str, Any]


def stratum(line: str) -> Hashable:
    """A record's group for stratified subsets: its system prompt, and whether it has an image."""
    record = json.loads(line)
    system = " ".join(str(part.get("text", "")) for part in record.get("system") or [])
    has_image = any(
        "image" in item
        for message in record.get("messages") or []
        for item in message.get("content") or []
        if isinstance(item, dict)
    )
    return (system, has_image)


def _lines(deps: SweepDeps, parent: Parent, name: str) -> list[str]:
    local = Path(deps.jobs.settings.data_dir) / "datasets" / parent.id
    location = DatasetLocation(parent.id, local if local.is_dir() else None, parent.s3_uri)
    # The settings carry the sandbox's stand-in credentials when there is one.
    files = dataset_files(deps.jobs.settings, location)
    try:
        return [line.rstrip("\r\n") for line in files.lines(name) if line.strip()]
    except TestSetError as error:
        if name == VALIDATION_FILE:
            return []  # a dataset without a validation split trains without one
        raise Unavailable("dataset_unreadable", f"dataset {parent.name}: {error}", "dataset_id") from None


def ensure_subsets(
    deps: SweepDeps,
    parent: Parent,
    *,
    sweep_id: str,
    sweep_key: str,
    sizes: Sequence[int],
    seed: int,
    requested_by: str,
) -> dict[int, str]:
    """The dataset id of each size's subset, made once per sweep (a retry finds the ones it made)."""
    keys = {size: f"{sweep_key}:n{size}"[:200] for size in sizes}
    with deps.jobs.sessions() as session:
        found = {
            row.idempotency_key: row.id
            for row in session.scalars(select(Dataset).where(Dataset.idempotency_key.in_(keys.values())))
        }
    if all(key in found for key in keys.values()):
        return {size: found[key] for size, key in keys.items()}
    train = _lines(deps, parent, TRAIN_FILE)
    validation = _lines(deps, parent, VALIDATION_FILE)
    test = _lines(deps, parent, TEST_FILE)
    if len(train) < max(sizes):
        raise Conflict(
            "dataset_changed",
            f"dataset {parent.name} has {len(train):,} training records, fewer than the {max(sizes):,} its "
            "report counts: check it again before sweeping",
            "dataset_id",
        )
    subsets = nested_subsets(len(train), sizes, [stratum(line) for line in train], seed)
    names = subset_names(parent.name, sizes)
    made: dict[int, str] = {}
    for size in sizes:
        key = keys[size]
        if key in found:
            made[size] = found[key]
            continue
        made[size] = _make_subset(
            deps, parent, key=key, name=names[size], size=size, sweep_id=sweep_id, seed=seed,
            requested_by=requested_by, train=[train[index] for index in subsets[size]],
            validation=validation, test=test,
        )  # fmt: skip
    return made


def _make_subset(
    deps: SweepDeps,
    parent: Parent,
    *,
    key: str,
    name: str,
    size: int,
    sweep_id: str,
    seed: int,
    requested_by: str,
    train: list[str],
    validation: list[str],
    test: list[str],
) -> str:
    settings = deps.jobs.settings
    dataset_id = new_id()
    folder = Path(settings.data_dir) / "datasets" / dataset_id
    folder.mkdir(parents=True, exist_ok=True)
    s3_uri = f"{settings.s3_uri}/datasets/{dataset_id}" if settings.s3_uri else None
    report = subset_report(
        parent.report, size, deps.jobs.prices, parent_id=parent.id, sweep_id=sweep_id, seed=seed,
        s3_uri=s3_uri or f"datasets/{dataset_id}",
    )  # fmt: skip
    for file_name, lines in ((TRAIN_FILE, train), (VALIDATION_FILE, validation), (TEST_FILE, test)):
        if lines or file_name != VALIDATION_FILE:
            (folder / file_name).write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    (folder / REPORT_FILE).write_text(json.dumps(report, indent=2), encoding="utf-8")
    if s3_uri is None or deps.s3 is None:
        raise Unavailable("not_configured", "set TUNEBOT_S3_URI (bucket and prefix for the sweep's subsets)")
    try:
        upload_folder(folder, s3_uri, deps.s3)
    except UploadError as error:
        raise Unavailable("upload_failed", str(error), "dataset_id") from None
    try:
        with unit_of_work(deps.jobs.sessions) as session:
            session.add(
                Dataset(
                    id=dataset_id,
                    name=name,
                    status=DatasetStatus.READY,
                    source_uri=parent.s3_uri or f"datasets/{parent.id}",
                    s3_uri=s3_uri,
                    format=parent.format,
                    options={"subset_of": parent.id, "sweep_id": sweep_id, "train_size": size, "seed": seed},
                    report=report,
                    created_by=None,  # the sweep's own: not the user's `last` upload nor in "mine"
                    idempotency_key=key,
                )
            )
    except IntegrityError:
        # A concurrent retry of the same sweep made this subset first: use that one.
        with deps.jobs.sessions() as session:
            existing = session.scalars(select(Dataset.id).where(Dataset.idempotency_key == key)).one()
        return existing
    return dataset_id

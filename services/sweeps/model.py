"""A learning-curve sweep's plan: which training sizes, which model sizes, and the nested subsets.

Pure: no I/O. A sweep trains one job per (training size, model size) on nested subsets of one
prepared dataset's training records — every smaller subset inside the next — and evaluates every job
on the dataset's one held-out test set, so the points of the curve differ only in how much data the
model saw.

The nesting comes from one seeded order of the training records: a subset of ``n`` records is the
first ``n`` of that order. Where the records fall into groups (a task's system prompt, text-only versus
image records), the order interleaves the groups so every prefix keeps their proportions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from services.jobs.model import FINAL, JobStatus

# Bedrock's record limits for Llama 3.2 (reference/bedrock-llama32.md): 100 to 10,000 records.
BEDROCK_MIN_RECORDS = 100
BEDROCK_MAX_RECORDS = 10_000
ALL = "all"
DEFAULT_SIZES: tuple[int | str, ...] = (100, 1_000, ALL)
MAX_SIZES = 6  # each size is one job per model: a sweep stays a handful of jobs
DEFAULT_SEED = 0


class SweepPlanError(ValueError):
    """A sweep that cannot be planned; the message says what to ask for instead."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def parse_sizes(text: str) -> tuple[int | str, ...]:
    """``"100,1000,all"`` (also ``1k``, ``1,000`` is not a list: sizes are separated by commas)."""
    sizes: list[int | str] = []
    for part in (piece.strip().lower().replace("_", "") for piece in text.split(",")):
        if not part:
            continue
        if part == ALL:
            sizes.append(ALL)
            continue
        multiplier = 1_000 if part.endswith("k") else 1
        digits = part[:-1] if part.endswith("k") else part
        if not digits.isdigit():
            raise SweepPlanError(
                f"sizes: {part!r} is not a number of examples; write e.g. sizes=100,1000,all", "sizes"
            )
        sizes.append(int(digits) * multiplier)
    if not sizes:
        raise SweepPlanError("sizes: give at least one size, e.g. sizes=100,1000,all", "sizes")
    return tuple(sizes)


def resolve_sizes(requested: Sequence[int | str], train_records: int) -> tuple[int, ...]:
    """The training sizes to run, ascending and distinct, ``all`` read as every training record.

    Refuses what Bedrock would refuse (fewer than 100 or more than 10,000 records) and what the dataset
    cannot give (more records than its training split has), naming the size and what to ask instead.
    """
    if train_records < BEDROCK_MIN_RECORDS:
        raise SweepPlanError(
            f"the dataset has {train_records:,} training records; Bedrock needs at least "
            f"{BEDROCK_MIN_RECORDS}: add examples before sweeping",
            "dataset_id",
        )
    resolved: set[int] = set()
    for size in requested:
        if size == ALL:
            resolved.add(min(train_records, BEDROCK_MAX_RECORDS))
            continue
        if isinstance(size, (str, bool)):
            raise SweepPlanError(f"sizes: {size!r} is not a number of examples or 'all'", "sizes")
        if size < BEDROCK_MIN_RECORDS:
            raise SweepPlanError(
                f"sizes: {size:,} is below Bedrock's minimum of {BEDROCK_MIN_RECORDS} training records; "
                f"use {BEDROCK_MIN_RECORDS} or more",
                "sizes",
            )
        if size > min(train_records, BEDROCK_MAX_RECORDS):
            limit = min(train_records, BEDROCK_MAX_RECORDS)
            raise SweepPlanError(
                f"sizes: {size:,} is more than the {limit:,} training records available; "
                f"use at most {limit:,} or 'all'",
                "sizes",
            )
        resolved.add(size)
    if len(resolved) > MAX_SIZES:
        raise SweepPlanError(f"sizes: at most {MAX_SIZES} sizes per sweep, got {len(resolved)}", "sizes")
    return tuple(sorted(resolved))


def _draw(seed: int, index: int) -> float:
    """A uniform draw in [0, 1) that depends only on the seed and the record's position."""
    digest = hashlib.blake2b(f"{seed}:{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def nested_order(
    record_count: int, groups: Sequence[Hashable] | None = None, seed: int = DEFAULT_SEED
) -> list[int]:
    """Every record index once, in the order subsets take them: a subset of n is the first n.

    Without groups the order is a seeded shuffle. With groups (one label per record), each group is
    shuffled on its own and its k-th record gets the key (k + u) / group size, u a seeded draw in
    [0, 1): sorting by that key spreads every group evenly through the order (systematic stratified
    sampling), so any prefix holds each group in about its share of the whole.
    """
    if groups is not None and len(groups) != record_count:
        raise ValueError(f"{len(groups)} group labels for {record_count} records")
    labels: Sequence[Hashable] = groups if groups is not None else [None] * record_count
    members: dict[Hashable, list[int]] = {}
    for index, label in enumerate(labels):
        members.setdefault(label, []).append(index)
    keyed: list[tuple[float, float, int]] = []
    for indices in members.values():
        shuffled = sorted(indices, key=lambda index: _draw(seed, index))
        size = len(shuffled)
        for rank, index in enumerate(shuffled):
            draw = _draw(seed + 1, index)
            keyed.append(((rank + draw) / size, draw, index))
    keyed.sort()
    return [index for _, _, index in keyed]


def nested_subsets(
    record_count: int,
    sizes: Sequence[int],
    groups: Sequence[Hashable] | None = None,
    seed: int = DEFAULT_SEED,
) -> dict[int, list[int]]:
    """For each size, the indices of its training records in file order; each is inside the next."""
    order = nested_order(record_count, groups, seed)
    subsets: dict[int, list[int]] = {}
    for size in sizes:
        if not 0 < size <= record_count:
            raise ValueError(f"a subset of {size} from {record_count} records")
        subsets[size] = sorted(order[:size])
    return subsets


class SweepStatus(StrEnum):
    RUNNING = "running"  # some job is not final yet
    EVALUATED = "evaluated"  # every job ended; the curve and verdict are built from the done ones
    FAILED = "failed"  # every job ended and too few are done to draw a curve
    CANCELLED = "cancelled"  # cancelled as a whole


@dataclass(frozen=True, slots=True)
class JobOutcome:
    """What the sweep needs to know of one of its jobs."""

    model: str
    train_size: int
    status: JobStatus
    evaluated: bool  # its fine-tuned and base evaluations both have per-example scores


def sweep_status(jobs: Sequence[JobOutcome], cancelled: bool = False) -> SweepStatus:
    """Running while any job is not final; then evaluated when at least one job per model has scores."""
    if cancelled:
        return SweepStatus.CANCELLED
    if not jobs or any(job.status not in FINAL for job in jobs):
        return SweepStatus.RUNNING
    done_models = {job.model for job in jobs if job.status == JobStatus.DONE and job.evaluated}
    return SweepStatus.EVALUATED if done_models else SweepStatus.FAILED


def jobs_per_cell(models: Sequence[str], sizes: Sequence[int]) -> list[tuple[int, str]]:
    """(training size, model) of every job, smallest size first: the order they are launched in."""
    return [(size, model) for size in sizes for model in models]


def subset_names(dataset_name: str, sizes: Sequence[int]) -> Mapping[int, str]:
    """The derived datasets' names: the parent's name and the subset's size, e.g. ``charts-n1000``."""
    return {size: f"{dataset_name}-n{size}"[:200] for size in sizes}

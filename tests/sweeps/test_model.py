"""Nested training subsets and the sizes a sweep may ask for."""

from __future__ import annotations

from collections import Counter

import pytest

from services.jobs.model import JobStatus
from services.sweeps.model import (
    ALL,
    JobOutcome,
    SweepPlanError,
    SweepStatus,
    nested_order,
    nested_subsets,
    parse_sizes,
    resolve_sizes,
    sweep_status,
)


def test_each_subset_lies_inside_the_next_and_sizes_are_exact() -> None:
    subsets = nested_subsets(2_500, [100, 1_000, 2_500], seed=7)
    assert [len(subsets[size]) for size in (100, 1_000, 2_500)] == [100, 1_000, 2_500]
    assert set(subsets[100]) < set(subsets[1_000]) < set(subsets[2_500])
    assert subsets[2_500] == list(range(2_500))
    assert subsets[100] == sorted(subsets[100])  # written in the file's own order


def test_the_same_seed_draws_the_same_subsets_and_another_seed_others() -> None:
    first = nested_subsets(1_000, [100], seed=3)[100]
    assert nested_subsets(1_000, [100], seed=3)[100] == first
    assert nested_subsets(1_000, [100], seed=4)[100] != first


def test_the_small_subset_is_not_simply_the_first_records() -> None:
    small = nested_subsets(1_000, [100])[100]
    assert small != list(range(100))
    assert max(small) > 500  # drawn from the whole file


def test_groups_keep_their_share_in_every_subset() -> None:
    # 80 % chart questions, 15 % tables, 5 % text-only: every prefix keeps the mix within one record.
    groups = ["chart"] * 1_600 + ["table"] * 300 + ["text"] * 100
    subsets = nested_subsets(len(groups), [100, 400, 1_000], groups, seed=11)
    for size, indices in subsets.items():
        counts = Counter(groups[index] for index in indices)
        for label, share in (("chart", 0.80), ("table", 0.15), ("text", 0.05)):
            assert abs(counts[label] - share * size) <= 1, (size, label, counts)
    assert set(subsets[100]) < set(subsets[400]) < set(subsets[1_000])


def test_a_rare_group_is_in_the_smallest_subset_in_its_share() -> None:
    groups = ["common"] * 1_950 + ["rare"] * 50
    stratified = Counter(groups[index] for index in nested_order(2_000, groups, seed=5)[:100])
    assert stratified["rare"] in (2, 3)


def test_group_labels_must_match_the_records() -> None:
    with pytest.raises(ValueError, match="3 group labels for 4 records"):
        nested_order(4, ["a", "b", "c"])


def test_sizes_parse_from_the_slash_command_form() -> None:
    assert parse_sizes("100, 1k,all") == (100, 1_000, ALL)
    with pytest.raises(SweepPlanError, match="'lots' is not a number of examples"):
        parse_sizes("100,lots")


def test_all_is_every_training_record_and_sizes_come_back_sorted_once() -> None:
    assert resolve_sizes([ALL, 1_000, 100, 100], 4_321) == (100, 1_000, 4_321)
    assert resolve_sizes([ALL, 1_000], 1_000) == (1_000,)


def test_all_is_capped_at_bedrocks_ten_thousand_records() -> None:
    assert resolve_sizes([ALL], 25_000) == (10_000,)


def test_a_size_below_bedrocks_minimum_is_refused_with_what_to_ask_instead() -> None:
    with pytest.raises(SweepPlanError) as refused:
        resolve_sizes([50, ALL], 2_000)
    assert "50 is below Bedrock's minimum of 100 training records; use 100 or more" in refused.value.message
    assert refused.value.field == "sizes"


def test_a_size_beyond_the_dataset_is_refused() -> None:
    with pytest.raises(SweepPlanError, match="5,000 is more than the 1,200 training records available"):
        resolve_sizes([100, 5_000], 1_200)


def test_a_dataset_too_small_for_bedrock_cannot_be_swept() -> None:
    with pytest.raises(SweepPlanError, match="80 training records; Bedrock needs at least 100"):
        resolve_sizes([ALL], 80)


def test_a_sweep_runs_until_every_job_is_final_then_is_evaluated_if_a_job_has_scores() -> None:
    running = [
        JobOutcome("11b", 100, JobStatus.DONE, True),
        JobOutcome("11b", 1_000, JobStatus.TRAINING, False),
    ]
    assert sweep_status(running) is SweepStatus.RUNNING
    ended = [running[0], JobOutcome("11b", 1_000, JobStatus.FAILED, False)]
    assert sweep_status(ended) is SweepStatus.EVALUATED
    nothing = [JobOutcome("11b", 100, JobStatus.FAILED, False)]
    assert sweep_status(nothing) is SweepStatus.FAILED
    assert sweep_status(running, cancelled=True) is SweepStatus.CANCELLED

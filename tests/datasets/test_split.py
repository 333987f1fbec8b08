"""The split: deterministic for a seed, every question of an image on one side, Bedrock's caps."""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict

import pytest

from services.datasets.split import PackedKeys, SplitPlan, assign_sides, group_key


def image_hash(number: int) -> str:
    return hashlib.sha256(f"image {number}".encode()).hexdigest()


def keys_for(images: int, questions_per_image: int) -> list[bytes]:
    return [group_key([image_hash(i)], "") for i in range(images) for _ in range(questions_per_image)]


def test_same_seed_same_split_and_another_seed_another() -> None:
    keys = keys_for(400, 3)
    first = assign_sides(keys, SplitPlan(seed=7))
    assert assign_sides(keys, SplitPlan(seed=7)) == first
    assert assign_sides(keys, SplitPlan(seed=8)) != first


def test_split_does_not_depend_on_the_order_records_arrive_in() -> None:
    keys = keys_for(300, 2)
    forward = dict(zip(keys, assign_sides(keys, SplitPlan(seed=1)), strict=True))
    backward = dict(zip(keys[::-1], assign_sides(keys[::-1], SplitPlan(seed=1)), strict=True))
    assert forward == backward


def test_all_questions_of_one_image_land_on_one_side() -> None:
    keys = keys_for(500, 4)
    sides_of: dict[bytes, set[str]] = defaultdict(set)
    for key, side in zip(keys, assign_sides(keys, SplitPlan()), strict=True):
        sides_of[key].add(side)
    assert all(len(sides) == 1 for sides in sides_of.values())
    assert {side for sides in sides_of.values() for side in sides} == {"train", "validation", "test"}


def test_fractions_are_met_exactly_when_groups_are_small() -> None:
    counts = Counter(assign_sides(keys_for(1000, 1), SplitPlan(validation_fraction=0.2, test_fraction=0.1)))
    assert counts == {"train": 700, "validation": 200, "test": 100}


def test_test_set_is_capped_at_500_and_validation_at_1000() -> None:
    counts = Counter(assign_sides(keys_for(12_000, 1), SplitPlan(validation_fraction=0.2, test_fraction=0.1)))
    assert counts["test"] == 500
    assert counts["validation"] == 1_000
    assert counts["train"] == 9_000  # Bedrock: train + validation <= 10,000
    assert counts["unused"] == 1_500


def test_a_group_too_big_for_test_goes_to_train_instead_of_overshooting() -> None:
    keys = keys_for(1, 50) + keys_for(100, 1)[1:]
    sides = assign_sides(keys, SplitPlan(test_fraction=0.1))
    assert set(sides[:50]) == {"train"}
    assert Counter(sides)["test"] <= round(len(keys) * 0.1)


def test_text_only_records_group_by_their_question() -> None:
    same = group_key([], "what is 2+2?")
    assert group_key([], "what is 2+2?") == same
    assert group_key([], "what is 3+3?") != same
    assert group_key([image_hash(1), image_hash(2)], "x") == group_key([image_hash(1)], "y")


def test_fractions_outside_the_allowed_ranges_are_explained() -> None:
    assert SplitPlan().problems() == []
    [validation] = SplitPlan(validation_fraction=0.5).problems()
    assert "--validation-fraction must be between 0.1 and 0.2" in validation
    [test] = SplitPlan(test_fraction=-0.1).problems()
    assert "--test-fraction" in test


def test_packed_keys_behave_like_a_list_of_keys() -> None:
    keys = keys_for(5, 2)
    packed = PackedKeys()
    for key in keys:
        packed.append(key)
    assert len(packed) == 10 and list(packed) == keys
    assert packed[-1] == keys[-1] and list(packed[2:4]) == keys[2:4]
    assert assign_sides(packed, SplitPlan(seed=2)) == assign_sides(keys, SplitPlan(seed=2))
    with pytest.raises(IndexError):
        packed[10]
    with pytest.raises(ValueError, match="16 bytes"):
        packed.append(b"short")


def test_a_source_split_that_is_all_test_is_pooled_since_nothing_else_trains() -> None:
    from services.datasets.split import plan_sides

    keys = keys_for(200, 1)
    outcome = plan_sides(keys, SplitPlan(), ["test"] * 200)
    assert Counter(outcome.sides) == {"train": 150, "validation": 30, "test": 20}
    assert "nothing else to train on" in outcome.notes[0]


def test_a_source_test_split_is_kept_beside_its_train_split() -> None:
    from services.datasets.split import plan_sides

    keys = keys_for(300, 1)
    outcome = plan_sides(keys, SplitPlan(), ["train"] * 200 + ["test"] * 100)
    assert outcome.sides[200:] == ["test"] * 100
    assert Counter(outcome.sides[:200]) == {"train": 170, "validation": 30}
    random = plan_sides(keys, SplitPlan(respect_source=False), ["train"] * 200 + ["test"] * 100)
    assert Counter(random.sides)["test"] == 30 and random.sides[200:] != ["test"] * 100

"""Deterministic train / validation / test split that keeps every question of an image on one side,
keeps a source's own splits, and stays within Bedrock's record limits.

Works on one 16-byte group key per record (the image's SHA-256 digest, or the normalised question for
text-only records), never on the records themselves. A group's place in the shuffle depends only on
the seed and its key, so the same data gives the same split whatever order the files list it in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, overload

from services.datasets.model import SourceSplit

# "unused": records kept out of every file Bedrock reads (a source test split over the cap, training
# records over Bedrock's limit); written to unused.jsonl so nothing is lost silently.
Side = Literal["train", "validation", "test", "unused"]

MIN_VALIDATION_FRACTION = 0.10
MAX_VALIDATION_FRACTION = 0.20
MAX_TEST_FRACTION = 0.30


@dataclass(frozen=True, slots=True)
class SplitPlan:
    validation_fraction: float = 0.15
    test_fraction: float = 0.10
    seed: int = 0
    max_test: int = 500
    max_validation: int = 1_000  # Bedrock's validator refuses more
    max_total: int = 10_000  # Bedrock's limit on training + validation records
    respect_source: bool = True  # keep a source's own train / validation / test splits

    def problems(self) -> list[str]:
        """What is wrong with the fractions, phrased as what to pass instead (empty when fine)."""
        found = []
        if not MIN_VALIDATION_FRACTION <= self.validation_fraction <= MAX_VALIDATION_FRACTION:
            found.append(
                f"--validation-fraction must be between {MIN_VALIDATION_FRACTION} and "
                f"{MAX_VALIDATION_FRACTION} (default 0.15), got {self.validation_fraction}"
            )
        if not 0 <= self.test_fraction <= MAX_TEST_FRACTION:
            found.append(
                f"--test-fraction must be between 0 and {MAX_TEST_FRACTION} (default 0.10), "
                f"got {self.test_fraction}"
            )
        return found


@dataclass(frozen=True, slots=True)
class SplitOutcome:
    sides: list[Side]
    notes: tuple[str, ...]  # what was done, for the report
    source_counts: dict[str, int]  # records per split of the source's own


KEY_BYTES = 16


class PackedKeys(Sequence[bytes]):
    """16-byte keys packed end to end: 16 bytes per record instead of a 49-byte object each, so a
    dataset's keys stay small however many records it has."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def append(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"keys are {KEY_BYTES} bytes, got {len(key)}")
        self._buffer += key

    def __len__(self) -> int:
        return len(self._buffer) // KEY_BYTES

    @overload
    def __getitem__(self, index: int) -> bytes: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[bytes]: ...
    def __getitem__(self, index: int | slice) -> bytes | Sequence[bytes]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        start = index * KEY_BYTES
        return bytes(self._buffer[start : start + KEY_BYTES])


def group_key(image_hashes: Sequence[str], normalised_question: str) -> bytes:
    """The first image's digest (its questions stay together); text-only records group by question."""
    if image_hashes:
        return bytes.fromhex(image_hashes[0])[:16]
    return hashlib.blake2b(normalised_question.encode(), digest_size=16).digest()


def assign_sides(
    group_keys: Sequence[bytes], plan: SplitPlan, source_splits: Sequence[SourceSplit | None] | None = None
) -> list[Side]:
    """The side of each record, in the order given (see ``plan_sides``)."""
    return plan_sides(group_keys, plan, source_splits).sides


def plan_sides(
    group_keys: Sequence[bytes], plan: SplitPlan, source_splits: Sequence[SourceSplit | None] | None = None
) -> SplitOutcome:
    """Every record's side, and in words what was done to get there.

    A source's own test records stay test (at most ``max_test``; the rest are ``unused``, never
    trained on); its validation records are validation when they fit ``max_validation`` (else a seeded
    ``max_validation`` of them, the rest unused). What the source does not split is carved from the
    pool: groups are visited in a seeded pseudo-random order; each goes to test while it fits the test
    target, then to validation while that fits, otherwise to train. Targets never overshoot, so a very
    large group simply lands in train. Last, train is cut (seeded) so train + validation stay within
    ``max_total``, Bedrock's record limit.
    """
    total = len(group_keys)
    given: list[SourceSplit | None] = (
        list(source_splits) if source_splits is not None and plan.respect_source else [None] * total
    )
    seed = plan.seed.to_bytes(8, "big", signed=True)
    rank = {key: hashlib.blake2b(seed + key, digest_size=8).digest() for key in dict.fromkeys(group_keys)}
    sides: list[Side] = ["train"] * total
    notes: list[str] = []
    counted = {name: given.count(name) for name in ("train", "validation", "test")}
    if counted["validation"] or counted["test"]:
        present = ", ".join(f"{name} {count:,}" for name, count in counted.items() if count)
        notes.append(f"kept the source's own splits ({present}); --split random pools them instead")
    if counted["validation"] and not any(name in (None, "train") for name in given):
        # Nothing to train on but a validation split (lmms-lab/VQAv2 ships validation and test only).
        given = [None if name == "validation" else name for name in given]
        notes.append(
            "the source has no train split, so its validation split was split into training and validation"
        )
    elif counted["test"] and all(name == "test" for name in given):
        # One file that happens to be called test.csv is the user's whole dataset, not a held-out set.
        given = [None] * total
        notes = [
            "every record is in a split named test and there is nothing else to train on, so they were "
            "split into train, validation and test as one pool"
        ]

    def by_rank(indices: list[int]) -> list[int]:
        return sorted(indices, key=lambda index: (rank[group_keys[index]], index))

    held: dict[Side, tuple[list[int], int]] = {
        "test": (by_rank([i for i, name in enumerate(given) if name == "test"]), plan.max_test),
        "validation": (
            by_rank([i for i, name in enumerate(given) if name == "validation"]),
            plan.max_validation,
        ),
    }
    for side, (indices, cap) in held.items():
        for position, index in enumerate(indices):
            sides[index] = side if position < cap else "unused"
        if len(indices) > cap:
            notes.append(
                f"the source's {side} split has {len(indices):,} records, over the {cap:,} "
                f"{'held out for evaluation' if side == 'test' else 'Bedrock accepts for validation'}: "
                f"kept a seeded {cap:,} (--seed {plan.seed}); the other {len(indices) - cap:,} are in "
                "unused.jsonl and were not trained on"
            )

    pool = [i for i, name in enumerate(given) if name not in ("test", "validation")]
    test_target = 0 if held["test"][0] else min(round(len(pool) * plan.test_fraction), plan.max_test)
    validation_target = (
        0 if held["validation"][0] else min(round(len(pool) * plan.validation_fraction), plan.max_validation)
    )
    _carve(pool, group_keys, rank, sides, test_target, validation_target)

    validation = sides.count("validation")
    train = [i for i in by_rank([i for i in pool if sides[i] == "train"])]
    room = max(plan.max_total - validation, 0)
    if len(train) > room:
        for index in train[room:]:
            sides[index] = "unused"
        notes.append(
            f"left out {len(train) - room:,} of {len(train):,} training records (a seeded choice, --seed "
            f"{plan.seed}) so training + validation stay within Bedrock's {plan.max_total:,} records; they "
            "are in unused.jsonl"
        )
    return SplitOutcome(sides=sides, notes=tuple(notes), source_counts=counted)


def _carve(
    pool: list[int],
    group_keys: Sequence[bytes],
    rank: dict[bytes, bytes],
    sides: list[Side],
    test_target: int,
    validation_target: int,
) -> None:
    sizes: dict[bytes, int] = {}
    for index in pool:
        key = group_keys[index]
        sizes[key] = sizes.get(key, 0) + 1
    side_of: dict[bytes, Side] = {}
    test_count = validation_count = 0
    for key in sorted(sizes, key=rank.__getitem__):
        size = sizes[key]
        if test_count + size <= test_target:
            side_of[key] = "test"
            test_count += size
        elif validation_count + size <= validation_target:
            side_of[key] = "validation"
            validation_count += size
        else:
            side_of[key] = "train"
    for index in pool:
        sides[index] = side_of[group_keys[index]]

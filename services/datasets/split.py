"""Deterministic train / validation / test split that keeps every question of an image on one side.

Works on one 16-byte group key per record (the image's SHA-256 digest, or the normalised question for
text-only records), never on the records themselves. A group's place in the shuffle depends only on
the seed and its key, so the same data gives the same split whatever order the files list it in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, overload

Side = Literal["train", "validation", "test"]

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


def assign_sides(group_keys: Sequence[bytes], plan: SplitPlan) -> list[Side]:
    """The side of each record, in the order given.

    Groups are visited in a seeded pseudo-random order; each goes to test while it fits the test
    target, then to validation while that fits, otherwise to train. Targets never overshoot, so a
    very large group simply lands in train.
    """
    sizes: dict[bytes, int] = {}
    for key in group_keys:
        sizes[key] = sizes.get(key, 0) + 1
    total = len(group_keys)
    test_target = min(round(total * plan.test_fraction), plan.max_test)
    validation_target = min(round(total * plan.validation_fraction), plan.max_validation)

    seed = plan.seed.to_bytes(8, "big", signed=True)
    order = sorted(sizes, key=lambda key: hashlib.blake2b(seed + key, digest_size=8).digest())
    side_of: dict[bytes, Side] = {}
    test_count = validation_count = 0
    for key in order:
        size = sizes[key]
        if test_count + size <= test_target:
            side_of[key] = "test"
            test_count += size
        elif validation_count + size <= validation_target:
            side_of[key] = "validation"
            validation_count += size
        else:
            side_of[key] = "train"
    return [side_of[key] for key in group_keys]

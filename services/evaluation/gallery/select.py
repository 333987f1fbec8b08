"""Which examples the gallery shows: where fine-tuning helped most, hurt most, and where 11B and 90B
disagree most. Pure: scored rows in, chosen rows out.

"Helped" ranks by the fine-tuned model's F1 minus the base model's on the same example; "hurt" is the
other end of the same ranking, keeping only examples where fine-tuning lost. "Disagree" ranks the pair's
two fine-tuned models by how far apart their F1 is on the example. Ties break by example id, so the same
scores always give the same gallery.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

ROWS_PER_SET = 4
ROWS_PER_SET_IN_ALL = 2  # the one image posted in a thread shows every set, two examples each


class GallerySet(StrEnum):
    HELPED = "helped"
    HURT = "hurt"
    DISAGREE = "disagree"
    ALL = "all"  # helped, hurt and (for a pair) disagree, in one image


TITLES = {
    GallerySet.HELPED: "Where fine-tuning helped most",
    GallerySet.HURT: "Where fine-tuning hurt most",
    GallerySet.DISAGREE: "Where 11B and 90B disagree most",
    GallerySet.ALL: "Example gallery",
}


@dataclass(frozen=True, slots=True)
class Answer:
    text: str
    f1: float  # 0-1, as the metrics return it


@dataclass(frozen=True, slots=True)
class ScoredExample:
    """One test example as one job scored it: its base and fine-tuned answers."""

    example_id: str
    model: str
    question: str
    references: tuple[str, ...]
    base: Answer
    fine_tuned: Answer
    image_uri: str | None = None

    @property
    def uplift(self) -> float:
        return self.fine_tuned.f1 - self.base.f1


@dataclass(frozen=True, slots=True)
class Disagreement:
    """One test example where the pair's two fine-tuned models answered differently."""

    small: ScoredExample
    large: ScoredExample

    @property
    def gap(self) -> float:
        return abs(self.large.fine_tuned.f1 - self.small.fine_tuned.f1)


def helped_most(examples: Sequence[ScoredExample], rows: int = ROWS_PER_SET) -> list[ScoredExample]:
    gained = [example for example in examples if example.uplift > 0]
    return sorted(gained, key=lambda example: (-example.uplift, example.example_id, example.model))[:rows]


def hurt_most(examples: Sequence[ScoredExample], rows: int = ROWS_PER_SET) -> list[ScoredExample]:
    lost = [example for example in examples if example.uplift < 0]
    return sorted(lost, key=lambda example: (example.uplift, example.example_id, example.model))[:rows]


def disagree_most(
    small: Mapping[str, ScoredExample], large: Mapping[str, ScoredExample], rows: int = ROWS_PER_SET
) -> list[Disagreement]:
    """Examples both sizes scored, where their fine-tuned F1 differs, the widest gaps first."""
    pairs = [Disagreement(small[key], large[key]) for key in sorted(set(small) & set(large))]
    apart = [pair for pair in pairs if pair.gap > 0]
    return sorted(apart, key=lambda pair: (-pair.gap, pair.small.example_id))[:rows]

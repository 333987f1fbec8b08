"""Plain per-example scores for sweep tests.

``right(percent, count)`` answers the first ``percent`` % of ``count`` examples right (F1 1) and the
rest wrong (F1 0), so a mean is exact and a better run is right on a superset of a worse one's
examples. ``scattered=True`` draws which examples are right with a seed per run instead, as real runs
do: then two runs of equal F1 still disagree on single examples, and intervals show it.
"""

from __future__ import annotations

import random

from services.sweeps.curve import Cell


def right(percent: float, count: int = 200, seed: str | None = None) -> dict[str, float]:
    hits = round(percent / 100 * count)
    chosen = set(random.Random(seed).sample(range(count), hits)) if seed is not None else set(range(hits))
    return {f"e{index:04d}": 1.0 if index in chosen else 0.0 for index in range(count)}


def cells(table: dict[tuple[str, int], float], count: int = 200, scattered: bool = False) -> list[Cell]:
    return [
        Cell(
            model=model,
            train_size=size,
            scores=right(f1, count, seed=f"{model}-{size}" if scattered else None),
        )
        for (model, size), f1 in table.items()
    ]

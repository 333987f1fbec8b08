"""How well the sandbox's simulated models answer: the seed's published SQuAD F1, by dataset kind, model
size and training-set size, with per-example noise. Pure: no I/O.

The figures are AWS's fine-tuning study of Llama 3.2 Vision (reference/metrics.md): base and fine-tuned
F1 for ChartQA, Cut-VQAv2 and LLaVA-Instruct-Mix-VSFT, for 11B and 90B. F1 rises with data along the
study's Cut-VQAv2 waypoints (90B with 100 examples reaches 60 % of its gain, 11B with 1,000 reaches
85 %), so a small sandbox dataset shows a smaller uplift than a large one, and 90B leads as it did.
These are targets for a simulation, never measurements: everything built on them is labelled.
"""

from __future__ import annotations

import hashlib
import math
from typing import Literal

Kind = Literal["chartqa", "cut-vqav2", "llava"]
Size = Literal["11b", "90b"]

# (kind, size) -> (base F1, fine-tuned F1 with 10,000 training examples), from the seed's study.
PUBLISHED: dict[tuple[Kind, Size], tuple[float, float]] = {
    ("chartqa", "11b"): (64.1, 69.5),
    ("chartqa", "90b"): (64.0, 71.9),
    ("cut-vqav2", "11b"): (42.17, 73.2),
    ("cut-vqav2", "90b"): (67.4, 76.5),
    ("llava", "11b"): (76.2, 82.4),
    ("llava", "90b"): (76.6, 83.1),
}
FULL_DATA = 10_000
# Share of the fine-tuning gain reached with 100 examples (the study's 90B Cut-VQAv2: 67.4 -> 72.9 of
# 76.5), and the curve's bend so that 1,000 examples reach 85 % (11B Cut-VQAv2: 42.17 -> 68.6 of 73.2).
SHARE_AT_100 = 0.6
BEND = math.log(0.15 / 0.4) / math.log(0.5)

# How much of an example's outcome is its own difficulty (shared by every model) rather than the
# model's luck: a harder example defeats every model more often, as in a real test set, yet two models
# still disagree on some examples, so their scores differ and their paired difference has spread.
SHARED = 0.75


def kind_of(source_format: str | None) -> Kind:
    """The study's dataset nearest to a source format: charts, visual QA, or the general LLaVA mix."""
    name = (source_format or "").lower()
    if "chart" in name:
        return "chartqa"
    if "vqa" in name:
        return "cut-vqav2"
    return "llava"


def gain_share(train_examples: int) -> float:
    """The share of the published fine-tuning gain bought: 0 at 10 examples, 0.6 at 100, 1 at 10,000."""
    if train_examples <= 10:
        return 0.0
    digits = math.log10(train_examples)
    if digits < 2:
        return SHARE_AT_100 * (digits - 1)
    if train_examples >= FULL_DATA:
        return 1.0
    remaining: float = ((4.0 - digits) / 2.0) ** BEND
    return 1.0 - (1.0 - SHARE_AT_100) * remaining


def expected_f1(kind: Kind, size: Size, fine_tuned: bool, train_examples: int) -> float:
    """The published F1 (0-100) a simulated model aims at."""
    base, tuned = PUBLISHED[(kind, size)]
    return base + (tuned - base) * gain_share(train_examples) if fine_tuned else base


def _uniform(*parts: str) -> float:
    digest = hashlib.sha256("|".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _mix_cdf(x: float) -> float:
    """P(SHARED * U + (1 - SHARED) * V <= x) for independent uniforms U, V (a trapezoid)."""
    a, b = max(SHARED, 1 - SHARED), min(SHARED, 1 - SHARED)
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    if x < b:
        return x * x / (2 * a * b)
    if x <= a:
        return (x - b / 2) / a
    return 1 - (1 - x) ** 2 / (2 * a * b)


def _threshold(chance: float) -> float:
    """The x with _mix_cdf(x) == chance, by bisection (the CDF is continuous and increasing)."""
    low, high = 0.0, 1.0
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if _mix_cdf(middle) < chance else (low, middle)
    return (low + high) / 2


def answers_right(example_key: str, model_key: str, chance: float) -> bool:
    """Whether a model answers this example right, with probability ``chance`` over examples.

    The draw mixes the example's own difficulty with the model's per-example luck; it is a hash, so the
    same model gives the same answer to the same example every time.
    """
    score = SHARED * _uniform("difficulty", example_key) + (1 - SHARED) * _uniform(
        "luck", example_key, model_key
    )
    return score < _threshold(min(max(chance, 0.0), 1.0))

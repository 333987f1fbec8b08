"""Hyperparameter and model-size recommendations (DESIGN §4). Pure: no I/O.

The rules come from the seed's experiments: fewer examples need more passes at a gentle learning
rate; many examples need fewer passes and tolerate a higher rate. Every value is clamped to what
Bedrock accepts for Llama 3.2 (epochs 1-10, learning rate 5e-6-0.1, batch size 1). What a launch
costs is ``services.tuning.costs``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel

ModelSize = Literal["11b", "90b"]
MODEL_SIZES: tuple[ModelSize, ...] = ("11b", "90b")

BEDROCK_EPOCHS = (1, 10)
BEDROCK_LEARNING_RATE = (5e-6, 0.1)
SMALL_DATASET = 500  # below: "< 500" row
LARGE_DATASET = 5_000  # above: "> 5,000" row
UNSURE_LEARNING_RATE = 1e-5


class Recommendation(BaseModel):
    model: ModelSize
    epochs: int
    learning_rate: float
    epochs_range: tuple[int, int]
    learning_rate_range: tuple[float, float]
    reasons: list[str]
    examples: int


@dataclass(frozen=True, slots=True)
class _Rule:
    epochs: int
    epochs_range: tuple[int, int]
    learning_rate: float
    learning_rate_range: tuple[float, float]
    why: str


def _rule(examples: int) -> _Rule:
    if examples < SMALL_DATASET:
        return _Rule(8, (7, 10), 1e-5, (5e-6, 1e-5), f"under {SMALL_DATASET} examples is a small dataset")
    if examples <= LARGE_DATASET:
        mid = f"{SMALL_DATASET:,}-{LARGE_DATASET:,} examples is mid-sized"
        return _Rule(5, (5, 5), 1e-5, (1e-5, 1e-5), mid)
    return _Rule(3, (3, 4), 2e-5, (1e-5, 5e-5), f"over {LARGE_DATASET:,} examples is a large dataset")


def _clamp(value: float, bounds: tuple[float, float]) -> float:
    return min(max(value, bounds[0]), bounds[1])


def recommend(
    examples: int, model: ModelSize | None = None, fits: tuple[ModelSize, ...] = MODEL_SIZES
) -> Recommendation:
    """The recommendation for ``examples`` training examples, with one reason per value.

    ``fits`` are the sizes the dataset's records fit (per-record token limits): a size outside it is
    never recommended.
    """
    if examples < 0:
        raise ValueError("examples must be 0 or more")
    rule = _rule(examples)
    epochs = int(_clamp(rule.epochs, BEDROCK_EPOCHS))
    epochs_range = (
        int(_clamp(rule.epochs_range[0], BEDROCK_EPOCHS)),
        int(_clamp(rule.epochs_range[1], BEDROCK_EPOCHS)),
    )
    learning_rate = _clamp(rule.learning_rate, BEDROCK_LEARNING_RATE)
    learning_rate_range = (
        _clamp(rule.learning_rate_range[0], BEDROCK_LEARNING_RATE),
        _clamp(rule.learning_rate_range[1], BEDROCK_LEARNING_RATE),
    )
    chosen, model_reason = _model_advice(examples, model)
    if chosen not in fits and fits:
        chosen = fits[0]
        model_reason = (
            f"{chosen.upper()} because some records are over the other size's per-record token limit "
            "(see the report's model fit); shorten them to make both sizes possible."
        )
    reasons = [
        f"{epochs} epochs because {examples:,} examples: {rule.why}, "
        + (
            "so the model needs several passes to learn it."
            if examples < SMALL_DATASET
            else "so fewer passes learn it without overfitting."
        ),
        f"Learning rate {learning_rate:g} because {rule.why}; the seed's experiments found "
        f"{_range_text(learning_rate_range)} works best there (Bedrock's default 1e-4 is too high).",
        model_reason,
    ]
    return Recommendation(
        model=chosen,
        epochs=epochs,
        learning_rate=learning_rate,
        epochs_range=epochs_range,
        learning_rate_range=learning_rate_range,
        reasons=reasons,
        examples=examples,
    )


def _range_text(bounds: tuple[float, float]) -> str:
    low, high = bounds
    return f"{low:g}" if low == high else f"{low:g} to {high:g}"


def _model_advice(examples: int, model: ModelSize | None) -> tuple[ModelSize, str]:
    if model == "90b":
        return "90b", "90B as asked: the most accurate choice for complex visual reasoning, at a higher cost."
    if model == "11b":
        return "11b", "11B as asked: cheaper and faster; launch both sizes to let the comparison decide."
    if examples < SMALL_DATASET:
        return "90b", (
            "90B because with little data the larger model generalises better; launch 11B beside it "
            "if cost matters and let the comparison decide."
        )
    return "11b", (
        "11B because with this much data it usually gets close to 90B at a fraction of the cost and "
        "latency; launch both to let the comparison decide."
    )


@dataclass(frozen=True, slots=True)
class OverrideCheck:
    """A user's own epochs and learning rate: refused outside Bedrock's range, warned outside ours."""

    allowed: bool
    warnings: list[str] = field(default_factory=list)
    refusal: str | None = None


def check_override(epochs: int, learning_rate: float, recommendation: Recommendation) -> OverrideCheck:
    refusals = []
    if not BEDROCK_EPOCHS[0] <= epochs <= BEDROCK_EPOCHS[1]:
        refusals.append(f"Bedrock accepts {BEDROCK_EPOCHS[0]}-{BEDROCK_EPOCHS[1]} epochs, not {epochs}")
    if not BEDROCK_LEARNING_RATE[0] <= learning_rate <= BEDROCK_LEARNING_RATE[1]:
        refusals.append(
            f"Bedrock accepts a learning rate from {BEDROCK_LEARNING_RATE[0]:g} to "
            f"{BEDROCK_LEARNING_RATE[1]:g}, not {learning_rate:g}"
        )
    if refusals:
        return OverrideCheck(allowed=False, refusal="; ".join(refusals) + ": choose a value in range.")
    warnings = []
    low, high = recommendation.epochs_range
    if not low <= epochs <= high:
        warnings.append(
            f"{epochs} epochs is outside the recommended {low}-{high} for {recommendation.examples:,} "
            "examples: expect over- or under-fitting."
        )
    lr_low, lr_high = recommendation.learning_rate_range
    if not lr_low <= learning_rate <= lr_high:
        warnings.append(
            f"learning rate {learning_rate:g} is outside the recommended {_range_text((lr_low, lr_high))} "
            f"for {recommendation.examples:,} examples: training may diverge or barely move."
        )
    return OverrideCheck(allowed=True, warnings=warnings)

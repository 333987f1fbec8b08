"""The learning curve of a sweep: F1 against log training size per model size, with 95 % intervals.

Pure: it takes per-example scores (0–1, as the metrics return them) of every (model size, training
size) job and of each base model, all on the one shared test set, and returns what the verdict and the
chart need, in points (0–100). Every interval is a paired percentile bootstrap over the test examples:
one resample draws examples with replacement and applies the same draw to every job, so an example's
difficulty cancels out of every difference, and the line fitted in each resample gives the
interval of the gain per doubling and of every prediction.

The line is F1 = a + b · log2(training size), fitted by least squares to the job means of one model
size; b is the gain per doubling of data. With one training size there is no line (b is None).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

DEFAULT_RESAMPLES = 1_000
DEFAULT_SEED = 20_241_201
CONFIDENCE = 0.95
MODEL_ORDER = ("11b", "90b")  # smaller first


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Interval(_Frozen):
    low: float
    high: float

    def excludes_zero(self) -> bool:
        return self.low > 0.0 or self.high < 0.0


class Estimate(_Frozen):
    """A figure in F1 points with its 95 % interval."""

    value: float
    interval: Interval


class CurvePoint(_Frozen):
    train_size: int
    f1: Estimate


class ModelCurve(_Frozen):
    model: str
    points: tuple[CurvePoint, ...]
    base_f1: Estimate | None = Field(description="the base model on the same examples, when it was scored")
    gain_per_doubling: Estimate | None = Field(description="None with fewer than two training sizes")
    intercept: float | None = Field(description="fitted F1 at one training example (log2 size 0)")

    def largest(self) -> CurvePoint:
        return self.points[-1]

    def smallest(self) -> CurvePoint:
        return self.points[0]


class Cell(_Frozen):
    """One job's scores: the fine-tuned model of ``model`` trained on ``train_size`` records."""

    model: str
    train_size: int
    scores: Mapping[str, float]  # example id -> F1 (0–1)


class Bootstrap:
    """Resampled job means over the shared examples, kept for the verdict's derived intervals."""

    def __init__(self, means: dict[tuple[str, int], np.ndarray], base: dict[str, np.ndarray]) -> None:
        self.means = means  # (model, train size) -> F1 points per resample (plus the estimate first)
        self.base = base

    def line(self, model: str) -> tuple[np.ndarray, np.ndarray] | None:
        """Intercept and slope per resample (index 0 is the fit to the actual means)."""
        sizes = sorted(size for name, size in self.means if name == model)
        if len(sizes) < 2:
            return None
        x = np.log2(np.array(sizes, dtype=float))
        y = np.stack([self.means[(model, size)] for size in sizes])  # sizes x (1 + resamples)
        x_centred = x - x.mean()
        slope = (x_centred[:, None] * (y - y.mean(axis=0))).sum(axis=0) / (x_centred**2).sum()
        intercept = y.mean(axis=0) - slope * x.mean()
        return intercept, slope

    def predicted(self, model: str, train_size: int) -> np.ndarray | None:
        """F1 of ``model`` at ``train_size`` per resample: measured when it was run, else from the line."""
        if (model, train_size) in self.means:
            return self.means[(model, train_size)]
        fitted = self.line(model)
        if fitted is None:
            return None
        intercept, slope = fitted
        return np.clip(intercept + slope * math.log2(train_size), 0.0, 100.0)


def estimate(samples: np.ndarray) -> Estimate:
    """Index 0 holds the figure itself; the rest are resamples for the percentile interval."""
    tail = (1.0 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(samples[1:], [tail, 100.0 - tail]) if len(samples) > 1 else (samples[0],) * 2
    return Estimate(value=_clean(samples[0]), interval=Interval(low=_clean(low), high=_clean(high)))


def _clean(value: float | np.floating) -> float:
    # Means of resampled identical values land a few ulps off; round well below anything displayed.
    return round(float(value), 9) + 0.0


def _model_rank(model: str) -> tuple[int, str]:
    return (MODEL_ORDER.index(model) if model in MODEL_ORDER else len(MODEL_ORDER), model)


class SweepFit(_Frozen):
    example_count: int
    curves: tuple[ModelCurve, ...]
    resamples: int
    seed: int

    def curve(self, model: str) -> ModelCurve | None:
        return next((curve for curve in self.curves if curve.model == model), None)


def fit_curves(
    cells: Sequence[Cell],
    base: Mapping[str, Mapping[str, float]],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> tuple[SweepFit, Bootstrap]:
    """Fit each model size's curve on the examples every job (and every base run given) scored.

    ``base`` maps a model size to its base model's per-example scores; a size without one gets no
    reference line. Raises ValueError when the jobs share no example or a (model, size) repeats.
    """
    if not cells:
        raise ValueError("no evaluated job to draw a curve from")
    if resamples < 1:
        raise ValueError("resamples must be at least 1")
    seen: set[tuple[str, int]] = set()
    for cell in cells:
        if (cell.model, cell.train_size) in seen:
            raise ValueError(f"{cell.model} at {cell.train_size} training records appears twice")
        seen.add((cell.model, cell.train_size))
    runs: list[Mapping[str, float]] = [cell.scores for cell in cells]
    runs.extend(base[model] for model in base)
    shared = sorted(set.intersection(*(set(run) for run in runs)))
    if not shared:
        raise ValueError("the jobs of the sweep share no scored test example")

    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(shared), size=(resamples, len(shared)))

    def resampled(scores: Mapping[str, float]) -> np.ndarray:
        column = np.array([scores[example] for example in shared], dtype=float) * 100
        return np.concatenate(([column.mean()], column[draws].mean(axis=1)))

    means = {(cell.model, cell.train_size): resampled(cell.scores) for cell in cells}
    base_means = {model: resampled(scores) for model, scores in base.items()}
    bootstrap = Bootstrap(means, base_means)

    curves = []
    models = sorted({cell.model for cell in cells}, key=_model_rank)
    for model in models:
        sizes = sorted(size for name, size in means if name == model)
        points = tuple(CurvePoint(train_size=size, f1=estimate(means[(model, size)])) for size in sizes)
        fitted = bootstrap.line(model)
        curves.append(
            ModelCurve(
                model=model,
                points=points,
                base_f1=estimate(base_means[model]) if model in base_means else None,
                gain_per_doubling=estimate(fitted[1]) if fitted is not None else None,
                intercept=_clean(fitted[0][0]) if fitted is not None else None,
            )
        )
    fit = SweepFit(example_count=len(shared), curves=tuple(curves), resamples=resamples, seed=seed)
    return fit, bootstrap

"""The 11B-vs-90B comparison: did fine-tuning help each size, and which size should the team ship?

Pure: it takes per-example scores (already computed by the metrics) and costs, and returns a
`SizeComparison` (``comparison``) with its verdict (``verdict``). The intervals are a paired bootstrap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from services.evaluation.comparison import (
    Disagreement,
    ExampleOutcome,
    Interval,
    ModelSize,
    SizeComparison,
    SizeDifference,
    SizeEvaluation,
    SizeSummary,
)
from services.evaluation.verdict import write_verdict

DEFAULT_RESAMPLES = 1_000
DEFAULT_SEED = 20_240_925
CONFIDENCE = 0.95
MAX_DISAGREEMENTS = 5


# -------------------------------------------------------------------------------------- computation


def _by_id(outcomes: Sequence[ExampleOutcome], label: str) -> dict[str, ExampleOutcome]:
    indexed: dict[str, ExampleOutcome] = {}
    for outcome in outcomes:
        if outcome.example_id in indexed:
            raise ValueError(f"{label}: example {outcome.example_id!r} appears twice")
        indexed[outcome.example_id] = outcome
    return indexed


def _percentile_interval(resampled_means: np.ndarray) -> Interval:
    tail = (1.0 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(resampled_means, [tail, 100.0 - tail])
    return Interval(low=_clean(float(low)), high=_clean(float(high)))


def _clean(value: float) -> float:
    # Means of resampled identical values can land a few ulps off the exact figure; round well below
    # anything displayed so "difference 0, CI [0, 0]" reads as exactly that.
    return round(value, 9) + 0.0


def _percent_change(before: float, after: float) -> float | None:
    return None if before == 0 else _clean((after - before) / before * 100)


def _total_cost(evaluation: SizeEvaluation) -> float | None:
    if evaluation.training_cost_usd is None or evaluation.evaluation_cost_usd is None:
        return None
    return round(evaluation.training_cost_usd + evaluation.evaluation_cost_usd, 2)


def _summarise(
    evaluation: SizeEvaluation,
    base_scores: np.ndarray,
    tuned_scores: np.ndarray,
    base_exact: np.ndarray,
    tuned_exact: np.ndarray,
    resample_indices: np.ndarray,
) -> SizeSummary:
    base_f1 = _clean(float(base_scores.mean()) * 100)
    tuned_f1 = _clean(float(tuned_scores.mean()) * 100)
    base_em = _clean(float(base_exact.mean()) * 100)
    tuned_em = _clean(float(tuned_exact.mean()) * 100)
    total = _total_cost(evaluation)
    return SizeSummary(
        size=evaluation.size,
        base_f1=base_f1,
        base_exact_match=base_em,
        fine_tuned_f1=tuned_f1,
        fine_tuned_exact_match=tuned_em,
        base_f1_interval=_percentile_interval(base_scores[resample_indices].mean(axis=1) * 100),
        fine_tuned_f1_interval=_percentile_interval(tuned_scores[resample_indices].mean(axis=1) * 100),
        f1_uplift_points=_clean(tuned_f1 - base_f1),
        f1_uplift_percent=_percent_change(base_f1, tuned_f1),
        exact_match_uplift_points=_clean(tuned_em - base_em),
        exact_match_uplift_percent=_percent_change(base_em, tuned_em),
        training_cost_usd=evaluation.training_cost_usd,
        evaluation_cost_usd=evaluation.evaluation_cost_usd,
        total_cost_usd=total,
        f1_per_dollar=_clean(tuned_f1 / total) if total else None,
        training_seconds=evaluation.training_seconds,
        evaluation_billed_usd=evaluation.evaluation_billed_usd,
    )


def _disagreements(
    example_ids: Sequence[str],
    small: Mapping[str, ExampleOutcome],
    large: Mapping[str, ExampleOutcome],
) -> tuple[Disagreement, ...]:
    gaps = [
        (abs(large[example_id].f1 - small[example_id].f1), example_id)
        for example_id in example_ids
        if large[example_id].f1 != small[example_id].f1
    ]
    # Largest gap first; ties by id so the same inputs always show the same examples.
    gaps.sort(key=lambda gap: (-gap[0], gap[1]))
    chosen = []
    for _, example_id in gaps[:MAX_DISAGREEMENTS]:
        answer_small, answer_large = small[example_id], large[example_id]
        chosen.append(
            Disagreement(
                example_id=example_id,
                question=answer_large.question or answer_small.question,
                references=answer_large.references or answer_small.references,
                answer_11b=answer_small.prediction,
                answer_90b=answer_large.prediction,
                f1_11b=_clean(answer_small.f1 * 100),
                f1_90b=_clean(answer_large.f1 * 100),
            )
        )
    return tuple(chosen)


def compare_sizes(
    small: SizeEvaluation,
    large: SizeEvaluation,
    *,
    sandbox: bool = False,
    metric: str = "SQuAD v1.1 F1",
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> SizeComparison:
    """Compare fine-tuned 11B (`small`) and 90B (`large`) on the examples all four runs share.

    The interval is a paired percentile bootstrap: each resample draws examples with replacement and
    applies the same draw to every run, so per-example difficulty cancels out of the difference.
    """
    if small.size is not ModelSize.SMALL or large.size is not ModelSize.LARGE:
        raise ValueError("compare_sizes expects the 11B evaluation first and the 90B evaluation second")
    if resamples < 1:
        raise ValueError("resamples must be at least 1")
    runs = {
        "11B base": _by_id(small.base, "11B base"),
        "11B fine-tuned": _by_id(small.fine_tuned, "11B fine-tuned"),
        "90B base": _by_id(large.base, "90B base"),
        "90B fine-tuned": _by_id(large.fine_tuned, "90B fine-tuned"),
    }
    all_ids = set().union(*runs.values())
    shared_ids = sorted(set.intersection(*(set(run) for run in runs.values())))
    if not shared_ids:
        raise ValueError("the four runs (base and fine-tuned, 11B and 90B) share no example")

    def column(run: str, field: str) -> np.ndarray:
        return np.array([getattr(runs[run][example_id], field) for example_id in shared_ids], dtype=float)

    rng = np.random.default_rng(seed)
    resample_indices = rng.integers(0, len(shared_ids), size=(resamples, len(shared_ids)))
    small_tuned = column("11B fine-tuned", "f1")
    large_tuned = column("90B fine-tuned", "f1")
    summary_small = _summarise(
        small, column("11B base", "f1"), small_tuned,
        column("11B base", "exact_match"), column("11B fine-tuned", "exact_match"), resample_indices,
    )  # fmt: skip
    summary_large = _summarise(
        large, column("90B base", "f1"), large_tuned,
        column("90B base", "exact_match"), column("90B fine-tuned", "exact_match"), resample_indices,
    )  # fmt: skip

    per_example_gap = (large_tuned - small_tuned) * 100
    interval = _percentile_interval(per_example_gap[resample_indices].mean(axis=1))
    difference = SizeDifference(
        f1_points=_clean(float(per_example_gap.mean())),
        interval=interval,
        excludes_zero=interval.excludes_zero(),
        confidence=CONFIDENCE,
        resamples=resamples,
        seed=seed,
    )
    cost_ratio = _cost_ratio(summary_small.total_cost_usd, summary_large.total_cost_usd)
    share = (
        _clean(summary_small.fine_tuned_f1 / summary_large.fine_tuned_f1 * 100)
        if summary_large.fine_tuned_f1 > 0
        else None
    )
    return SizeComparison(
        sandbox=sandbox,
        metric=metric,
        example_count=len(shared_ids),
        unpaired_example_count=len(all_ids) - len(shared_ids),
        model_11b=summary_small,
        model_90b=summary_large,
        difference=difference,
        cost_ratio=cost_ratio,
        small_share_of_large_f1_percent=share,
        disagreements=_disagreements(shared_ids, runs["11B fine-tuned"], runs["90B fine-tuned"]),
        verdict=write_verdict(difference, summary_small, summary_large, cost_ratio, share, sandbox=sandbox),
        cost_note=small.cost_note or large.cost_note,
    )


def _cost_ratio(small_cost: float | None, large_cost: float | None) -> float | None:
    if small_cost is None or large_cost is None or small_cost <= 0:
        return None
    return _clean(large_cost / small_cost)

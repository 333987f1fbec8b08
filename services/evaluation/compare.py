"""The 11B-vs-90B comparison: did fine-tuning help each size, and which size should the team ship?

Pure: it takes per-example scores (already computed by the metrics) and costs, and returns a
`SizeComparison` that is stored as JSON, served by the API and rendered for Slack. All summary figures
are in points (0–100); per-example inputs are in 0–1, as the metrics return them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from enum import StrEnum

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from services.platform.labels import SANDBOX_LABEL

DEFAULT_RESAMPLES = 1_000
DEFAULT_SEED = 20_240_925
CONFIDENCE = 0.95
MAX_DISAGREEMENTS = 5


class ModelSize(StrEnum):
    SMALL = "11B"
    LARGE = "90B"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# ------------------------------------------------------------------------------------------- inputs


class ExampleOutcome(_Frozen):
    """One model's answer to one test example and its score (0–1)."""

    example_id: str
    f1: float = Field(ge=0.0, le=1.0)
    exact_match: float = Field(ge=0.0, le=1.0)
    prediction: str = ""
    question: str = ""
    references: tuple[str, ...] = ()


class SizeEvaluation(_Frozen):
    """Everything measured for one model size: base and fine-tuned outcomes on the same test set.

    The costs are the parts of the job's launch estimate (training and storage; evaluation), so the
    comparison's total is the figure the user saw before launching; ``evaluation_billed_usd`` is the
    evaluation as it ran, priced by the same functions, shown beside it and never added to it.
    """

    size: ModelSize
    base: tuple[ExampleOutcome, ...]
    fine_tuned: tuple[ExampleOutcome, ...]
    training_cost_usd: float | None = Field(default=None, ge=0.0)
    evaluation_cost_usd: float | None = Field(default=None, ge=0.0)
    evaluation_billed_usd: float | None = Field(default=None, ge=0.0)
    cost_note: str | None = None
    training_seconds: float | None = Field(default=None, ge=0.0)


# ------------------------------------------------------------------------------------------ outputs


class Interval(_Frozen):
    low: float
    high: float

    def excludes_zero(self) -> bool:
        return self.low > 0.0 or self.high < 0.0


class SizeSummary(_Frozen):
    size: ModelSize
    base_f1: float
    base_exact_match: float
    fine_tuned_f1: float
    fine_tuned_exact_match: float
    base_f1_interval: Interval
    fine_tuned_f1_interval: Interval
    f1_uplift_points: float
    f1_uplift_percent: float | None = Field(description="None when the base model scored 0")
    exact_match_uplift_points: float
    exact_match_uplift_percent: float | None
    training_cost_usd: float | None = Field(description="the launch estimate's training and storage")
    evaluation_cost_usd: float | None = Field(description="the launch estimate's evaluation")
    total_cost_usd: float | None = Field(
        description="the launch estimate (training + evaluation), the figure shown at launch; None if unknown"
    )
    f1_per_dollar: float | None = Field(description="fine-tuned F1 points per USD of estimated cost")
    training_seconds: float | None
    evaluation_billed_usd: float | None = Field(
        default=None, description="the evaluation as it ran, priced from its tokens and hours"
    )


class SizeDifference(_Frozen):
    """Fine-tuned 90B minus fine-tuned 11B, paired on the same examples."""

    f1_points: float
    interval: Interval
    excludes_zero: bool
    confidence: float
    resamples: int
    seed: int


class Disagreement(_Frozen):
    example_id: str
    question: str
    references: tuple[str, ...]
    answer_11b: str
    answer_90b: str
    f1_11b: float
    f1_90b: float


class SizeComparison(_Frozen):
    sandbox: bool
    metric: str
    example_count: int
    unpaired_example_count: int = Field(description="examples left out because a run lacks them")
    model_11b: SizeSummary
    model_90b: SizeSummary
    difference: SizeDifference
    cost_ratio: float | None = Field(description="90B total cost / 11B total cost")
    small_share_of_large_f1_percent: float | None = Field(description="11B fine-tuned F1 as % of 90B's")
    disagreements: tuple[Disagreement, ...]
    verdict: str
    cost_note: str | None = Field(default=None, description="set when a price behind the costs is doubtful")


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


# ------------------------------------------------------------------------------------------- wording


def _points(value: float) -> str:
    return f"{value:.1f}"


def _interval_text(interval: Interval) -> str:
    # An en-dash between two negative or mixed-sign numbers is easy to misread; spell it out then.
    if interval.low >= 0:
        return f"CI {_points(interval.low)}–{_points(interval.high)}"
    return f"CI {_points(interval.low)} to {_points(interval.high)}"


def _missing_cost_note(small: SizeSummary, large: SizeSummary) -> str:
    unknown = [summary.size.value for summary in (small, large) if summary.total_cost_usd is None]
    if unknown:
        return f"cost not compared (no cost recorded for {' and '.join(unknown)})"
    return "cost not compared (11B cost is zero)"


def write_verdict(
    difference: SizeDifference,
    small: SizeSummary,
    large: SizeSummary,
    cost_ratio: float | None,
    small_share_percent: float | None,
    *,
    sandbox: bool,
) -> str:
    """One line a team lead can act on: who leads, whether it is real, and what it costs."""
    gap = difference.f1_points
    if difference.excludes_zero and gap > 0:
        cost = f" at {cost_ratio:.1f}× the estimated cost" if cost_ratio is not None else ""
        text = f"90B leads by {_points(gap)} F1 ({_interval_text(difference.interval)}){cost}"
        if cost_ratio is None:
            text += f"; {_missing_cost_note(small, large)}"
        if small_share_percent is not None:
            text += f"; 11B reaches {small_share_percent:.0f} % of 90B's F1"
        text += "."
    elif difference.excludes_zero:
        # Report the lead as 11B − 90B so the reader does not have to flip signs.
        flipped = Interval(low=-difference.interval.high, high=-difference.interval.low)
        text = f"11B leads by {_points(-gap)} F1 ({_interval_text(flipped)})"
        if cost_ratio is not None:
            text += f" and 90B is estimated at {cost_ratio:.1f}× the cost: ship 11B."
        else:
            text += f": ship 11B; {_missing_cost_note(small, large)}."
    else:
        text = (
            f"No clear difference: 90B − 11B = {gap:+.1f} F1 ({_interval_text(difference.interval)}, "
            "includes 0)"
        )
        if cost_ratio is not None:
            text += f"; 90B is estimated at {cost_ratio:.1f}× the cost, so 11B is the better buy."
        else:
            text += f"; prefer 11B, the smaller model; {_missing_cost_note(small, large)}."
    return f"{SANDBOX_LABEL} — {text}" if sandbox else text


def _duration(seconds: float) -> str:
    minutes = math.ceil(seconds / 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1f} %"


def _summary_line(summary: SizeSummary) -> str:
    parts = [
        f"{summary.size.value}: F1 {_points(summary.base_f1)} → {_points(summary.fine_tuned_f1)} "
        f"({summary.f1_uplift_points:+.1f} points, {_percent(summary.f1_uplift_percent)}), "
        f"EM {_points(summary.base_exact_match)} → {_points(summary.fine_tuned_exact_match)}"
    ]
    if summary.total_cost_usd is not None:
        per_dollar = f", {summary.f1_per_dollar:.2f} F1 per estimated $" if summary.f1_per_dollar else ""
        parts.append(f"estimated ${summary.total_cost_usd:,.2f}{per_dollar}")
    else:
        parts.append("cost not estimated")
    if summary.evaluation_billed_usd is not None:
        parts.append(f"evaluation as run ${summary.evaluation_billed_usd:,.2f}")
    if summary.training_seconds is not None:
        parts.append(f"trained in {_duration(summary.training_seconds)}")
    return "; ".join(parts)


def _quoted(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return f"“{flat if len(flat) <= limit else flat[: limit - 1] + '…'}”"


def render_comparison_text(comparison: SizeComparison) -> str:
    """Plain-text report (Slack fallback text, CLI, logs). Says "sandbox" first when it is one."""
    lines = [SANDBOX_LABEL] if comparison.sandbox else []
    lines.append(f"11B vs 90B on {comparison.example_count} test examples ({comparison.metric})")
    if comparison.unpaired_example_count:
        lines.append(f"({comparison.unpaired_example_count} examples left out: not scored in every run)")
    lines.append(_summary_line(comparison.model_11b))
    lines.append(_summary_line(comparison.model_90b))
    difference = comparison.difference
    lines.append(
        f"90B − 11B: {difference.f1_points:+.1f} F1 ({difference.confidence * 100:.0f} % "
        f"{_interval_text(difference.interval)}, {'excludes' if difference.excludes_zero else 'includes'} 0)"
    )
    lines.append(f"Verdict: {comparison.verdict}")
    lines.append(
        "Costs are the launch estimates"
        + (f" ({comparison.cost_note})." if comparison.cost_note else ", not a bill.")
    )
    if comparison.disagreements:
        lines.append("Where they disagree most:")
        for item in comparison.disagreements:
            reference = _quoted(item.references[0]) if item.references else "(none)"
            lines.append(
                f"• {item.example_id} {_quoted(item.question)} — 11B {_quoted(item.answer_11b)} "
                f"(F1 {item.f1_11b:.0f}), 90B {_quoted(item.answer_90b)} (F1 {item.f1_90b:.0f}), "
                f"reference {reference}"
            )
    return "\n".join(lines)

"""Given base and fine-tuned scores for 11B and 90B on one test set, the comparison reports uplift,
a paired difference with its interval, cost efficiency, the sharpest disagreements and a verdict."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from services.evaluation.compare import compare_sizes
from services.evaluation.comparison import ExampleOutcome, ModelSize, SizeComparison, SizeEvaluation
from services.evaluation.verdict import render_comparison_text
from services.platform.labels import SANDBOX_LABEL


def outcomes(
    scores: Sequence[float], *, answer: str = "answer", ids: Sequence[str] | None = None
) -> tuple[ExampleOutcome, ...]:
    example_ids = ids if ids is not None else [f"q{index:02d}" for index in range(len(scores))]
    return tuple(
        ExampleOutcome(
            example_id=example_id,
            f1=score,
            exact_match=1.0 if score == 1.0 else 0.0,
            prediction=f"{answer} {example_id}",
            question=f"question {example_id}?",
            references=(f"reference {example_id}",),
        )
        for example_id, score in zip(example_ids, scores, strict=True)
    )


def evaluation(
    size: ModelSize,
    base: Sequence[float],
    tuned: Sequence[float],
    *,
    training: float | None = 10.0,
    inference: float | None = 2.0,
) -> SizeEvaluation:
    return SizeEvaluation(
        size=size,
        base=outcomes(base, answer=f"{size} base"),
        fine_tuned=outcomes(tuned, answer=f"{size} tuned"),
        training_cost_usd=training,
        evaluation_cost_usd=inference,
        training_seconds=3600.0,
    )


# Scores that vary a lot from example to example, so only pairing can make a constant gap certain.
VARIED = [0.1, 0.9, 0.3, 0.7, 0.2, 0.8, 0.0, 0.6, 0.4, 0.5] * 3


def test_identical_models_differ_by_zero_with_a_zero_width_interval() -> None:
    comparison = compare_sizes(
        evaluation(ModelSize.SMALL, VARIED, VARIED), evaluation(ModelSize.LARGE, VARIED, VARIED)
    )
    assert comparison.difference.f1_points == 0.0
    assert (comparison.difference.interval.low, comparison.difference.interval.high) == (0.0, 0.0)
    assert not comparison.difference.excludes_zero
    assert comparison.disagreements == ()
    assert comparison.verdict == (
        "No clear difference: 90B − 11B = +0.0 F1 (CI 0.0–0.0, includes 0); "
        "90B is estimated at 1.0× the cost, so 11B is the better buy."
    )


def test_a_constant_ten_point_gap_is_certain_because_the_bootstrap_is_paired() -> None:
    large_tuned = [score + 0.1 for score in VARIED]
    small = evaluation(ModelSize.SMALL, [0.4] * 30, VARIED, training=10.0, inference=2.0)
    large = evaluation(ModelSize.LARGE, [0.45] * 30, large_tuned, training=30.0, inference=6.0)
    comparison = compare_sizes(small, large)

    difference = comparison.difference
    assert difference.f1_points == pytest.approx(10.0)
    # Unpaired, scores spread from 0 to 100 would give a wide interval; paired, every resample is +10.
    assert difference.interval.low == pytest.approx(10.0)
    assert difference.interval.high == pytest.approx(10.0)
    assert difference.excludes_zero

    # By hand: 11B fine-tuned mean of VARIED = 45.0, base 40.0; 90B 55.0 vs 45.0.
    assert comparison.model_11b.base_f1 == pytest.approx(40.0)
    assert comparison.model_11b.fine_tuned_f1 == pytest.approx(45.0)
    assert comparison.model_11b.f1_uplift_points == pytest.approx(5.0)
    assert comparison.model_11b.f1_uplift_percent == pytest.approx(12.5)
    assert comparison.model_90b.f1_uplift_points == pytest.approx(10.0)
    assert comparison.model_90b.f1_uplift_percent == pytest.approx(100 * 10 / 45)
    # Costs: 11B 10 + 2 = 12 USD, 90B 30 + 6 = 36 USD -> 3.0×; F1 per dollar 45/12 and 55/36.
    assert comparison.model_11b.total_cost_usd == 12.0
    assert comparison.cost_ratio == pytest.approx(3.0)
    assert comparison.model_11b.f1_per_dollar == pytest.approx(45 / 12)
    assert comparison.model_90b.f1_per_dollar == pytest.approx(55 / 36)
    assert comparison.small_share_of_large_f1_percent == pytest.approx(100 * 45 / 55)
    assert comparison.verdict == (
        "90B leads by 10.0 F1 (CI 10.0–10.0) at 3.0× the estimated cost; 11B reaches 82 % of 90B's F1."
    )


def test_interval_of_a_mixed_gap_contains_the_mean_and_zero() -> None:
    # Half the examples favour 90B by 20 points, half favour 11B by 20: the mean gap is 0.
    small_tuned = [0.5] * 40
    large_tuned = [0.7, 0.3] * 20
    comparison = compare_sizes(
        evaluation(ModelSize.SMALL, [0.5] * 40, small_tuned),
        evaluation(ModelSize.LARGE, [0.5] * 40, large_tuned),
    )
    interval = comparison.difference.interval
    assert comparison.difference.f1_points == pytest.approx(0.0)
    assert interval.low < 0.0 < interval.high
    assert interval.low > -20.0 and interval.high < 20.0
    assert not comparison.difference.excludes_zero
    assert comparison.verdict.startswith("No clear difference: 90B − 11B = +0.0 F1 (CI -")


def test_when_11b_leads_the_verdict_says_ship_11b() -> None:
    comparison = compare_sizes(
        evaluation(ModelSize.SMALL, [0.3] * 10, [0.8] * 10, training=10.0, inference=0.0),
        evaluation(ModelSize.LARGE, [0.3] * 10, [0.6] * 10, training=25.0, inference=0.0),
    )
    assert comparison.difference.f1_points == pytest.approx(-20.0)
    assert (
        comparison.verdict
        == "11B leads by 20.0 F1 (CI 20.0–20.0) and 90B is estimated at 2.5× the cost: ship 11B."
    )


def test_a_missing_cost_is_named_instead_of_a_ratio() -> None:
    comparison = compare_sizes(
        evaluation(ModelSize.SMALL, [0.3] * 10, [0.5] * 10),
        evaluation(ModelSize.LARGE, [0.3] * 10, [0.6] * 10, inference=None),
    )
    assert comparison.model_90b.total_cost_usd is None
    assert comparison.model_90b.f1_per_dollar is None
    assert comparison.cost_ratio is None
    assert comparison.verdict == (
        "90B leads by 10.0 F1 (CI 10.0–10.0); cost not compared (no cost recorded for 90B); "
        "11B reaches 83 % of 90B's F1."
    )
    assert "cost not estimated" in render_comparison_text(comparison)


def test_sandbox_results_say_so_in_the_verdict_and_the_text() -> None:
    comparison = compare_sizes(
        evaluation(ModelSize.SMALL, [0.3] * 5, [0.5] * 5),
        evaluation(ModelSize.LARGE, [0.3] * 5, [0.6] * 5),
        sandbox=True,
    )
    assert comparison.verdict.startswith(f"{SANDBOX_LABEL} — 90B leads")
    assert render_comparison_text(comparison).splitlines()[0] == SANDBOX_LABEL


def test_disagreements_are_the_five_largest_gaps_with_both_answers_and_the_reference() -> None:
    small_tuned = [1.0, 0.0, 0.5, 0.5, 0.9, 0.2, 0.4, 0.3]
    large_tuned = [0.0, 1.0, 0.5, 0.0, 0.8, 0.9, 0.4, 0.6]
    # gaps:         1.0  1.0  0    0.5  0.1  0.7  0    0.3
    comparison = compare_sizes(
        evaluation(ModelSize.SMALL, [0.0] * 8, small_tuned),
        evaluation(ModelSize.LARGE, [0.0] * 8, large_tuned),
    )
    assert [item.example_id for item in comparison.disagreements] == ["q00", "q01", "q05", "q03", "q07"]
    first = comparison.disagreements[0]
    assert (first.answer_11b, first.answer_90b) == ("11B tuned q00", "90B tuned q00")
    assert (first.f1_11b, first.f1_90b) == (100.0, 0.0)
    assert first.question == "question q00?"
    assert first.references == ("reference q00",)


def test_only_examples_scored_in_all_four_runs_are_compared() -> None:
    small = evaluation(ModelSize.SMALL, [0.5, 0.5], [0.5, 0.5])
    large = SizeEvaluation(
        size=ModelSize.LARGE,
        base=outcomes([0.5, 0.5, 0.5], ids=["q00", "q01", "extra"]),
        fine_tuned=outcomes([0.5, 1.0, 0.0], ids=["q00", "q01", "extra"]),
    )
    comparison = compare_sizes(small, large)
    assert (comparison.example_count, comparison.unpaired_example_count) == (2, 1)
    assert comparison.model_90b.fine_tuned_f1 == pytest.approx(75.0)


def test_bad_inputs_are_refused() -> None:
    small = evaluation(ModelSize.SMALL, [0.5], [0.5])
    large = evaluation(ModelSize.LARGE, [0.5], [0.5])
    with pytest.raises(ValueError, match="11B evaluation first"):
        compare_sizes(large, small)
    doubled = SizeEvaluation(size=ModelSize.LARGE, base=outcomes([0.5, 0.5], ids=["q", "q"]), fine_tuned=())
    with pytest.raises(ValueError, match="appears twice"):
        compare_sizes(small, doubled)
    disjoint = SizeEvaluation(
        size=ModelSize.LARGE, base=outcomes([0.5], ids=["z"]), fine_tuned=outcomes([0.5], ids=["z"])
    )
    with pytest.raises(ValueError, match="share no example"):
        compare_sizes(small, disjoint)


def test_the_same_inputs_give_the_same_comparison_and_it_round_trips_through_json() -> None:
    small = evaluation(ModelSize.SMALL, VARIED, VARIED[::-1])
    large = evaluation(ModelSize.LARGE, VARIED[::-1], VARIED)
    first, second = compare_sizes(small, large), compare_sizes(small, large)
    assert first == second
    assert SizeComparison.model_validate_json(first.model_dump_json()) == first


def test_the_text_report_has_one_line_per_model_the_difference_and_the_verdict() -> None:
    comparison = compare_sizes(
        evaluation(ModelSize.SMALL, [0.4] * 10, [0.5] * 10),
        evaluation(ModelSize.LARGE, [0.4] * 10, [0.6] * 10),
    )
    text = render_comparison_text(comparison)
    assert (
        "11B: F1 40.0 → 50.0 (+10.0 points, +25.0 %), EM 0.0 → 0.0; estimated $12.00, 4.17 F1 per estimated $"
        in text
    )
    assert "trained in 1 h 00 min" in text
    assert "90B − 11B: +10.0 F1 (95 % CI 10.0–10.0, excludes 0)" in text
    assert f"Verdict: {comparison.verdict}" in text
    assert SANDBOX_LABEL not in text

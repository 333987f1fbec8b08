"""The verdict's wording on curves that rise, are flat, and where the sizes cross."""

from __future__ import annotations

import re

from services.sweeps.curve import fit_curves
from services.sweeps.verdict import StepKind, Verdict, decide
from tests.sweeps.factories import cells, right


def verdict_for(
    table: dict[tuple[str, int], float],
    costs: dict[tuple[str, int], float] | None = None,
    count: int = 200,
    sandbox: bool = False,
    scattered: bool = False,
) -> Verdict:
    fit, bootstrap = fit_curves(
        cells(table, count, scattered), {"11b": right(40.0, count), "90b": right(45.0, count)}
    )
    return decide(fit, bootstrap, costs or {}, sandbox=sandbox)


RISING = {
    ("11b", 100): 50.0, ("11b", 200): 55.0, ("11b", 400): 60.0,
    ("90b", 100): 60.0, ("90b", 200): 64.0, ("90b", 400): 68.0,
}  # fmt: skip


def test_a_rising_curve_reports_the_gain_per_doubling_of_each_size() -> None:
    verdict = verdict_for(RISING)
    assert verdict.lines[0].startswith("11B: +5.0 F1 per doubling of data (95 % CI +")
    assert "F1 50.0 on 100 examples → 60.0 on 400; base model 40.0." in verdict.lines[0]
    assert verdict.lines[1].startswith("90B: +4.0 F1 per doubling of data (95 % CI +")
    assert "flat" not in verdict.text


def test_cheap_data_makes_more_data_the_next_step() -> None:
    costs = {("11b", 800): 10.0, ("90b", 400): 50.0, ("90b", 800): 100.0}
    verdict = verdict_for(RISING, costs)
    assert verdict.recommendation is StepKind.MORE_DATA
    next_line = verdict.lines[-1]
    assert next_line.startswith("Next: more data — 11B on 800 examples: +5.0 F1 (95 % CI +")
    assert "if the curve keeps its slope), about $10.00 for the job, 0.50 F1 per $" in next_line
    assert "plus collecting 400 more examples" in next_line
    # the alternatives are shown with their own figures: 90B on 400 is measured, +8 over 11B on 400
    assert "Against: 90B on the same 400 examples: +8.0 F1 (95 % CI +" in next_line
    assert "measured), about $50.00 for the job, 0.16 F1 per $" in next_line


def test_expensive_data_makes_the_bigger_model_the_next_step() -> None:
    costs = {("11b", 800): 1_000.0, ("90b", 400): 50.0, ("90b", 800): 2_000.0}
    verdict = verdict_for(RISING, costs)
    assert verdict.recommendation is StepKind.BIGGER_MODEL
    assert verdict.lines[-1].startswith("Next: the bigger model — 90B on the same 400 examples: +8.0 F1")


def test_the_bigger_model_on_less_data_beating_the_smaller_on_more_is_said_as_in_the_study() -> None:
    # The study's Cut-VQAv2 figures: 90B on 100 examples 72.9, 11B on 1,000 examples 68.6.
    verdict = verdict_for(
        {("11b", 100): 60.0, ("11b", 1_000): 68.6, ("90b", 100): 72.9, ("90b", 1_000): 76.5}, count=1_000
    )
    assert verdict.matchup is not None and verdict.matchup.winner == "90b"
    line = next(line for line in verdict.lines if " beats " in line)
    assert line.startswith("90B with 100 examples (72.9) beats 11B with 1,000 (68.6) by 4.3 F1 (95 % CI +")


def test_the_smaller_model_with_more_data_beating_the_bigger_is_said_the_other_way_round() -> None:
    verdict = verdict_for(
        {("11b", 100): 55.0, ("11b", 1_000): 75.0, ("90b", 100): 65.0, ("90b", 1_000): 78.0}
    )
    assert verdict.matchup is not None and verdict.matchup.winner == "11b"
    line = next(line for line in verdict.lines if " beats " in line)
    assert line.startswith("11B with 1,000 examples (75.0) beats 90B with 100 (65.0) by 10.0 F1 (95 % CI +")
    assert line.endswith("more data beat size.")


def test_where_the_sizes_cross_the_verdict_says_where() -> None:
    verdict = verdict_for(
        {("11b", 100): 55.0, ("11b", 1_600): 80.0, ("90b", 100): 70.0, ("90b", 1_600): 72.0}
    )
    assert verdict.crossing == "The sizes cross: 90B leads at 100 examples, 11B at 1,600."
    assert verdict.crossing in verdict.lines


def test_a_flat_curve_says_stop_with_each_options_uncertainty() -> None:
    flat = {("11b", 100): 60.0, ("11b", 1_000): 60.5, ("11b", 5_000): 60.0,
            ("90b", 100): 60.5, ("90b", 1_000): 61.0, ("90b", 5_000): 60.5}  # fmt: skip
    costs = {("11b", 10_000): 40.0, ("90b", 5_000): 90.0, ("90b", 10_000): 180.0}
    verdict = verdict_for(flat, costs, scattered=True)
    assert verdict.recommendation is StepKind.STOP
    assert "— flat: the interval includes no gain" in verdict.lines[0]
    stop = verdict.lines[-1]
    assert stop.startswith(
        "Next: stop — the curve is flat: no step is expected to add 1 F1 point "
        "with an interval clear of zero."
    )
    # every option is named with its expected gain, an interval that includes zero, and its price
    for option in ("11B on 10,000 examples", "90B on the same 5,000 examples", "90B on 10,000 examples"):
        assert re.search(re.escape(option) + r": \+0\.\d F1 \(95 % CI -\d+\.\d to \+\d+\.\d, ", stop), option
    assert "about $40.00 for the job" in stop and "about $180.00 for the job" in stop
    assert "crosses" not in verdict.text and " beats " not in verdict.text


def test_sizes_that_cannot_be_told_apart_are_said_to_tie() -> None:
    verdict = verdict_for(
        {("11b", 100): 60.0, ("11b", 1_000): 70.0, ("90b", 100): 70.0, ("90b", 1_000): 75.0}
    )
    line = next(line for line in verdict.lines if "cannot be told apart" in line)
    assert line.startswith("90B with 100 examples (70.0) and 11B with 1,000 (70.0) cannot be told apart: ")
    assert verdict.matchup is not None and verdict.matchup.winner is None


def test_one_size_swept_says_how_to_get_a_curve() -> None:
    verdict = verdict_for({("11b", 500): 64.0})
    assert verdict.lines[0].startswith("11B: F1 64.0 on 500 examples; one training size only")
    assert verdict.lines[-1].startswith("Next: cannot tell from one training size — sweep at least two sizes")


def test_only_the_small_model_swept_says_the_bigger_one_was_not_priced() -> None:
    verdict = verdict_for({("11b", 100): 60.0, ("11b", 1_000): 60.0})
    assert "(the bigger model was not swept: add models=11b,90b to price it)" in verdict.lines[-1]


def test_a_sandbox_verdict_says_so_first() -> None:
    verdict = verdict_for(RISING, sandbox=True)
    assert verdict.lines[0] == "sandbox: simulated results"

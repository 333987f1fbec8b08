"""Fitting F1 against log training size, with paired bootstrap intervals over the test examples."""

from __future__ import annotations

import pytest

from services.sweeps.curve import Cell, fit_curves
from tests.sweeps.factories import cells, right


def test_a_rising_curve_gains_what_each_doubling_adds() -> None:
    fit, _ = fit_curves(
        cells({("11b", 100): 50.0, ("11b", 200): 55.0, ("11b", 400): 60.0}),
        {"11b": right(40.0)},
    )
    curve = fit.curve("11b")
    assert curve is not None
    assert [(point.train_size, point.f1.value) for point in curve.points] == [
        (100, 50.0), (200, 55.0), (400, 60.0),
    ]  # fmt: skip
    assert curve.gain_per_doubling is not None
    assert curve.gain_per_doubling.value == pytest.approx(5.0)
    low, high = curve.gain_per_doubling.interval.low, curve.gain_per_doubling.interval.high
    assert 0 < low < 5.0 < high
    assert curve.base_f1 is not None and curve.base_f1.value == 40.0
    assert fit.example_count == 200


def test_the_gain_is_per_doubling_whatever_the_spacing_of_the_sizes() -> None:
    # 100 -> 1,000 is log2(10) = 3.32 doublings: 10 points over it is 3.0 per doubling.
    fit, _ = fit_curves(cells({("90b", 100): 60.0, ("90b", 1_000): 70.0}, count=1_000), {})
    curve = fit.curve("90b")
    assert curve is not None and curve.gain_per_doubling is not None
    assert curve.gain_per_doubling.value == pytest.approx(10 / 3.321928, abs=1e-4)
    assert curve.base_f1 is None


def test_a_flat_curve_has_an_interval_around_zero() -> None:
    # Runs of equal F1 that disagree on single examples, as real runs do.
    fit, _ = fit_curves(
        cells({("11b", 100): 60.0, ("11b", 1_000): 60.5, ("11b", 5_000): 60.0}, scattered=True), {}
    )
    curve = fit.curve("11b")
    assert curve is not None and curve.gain_per_doubling is not None
    assert abs(curve.gain_per_doubling.value) < 0.2
    assert curve.gain_per_doubling.interval.low < 0 < curve.gain_per_doubling.interval.high
    assert not curve.gain_per_doubling.interval.excludes_zero()


def test_point_intervals_widen_when_the_test_set_shrinks() -> None:
    wide, _ = fit_curves(cells({("11b", 100): 50.0}, count=40), {})
    narrow, _ = fit_curves(cells({("11b", 100): 50.0}, count=1_000), {})

    def width(fit_result: object) -> float:
        point = fit_result.curves[0].points[0]  # type: ignore[attr-defined]
        return float(point.f1.interval.high - point.f1.interval.low)

    assert width(wide) > 2 * width(narrow)


def test_one_training_size_gives_a_point_but_no_line() -> None:
    fit, bootstrap = fit_curves(cells({("11b", 500): 64.0}), {})
    curve = fit.curve("11b")
    assert curve is not None and curve.gain_per_doubling is None
    assert bootstrap.predicted("11b", 1_000) is None


def test_only_examples_every_run_scored_are_compared() -> None:
    partial = {key: value for key, value in right(50.0).items() if key != "e0000"}
    fit, _ = fit_curves(
        [
            Cell(model="11b", train_size=100, scores=partial),
            Cell(model="11b", train_size=200, scores=right(60.0)),
        ],
        {},
    )
    assert fit.example_count == 199


def test_the_smaller_model_comes_first() -> None:
    fit, _ = fit_curves(cells({("90b", 100): 70.0, ("11b", 100): 60.0}), {})
    assert [curve.model for curve in fit.curves] == ["11b", "90b"]


def test_a_repeated_job_or_no_shared_example_is_refused() -> None:
    with pytest.raises(ValueError, match="appears twice"):
        fit_curves(cells({("11b", 100): 50.0}) * 2, {})
    with pytest.raises(ValueError, match="share no scored test example"):
        fit_curves(
            [
                Cell(model="11b", train_size=100, scores={"a": 1.0}),
                Cell(model="11b", train_size=200, scores={"b": 1.0}),
            ],
            {},
        )

"""Given a comparison or loss histories, the charts come back as small, valid, reproducible PNGs."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from services.evaluation.charts import (
    LossCurve,
    LossPoint,
    epoch_boundaries,
    render_comparison_chart,
    render_loss_curves,
)
from services.evaluation.compare import compare_sizes
from services.evaluation.comparison import ExampleOutcome, ModelSize, SizeComparison, SizeEvaluation

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_BYTES = 150_000


def _outcomes(scores: list[float]) -> tuple[ExampleOutcome, ...]:
    return tuple(
        ExampleOutcome(example_id=f"q{index}", f1=score, exact_match=float(score == 1.0))
        for index, score in enumerate(scores)
    )


def _comparison(*, sandbox: bool = False) -> SizeComparison:
    base = [0.2, 0.9, 0.5, 0.7, 0.4, 0.6] * 5
    small_tuned = [min(1.0, score + 0.05) for score in base]
    large_tuned = [min(1.0, score + 0.1) for score in base]
    return compare_sizes(
        SizeEvaluation(size=ModelSize.SMALL, base=_outcomes(base), fine_tuned=_outcomes(small_tuned)),
        SizeEvaluation(
            size=ModelSize.LARGE,
            base=_outcomes(base),
            fine_tuned=_outcomes(large_tuned),
            training_cost_usd=3.0,
        ),
        sandbox=sandbox,
    )


def _curve(label: str, scale: float, epochs: int = 3, steps_per_epoch: int = 40) -> LossCurve:
    training = [
        LossPoint(step=step, epoch=(step - 1) // steps_per_epoch + 1, loss=scale * (0.4 + 2.0 / step))
        for step in range(1, epochs * steps_per_epoch + 1)
    ]
    validation = [
        LossPoint(step=epoch * steps_per_epoch, epoch=epoch, loss=scale * (0.5 + 0.3 / epoch))
        for epoch in range(1, epochs + 1)
    ]
    return LossCurve(label=label, training=training, validation=validation)


def _assert_small_png(data: bytes) -> tuple[int, int]:
    assert data.startswith(PNG_SIGNATURE)
    assert 5_000 < len(data) <= MAX_BYTES
    with Image.open(io.BytesIO(data)) as image:
        image.verify()
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        return image.size


def test_comparison_chart_is_a_small_valid_png_of_slack_friendly_size() -> None:
    width, height = _assert_small_png(render_comparison_chart(_comparison()))
    assert 600 <= width <= 1400 and 400 <= height <= 900


def test_comparison_chart_is_reproducible_and_marks_the_sandbox() -> None:
    comparison = _comparison()
    assert render_comparison_chart(comparison) == render_comparison_chart(comparison)
    # The sandbox label is drawn into the title, so the picture differs.
    assert render_comparison_chart(_comparison(sandbox=True)) != render_comparison_chart(comparison)


def test_loss_curves_for_one_job_and_for_both_sizes() -> None:
    one = render_loss_curves([_curve("11B", 1.0)], title="11B loss")
    both = render_loss_curves([_curve("11B", 1.0), _curve("90B", 0.8)], title="11B and 90B loss")
    _assert_small_png(one)
    _assert_small_png(both)
    assert one != both
    assert both == render_loss_curves([_curve("11B", 1.0), _curve("90B", 0.8)], title="11B and 90B loss")
    assert render_loss_curves([_curve("11B", 1.0)], title="11B loss", sandbox=True) != one


def test_loss_curve_without_validation_points_still_renders() -> None:
    curve = _curve("11B", 1.0)
    _assert_small_png(render_loss_curves([LossCurve(label="11B", training=curve.training)]))


def test_epoch_boundaries_are_the_last_step_of_each_epoch_but_the_final_one() -> None:
    points = [LossPoint(step, epoch, 1.0) for step, epoch in [(3, 2), (1, 1), (2, 1), (4, 2), (5, 3)]]
    assert epoch_boundaries(points) == [(2, 1), (4, 2)]


def test_no_points_is_an_error_not_an_empty_picture() -> None:
    with pytest.raises(ValueError, match="no loss points"):
        render_loss_curves([LossCurve(label="11B", training=[])])
    with pytest.raises(ValueError, match="no loss points"):
        render_loss_curves([])

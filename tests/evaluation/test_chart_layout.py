"""Charts a person reads at a glance: drawn with matplotlib's Agg renderer, no text box overlaps another
(legends, value labels, epoch numbers, titles, the verdict) and none leaves the picture; epochs count
from 1; the comparison shows F1 and the estimated cost of each model side by side."""

from __future__ import annotations

from itertools import combinations

import pytest
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from services.evaluation.charts import (
    LossCurve,
    LossPoint,
    comparison_figure,
    loss_curves_figure,
)
from services.evaluation.compare import compare_sizes
from services.evaluation.comparison import ExampleOutcome, ModelSize, SizeComparison, SizeEvaluation
from services.platform.labels import SANDBOX_LABEL
from services.sandbox.trainer import STEPS_PER_EPOCH, loss_curve
from services.sweeps.charts import build_figure as build_sweep_figure
from services.sweeps.curve import fit_curves
from services.sweeps.verdict import decide
from tests.sweeps.factories import cells, right

TOUCHING = 1.0  # pixels
PLACEHOLDER_NOTE = "placeholder prices: set real ones in TUNEBOT_PRICES_FILE"


def _undrawn_tick_labels(figure: Figure) -> set[int]:
    """Tick labels matplotlib keeps for ticks beyond an axis' limits: they exist but are not drawn."""
    hidden: set[int] = set()
    for axes in figure.findobj(Axes):
        for axis in (axes.xaxis, axes.yaxis):
            low, high = sorted(axis.get_view_interval())
            margin = (high - low) * 1e-9
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if not low - margin <= tick.get_loc() <= high + margin:
                    hidden.update({id(tick.label1), id(tick.label2)})
    return hidden


def drawn_texts(figure: Figure) -> list[tuple[str, Bbox]]:
    """Every text the drawn figure shows, with its box in pixels, and every legend's frame."""
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    hidden = _undrawn_tick_labels(figure)
    boxes = [
        (text.get_text(), text.get_window_extent(renderer))
        for text in figure.findobj(Text)
        if text.get_visible() and text.get_text().strip() and id(text) not in hidden
    ]
    legends = [legend for legend in figure.findobj(Legend) if legend.get_visible()]
    return boxes + [
        (f"legend {index}", legend.get_window_extent(renderer)) for index, legend in enumerate(legends)
    ]


def overlaps(figure: Figure) -> list[tuple[str, str]]:
    """Pairs of texts whose drawn boxes touch or intersect (a legend's entries sit inside its frame)."""
    found = []
    legend_entries = {text.get_text() for legend in figure.findobj(Legend) for text in legend.get_texts()}
    for (first, box_a), (second, box_b) in combinations(drawn_texts(figure), 2):
        inside_legend = {first, second} & legend_entries and (
            first.startswith("legend ") or second.startswith("legend ")
        )
        # A pixel of padding each side: labels that touch read as one, as the epoch labels did.
        if box_a.padded(TOUCHING).overlaps(box_b.padded(TOUCHING)) and not inside_legend:
            found.append((first, second))
    return found


def outside(figure: Figure) -> list[str]:
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    page = figure.bbox
    return [
        text
        for text, box in drawn_texts(figure)
        if box.x0 < page.x0 - 1 or box.y0 < page.y0 - 1 or box.x1 > page.x1 + 1 or box.y1 > page.y1 + 1
    ]


def test_the_overlap_check_sees_two_texts_drawn_on_top_of_each_other() -> None:
    figure = Figure(figsize=(4, 3))
    axes = figure.add_subplot()
    axes.text(0.5, 0.5, "value 73.3")
    axes.text(0.52, 0.5, "base model")
    assert ("value 73.3", "base model") in overlaps(figure)


def _outcomes(scores: list[float]) -> tuple[ExampleOutcome, ...]:
    return tuple(
        ExampleOutcome(example_id=f"q{index}", f1=score, exact_match=float(score == 1.0))
        for index, score in enumerate(scores)
    )


def _comparison(
    small: list[float], large: list[float], *, sandbox: bool, costs: bool = True, note: str | None = None
) -> SizeComparison:
    base = [0.5] * len(small)
    return compare_sizes(
        SizeEvaluation(
            size=ModelSize.SMALL, base=_outcomes(base), fine_tuned=_outcomes(small),
            training_cost_usd=29.10 if costs else None, evaluation_cost_usd=2.48 if costs else None,
            cost_note=note,
        ),
        SizeEvaluation(
            size=ModelSize.LARGE, base=_outcomes(base), fine_tuned=_outcomes(large),
            training_cost_usd=68.20 if costs else None, evaluation_cost_usd=5.34 if costs else None,
            cost_note=note,
        ),
        sandbox=sandbox,
    )  # fmt: skip


COMPARISONS = {
    # Both fine-tuned at 100 with whiskers at 100: the value labels rise as high as they ever do,
    # right under the legend that overlapped them before.
    "perfect scores": _comparison([1.0] * 40, [1.0] * 40, sandbox=True, note=PLACEHOLDER_NOTE),
    "close scores": _comparison([0.8, 0.9] * 20, [0.9, 0.95] * 20, sandbox=False),
    "no costs": _comparison([0.6, 0.7] * 20, [0.9, 1.0] * 20, sandbox=True, costs=False),
}


@pytest.mark.parametrize("name", COMPARISONS)
def test_no_text_of_the_comparison_chart_overlaps_another_or_leaves_the_picture(name: str) -> None:
    figure = comparison_figure(COMPARISONS[name])
    assert overlaps(figure) == []
    assert outside(figure) == []


def test_the_comparison_chart_shows_each_models_f1_and_estimated_cost_side_by_side() -> None:
    comparison = COMPARISONS["perfect scores"]
    figure = comparison_figure(comparison)
    f1_panel, cost_panel = figure.axes
    texts = [text for text, _ in drawn_texts(figure)]
    # The cost figures are the comparison's, from the one cost model (the launch estimates).
    assert comparison.model_11b.total_cost_usd == 31.58 and comparison.model_90b.total_cost_usd == 73.54
    cost_labels = [text.get_text() for text in cost_panel.texts]
    assert cost_labels == [r"\$31.58", r"\$73.54"]  # drawn as "$31.58": the backslash stops mathtext
    assert "estimated" in cost_panel.get_title().lower() and "estimated" in cost_panel.get_ylabel()
    assert [label.get_text() for label in cost_panel.get_xticklabels()] == ["Llama 3.2 11B", "Llama 3.2 90B"]
    assert [label.get_text() for label in f1_panel.get_xticklabels()] == ["Llama 3.2 11B", "Llama 3.2 90B"]
    assert sorted(text.get_text() for text in f1_panel.texts) == ["100.0", "100.0", "50.0", "50.0"]
    # The placeholder prices are said under the chart, and the sandbox in the title.
    assert any(PLACEHOLDER_NOTE in text for text in texts)
    assert SANDBOX_LABEL in figure.get_suptitle()


def test_a_comparison_without_costs_says_not_estimated_and_a_real_one_has_no_sandbox_label() -> None:
    missing = comparison_figure(COMPARISONS["no costs"])
    assert [text.get_text() for text in missing.axes[1].texts] == ["not\nestimated"] * 2
    real = comparison_figure(COMPARISONS["close scores"])
    assert all(SANDBOX_LABEL not in text for text, _ in drawn_texts(real))


def _sandbox_curve(label: str, epochs: int, seed: str) -> LossCurve:
    """The simulated trainer's curve, whose CSV numbers epochs from 0 as its step files do."""
    training, validation = loss_curve(epochs, seed)
    return LossCurve(
        label=label,
        training=[LossPoint(step, epoch, loss) for step, epoch, loss in training],
        validation=[
            LossPoint((epoch + 1) * STEPS_PER_EPOCH, epoch, loss) for epoch, loss in enumerate(validation)
        ],
    )


def _epoch_labels(figure: Figure) -> list[str]:
    FigureCanvasAgg(figure).draw()
    (axes,) = figure.axes[:1]
    (top,) = axes.child_axes
    return [label.get_text() for label in top.get_xticklabels()]


@pytest.mark.parametrize("epochs", [1, 2, 3, 8, 10])  # Bedrock allows 1 to 10 epochs
def test_no_text_of_the_loss_chart_overlaps_another_for_any_epoch_count(epochs: int) -> None:
    both = [
        _sandbox_curve("Llama 3.2 11B", epochs, "a-11b"),
        _sandbox_curve("Llama 3.2 90B", epochs, "a-90b"),
    ]
    for curves in (both[:1], both):
        figure = loss_curves_figure(curves, title="charts-launch: loss by step", sandbox=True)
        assert overlaps(figure) == []
        assert outside(figure) == []


def test_epochs_are_counted_from_1_whether_the_csv_starts_at_0_or_at_1() -> None:
    from_zero = _sandbox_curve("Llama 3.2 11B", 8, "b-11b")
    assert from_zero.training[0].epoch == 0
    from_one = LossCurve(
        label="Llama 3.2 11B",
        training=[LossPoint(point.step, point.epoch + 1, point.loss) for point in from_zero.training],
    )
    for curve in (from_zero, from_one):
        labels = _epoch_labels(loss_curves_figure([curve]))
        assert labels == [str(number) for number in range(1, 9)]  # all 8 epochs, each named once


def test_a_pair_trained_for_different_epochs_numbers_every_epoch_of_the_longer_run() -> None:
    curves = [_sandbox_curve("Llama 3.2 11B", 3, "c-11b"), _sandbox_curve("Llama 3.2 90B", 5, "c-90b")]
    figure = loss_curves_figure(curves)
    assert _epoch_labels(figure) == ["1", "2", "3", "4", "5"]
    assert overlaps(figure) == []


# Close training sizes sit close on the sweep chart's log axis: next to the whole set (10,000 here), 100,
# 120 and 150 are a few pixels apart, and their labels drawn level touched.
SWEEP_SIZES = {
    "close sizes": (100, 120, 150, 1_000, 10_000),
    "very close sizes": (100, 105, 110, 1_000, 50_000),
    "spread sizes": (100, 1_000, 4_000),
    "one size": (500,),
}


@pytest.mark.parametrize("name", SWEEP_SIZES)
def test_no_text_of_the_sweep_chart_overlaps_another_or_leaves_the_picture(name: str) -> None:
    sizes = SWEEP_SIZES[name]
    table = {
        (model, size): start + 3.0 * index
        for model, start in (("11b", 60.0), ("90b", 70.0))
        for index, size in enumerate(sizes)
    }
    bases = {"11b": right(42.0, 500), "90b": right(67.4, 500)}
    fit, bootstrap = fit_curves(cells(table, 500, scattered=True), bases)
    figure = build_sweep_figure(fit, decide(fit, bootstrap, {}, sandbox=True))
    assert overlaps(figure) == []
    assert outside(figure) == []
    # Every size is still named on the x axis, once.
    FigureCanvasAgg(figure).draw()
    assert [label.get_text() for label in figure.axes[0].get_xticklabels()] == [f"{size:,}" for size in sizes]

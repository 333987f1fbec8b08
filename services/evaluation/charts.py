"""PNG charts for Slack: the base-vs-fine-tuned comparison and loss curves.

Figures are built on matplotlib's object API with an Agg canvas, never through pyplot, so nothing
touches global state or a display and two threads can render at once. The same inputs give the same
bytes (no timestamp or version in the PNG metadata).
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from services.evaluation.comparison import SizeComparison, SizeSummary
from services.platform.labels import SANDBOX_LABEL

FIGURE_SIZE_INCHES = (9.6, 5.2)
DOTS_PER_INCH = 110
BASE_COLOUR = "#9db4cc"
FINE_TUNED_COLOUR = "#1f5a96"
COST_COLOUR = "#c98b2b"
CURVE_COLOURS = ("#1f5a96", "#c0504d", "#4f8f3a", "#8064a2")
NOTE_COLOUR = "#555555"


def _titled(title: str, sandbox: bool) -> str:
    return f"{title}\n({SANDBOX_LABEL})" if sandbox else title


def _escaped(text: str) -> str:
    # matplotlib reads text between two dollar signs as mathtext: "$31.58 ... $73.54" would be mangled.
    return text.replace("$", r"\$")


def _png_bytes(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    # Dropping the "Software" entry keeps the bytes stable across matplotlib upgrades.
    figure.savefig(buffer, format="png", dpi=DOTS_PER_INCH, metadata={"Software": None})
    return buffer.getvalue()


def _whisker(summary_value: float, low: float, high: float) -> tuple[float, float]:
    # Percentile intervals need not be centred on the mean; never draw a negative whisker length.
    return max(summary_value - low, 0.0), max(high - summary_value, 0.0)


def _model_name(summary: SizeSummary) -> str:
    return f"Llama 3.2 {summary.size.value}"


def _f1_panel(axes: Axes, comparison: SizeComparison) -> None:
    """Grouped bars: base and fine-tuned F1 per size, whiskers at the bootstrap interval, value on top."""
    sizes: tuple[SizeSummary, ...] = (comparison.model_11b, comparison.model_90b)
    width = 0.36
    for offset, label, colour, values, intervals in (
        (
            -width / 2, "base model", BASE_COLOUR,
            [summary.base_f1 for summary in sizes],
            [summary.base_f1_interval for summary in sizes],
        ),
        (
            width / 2, "fine-tuned", FINE_TUNED_COLOUR,
            [summary.fine_tuned_f1 for summary in sizes],
            [summary.fine_tuned_f1_interval for summary in sizes],
        ),
    ):  # fmt: skip
        positions = [index + offset for index in range(len(sizes))]
        whiskers = [
            _whisker(value, interval.low, interval.high)
            for value, interval in zip(values, intervals, strict=True)
        ]
        bars = axes.bar(
            positions,
            values,
            width,
            label=label,
            color=colour,
            yerr=[[low for low, _ in whiskers], [high for _, high in whiskers]],
            capsize=5,
            error_kw={"elinewidth": 1.2, "ecolor": "#333333"},
        )
        for bar, value, interval in zip(bars, values, intervals, strict=True):
            axes.annotate(
                f"{value:.1f}",
                (bar.get_x() + bar.get_width() / 2, max(value, interval.high)),
                xytext=(0, 4),
                textcoords="offset points",
                ha="center",
                fontsize=10,
            )
    axes.set_xticks(range(len(sizes)), [_model_name(summary) for summary in sizes])
    # Headroom above 100: the value labels of the highest whiskers, then the legend above them.
    axes.set_ylim(0, 130)
    axes.set_yticks(range(0, 101, 20))
    axes.set_ylabel(f"{comparison.metric} (0–100)")
    axes.set_title(
        f"F1 on {comparison.example_count} test examples "
        f"({comparison.difference.confidence * 100:.0f} % intervals)",
        fontsize=10,
    )
    axes.legend(loc="upper center", ncols=2, frameon=False, fontsize=9)
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(axis="y", alpha=0.3)
    axes.set_axisbelow(True)


def _cost_panel(axes: Axes, comparison: SizeComparison) -> None:
    """One bar per size: the launch estimate from the cost model, or "not estimated" where it is unknown."""
    sizes: tuple[SizeSummary, ...] = (comparison.model_11b, comparison.model_90b)
    known = [summary.total_cost_usd for summary in sizes if summary.total_cost_usd is not None]
    top = max(known, default=0.0) or 1.0
    for index, summary in enumerate(sizes):
        cost = summary.total_cost_usd
        if cost is None:
            axes.annotate("not\nestimated", (index, 0), xytext=(0, 4), textcoords="offset points",
                          ha="center", va="bottom", fontsize=9, color=NOTE_COLOUR)  # fmt: skip
            continue
        axes.bar(index, cost, 0.5, color=COST_COLOUR)
        axes.annotate(_escaped(f"${cost:,.2f}"), (index, cost), xytext=(0, 4), textcoords="offset points",
                      ha="center", fontsize=10)  # fmt: skip
    axes.set_xticks(range(len(sizes)), [_model_name(summary) for summary in sizes])
    axes.set_xlim(-0.6, len(sizes) - 0.4)
    axes.set_ylim(0, top * 1.18)
    axes.set_ylabel("USD, estimated")
    axes.set_title("Estimated cost per model", fontsize=10)
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(axis="y", alpha=0.3)
    axes.set_axisbelow(True)


def comparison_figure(comparison: SizeComparison) -> Figure:
    """F1 (base and fine-tuned) and estimated cost per model side by side, the verdict underneath.

    The legend and the value labels sit in the F1 panel's headroom above 100, so no text
    overlaps another (tests check the drawn bounding boxes). Simulated comparisons say so in the title.
    """
    figure = Figure(figsize=FIGURE_SIZE_INCHES, layout="constrained")
    f1_axes, cost_axes = figure.subplots(1, 2, width_ratios=(2.2, 1))
    _f1_panel(f1_axes, comparison)
    _cost_panel(cost_axes, comparison)
    figure.suptitle(_titled("11B vs 90B: base vs fine-tuned, and what each costs", comparison.sandbox),
                    fontsize=12)  # fmt: skip
    footer = textwrap.wrap(comparison.verdict, 130)
    costs = (
        f"Costs are launch estimates ({comparison.cost_note})."
        if comparison.cost_note
        else ("Costs are launch estimates, not a bill.")
    )
    footer += textwrap.wrap(costs, 130)
    figure.supxlabel(_escaped("\n".join(footer)), fontsize=8.5)
    return figure


def render_comparison_chart(comparison: SizeComparison) -> bytes:
    """The comparison chart as PNG bytes (see ``comparison_figure``)."""
    return _png_bytes(comparison_figure(comparison))


@dataclass(frozen=True, slots=True)
class LossPoint:
    step: int
    epoch: int
    loss: float


@dataclass(frozen=True, slots=True)
class LossCurve:
    """One job's losses, as Bedrock reports them: training per step, validation per epoch."""

    label: str
    training: Sequence[LossPoint]
    validation: Sequence[LossPoint] = ()


def epoch_boundaries(points: Sequence[LossPoint]) -> list[tuple[int, int]]:
    """(last step, epoch) for every epoch that another one follows, in step order."""
    ordered = sorted(points, key=lambda point: point.step)
    return [
        (current.step, current.epoch)
        for current, following in pairwise(ordered)
        if following.epoch != current.epoch
    ]


def epoch_spans(points: Sequence[LossPoint]) -> list[tuple[int, float, float]]:
    """(epoch counted from 1, first step, last step) of each epoch, in step order.

    Bedrock's CSVs may number epochs from 0 (the sandbox writes them as its step files do); a person
    counts from 1, so the n-th epoch seen is epoch n whatever the file called it.
    """
    ordered = sorted(points, key=lambda point: point.step)
    spans: list[tuple[int, float, float]] = []
    previous_epoch: int | None = None
    for point in ordered:
        if point.epoch != previous_epoch:
            spans.append((len(spans) + 1, point.step, point.step))
            previous_epoch = point.epoch
        else:
            number, first, _ = spans[-1]
            spans[-1] = (number, first, point.step)
    return spans


def loss_curves_figure(
    curves: Sequence[LossCurve], *, title: str = "Loss by step", sandbox: bool = False
) -> Figure:
    """Training (solid) and validation (dashed, markers) loss by step; dotted lines end each epoch.

    Epochs are numbered from 1 on a second axis along the top, one tick per epoch at its middle, so
    their labels never crowd the plot; the legend sits under the axes, clear of the curves.
    """
    if not curves or not any(curve.training or curve.validation for curve in curves):
        raise ValueError("no loss points to plot")
    figure = Figure(figsize=FIGURE_SIZE_INCHES, layout="constrained")
    axes = figure.add_subplot()
    for index, curve in enumerate(curves):
        colour = CURVE_COLOURS[index % len(CURVE_COLOURS)]
        training = sorted(curve.training, key=lambda point: point.step)
        validation = sorted(curve.validation, key=lambda point: point.step)
        if training:
            axes.plot(
                [point.step for point in training],
                [point.loss for point in training],
                color=colour,
                linewidth=1.3,
                label=f"{curve.label} training",
            )
        if validation:
            axes.plot(
                [point.step for point in validation],
                [point.loss for point in validation],
                color=colour,
                linestyle="--",
                marker="o",
                markersize=4,
                linewidth=1.3,
                label=f"{curve.label} validation",
            )
    # Both sizes share the epochs' steps as a rule; the longest run marks them (it has every epoch end).
    reference = max((curve.training or curve.validation for curve in curves), key=len)
    spans = epoch_spans(reference)
    for step, _epoch in epoch_boundaries(reference):
        axes.axvline(step, color="#777777", linestyle=":", linewidth=1)
    if len(spans) > 1:
        top = axes.secondary_xaxis("top")
        # An epoch's middle: halfway between the step before it ends and its own last step.
        middles = [
            (first + last) / 2 if number == 1 else (spans[number - 2][2] + last) / 2
            for number, first, last in spans
        ]
        top.set_xticks(middles, [str(number) for number, _, _ in spans])
        top.tick_params(length=0, labelsize=8, labelcolor=NOTE_COLOUR)
        top.set_xlabel("epoch", fontsize=8, color=NOTE_COLOUR)
    axes.set_xlabel("step")
    axes.set_ylabel("loss")
    axes.set_title(_titled(title, sandbox), fontsize=11)
    axes.spines[["right"]].set_visible(False)
    axes.grid(alpha=0.3)
    handles, labels = axes.get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncols=min(4, len(handles)), frameon=False,
                  fontsize=9)  # fmt: skip
    return figure


def render_loss_curves(
    curves: Sequence[LossCurve], *, title: str = "Loss by step", sandbox: bool = False
) -> bytes:
    """The loss chart as PNG bytes (see ``loss_curves_figure``). One curve for a single job, or the
    11B and 90B curves to overlay both sizes."""
    return _png_bytes(loss_curves_figure(curves, title=title, sandbox=sandbox))

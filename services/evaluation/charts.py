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

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from services.evaluation.comparison import SizeComparison, SizeSummary
from services.platform.labels import SANDBOX_LABEL

FIGURE_SIZE_INCHES = (8.0, 4.8)
DOTS_PER_INCH = 110
BASE_COLOUR = "#9db4cc"
FINE_TUNED_COLOUR = "#1f5a96"
CURVE_COLOURS = ("#1f5a96", "#c0504d", "#4f8f3a", "#8064a2")


def _titled(title: str, sandbox: bool) -> str:
    return f"{title}\n({SANDBOX_LABEL})" if sandbox else title


def _png_bytes(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    # Dropping the "Software" entry keeps the bytes stable across matplotlib upgrades.
    figure.savefig(buffer, format="png", dpi=DOTS_PER_INCH, metadata={"Software": None})
    return buffer.getvalue()


def _whisker(summary_value: float, low: float, high: float) -> tuple[float, float]:
    # Percentile intervals need not be centred on the mean; never draw a negative whisker length.
    return max(summary_value - low, 0.0), max(high - summary_value, 0.0)


def render_comparison_chart(comparison: SizeComparison) -> bytes:
    """Grouped bars: base and fine-tuned F1 for 11B and 90B, whiskers at the bootstrap interval."""
    figure = Figure(figsize=FIGURE_SIZE_INCHES, layout="constrained")
    axes = figure.add_subplot()
    sizes: tuple[SizeSummary, ...] = (comparison.model_11b, comparison.model_90b)
    width = 0.36
    for offset, label, colour, values, intervals in (
        (
            -width / 2, "base", BASE_COLOUR,
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
    axes.set_xticks(range(len(sizes)), [f"Llama 3.2 {summary.size.value} Vision" for summary in sizes])
    axes.set_ylim(0, 110)
    axes.set_ylabel(f"{comparison.metric} (0–100)")
    axes.set_title(
        _titled(
            f"Base vs fine-tuned on {comparison.example_count} test examples "
            f"({comparison.difference.confidence * 100:.0f} % bootstrap intervals)",
            comparison.sandbox,
        ),
        fontsize=11,
    )
    axes.legend(loc="upper left", frameon=False, ncols=2)
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(axis="y", alpha=0.3)
    axes.set_axisbelow(True)
    figure.supxlabel("\n".join(textwrap.wrap(comparison.verdict, 110)), fontsize=9)
    return _png_bytes(figure)


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


def render_loss_curves(
    curves: Sequence[LossCurve], *, title: str = "Loss by step", sandbox: bool = False
) -> bytes:
    """Training (solid) and validation (dashed, markers) loss by step; dotted lines end each epoch.

    Pass one curve for a single job, or the 11B and 90B curves to overlay both sizes.
    """
    if not curves or not any(curve.training or curve.validation for curve in curves):
        raise ValueError("no loss points to plot")
    figure = Figure(figsize=FIGURE_SIZE_INCHES, layout="constrained")
    axes = figure.add_subplot()
    marked_steps: set[int] = set()
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
        for step, epoch in epoch_boundaries(training or validation):
            if step in marked_steps:
                continue  # both sizes usually share the same steps per epoch: one line is enough
            marked_steps.add(step)
            axes.axvline(step, color="#777777", linestyle=":", linewidth=1)
            axes.annotate(
                f"epoch {epoch} ends",
                (step, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(3, -12),
                textcoords="offset points",
                fontsize=8,
                color="#555555",
            )
    axes.set_xlabel("step")
    axes.set_ylabel("loss")
    axes.set_title(_titled(title, sandbox), fontsize=11)
    axes.legend(frameon=False, fontsize=9)
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(alpha=0.3)
    return _png_bytes(figure)

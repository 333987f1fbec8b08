"""The sweep's chart in the study's style: F1 against training size on a log axis, one series per model
size with its 95 % intervals, the fitted line, and each base model as a dashed reference line.

Built on matplotlib's object API with an Agg canvas (never pyplot), like ``services.evaluation.charts``,
so two threads can render at once and the same inputs give the same bytes.
"""

from __future__ import annotations

import io
import math
import textwrap

from matplotlib import rcParams
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullLocator

from services.platform.labels import SANDBOX_LABEL
from services.sweeps.curve import SweepFit
from services.sweeps.verdict import Verdict

FIGURE_SIZE_INCHES = (9.6, 5.2)
DOTS_PER_INCH = 110
SERIES_COLOURS = {"11b": "#1f5a96", "90b": "#c0504d"}
OTHER_COLOUR = "#4f8f3a"
LABEL_GAP_PIXELS = 4  # between two size labels on one row, and between rows


def _escaped(text: str) -> str:
    # matplotlib reads text between two dollar signs as mathtext: "$10 ... $50" would lose its spaces.
    return text.replace("$", r"\$")


def build_figure(fit: SweepFit, verdict: Verdict | None = None, *, title: str = "") -> Figure:
    """The figure itself (tests read its axes); ``render_sweep_chart`` turns it into PNG bytes."""
    if not fit.curves:
        raise ValueError("no curve to plot")
    figure = Figure(figsize=FIGURE_SIZE_INCHES, layout="constrained")
    axes = figure.add_subplot()
    axes.set_xscale("log")
    sizes = sorted({point.train_size for curve in fit.curves for point in curve.points})
    for curve in fit.curves:
        colour = SERIES_COLOURS.get(curve.model, OTHER_COLOUR)
        label = f"Llama 3.2 {curve.model.upper()} Vision, fine-tuned"
        x = [point.train_size for point in curve.points]
        y = [point.f1.value for point in curve.points]
        below = [max(point.f1.value - point.f1.interval.low, 0.0) for point in curve.points]
        above = [max(point.f1.interval.high - point.f1.value, 0.0) for point in curve.points]
        axes.errorbar(
            x, y, yerr=[below, above], color=colour, marker="o", linewidth=1.8, capsize=4, label=label
        )
        for size, value in zip(x, y, strict=True):
            axes.annotate(f"{value:.1f}", (size, value), xytext=(6, -12), textcoords="offset points",
                          fontsize=9, color=colour)  # fmt: skip
        if curve.gain_per_doubling is not None and curve.intercept is not None:
            span = [x[0], x[-1]]
            fitted = [curve.intercept + curve.gain_per_doubling.value * math.log2(size) for size in span]
            gain = f"{curve.gain_per_doubling.value:+.1f} F1 per doubling"
            axes.plot(span, fitted, color=colour, linestyle=":", linewidth=1,
                      label=f"{curve.model.upper()} fit: {gain}")  # fmt: skip
        if curve.base_f1 is not None:
            axes.axhline(curve.base_f1.value, color=colour, linestyle="--", linewidth=1, alpha=0.7,
                         label=f"{curve.model.upper()} base model ({curve.base_f1.value:.1f})")  # fmt: skip
    axes.xaxis.set_major_locator(FixedLocator(sizes))
    axes.xaxis.set_minor_locator(NullLocator())
    axes.set_xticklabels([f"{size:,}" for size in sizes])
    if len(sizes) == 1:
        axes.set_xlim(sizes[0] / 2, sizes[0] * 2)
    axes.set_xlabel("training examples (log scale)")
    axes.set_ylabel("SQuAD F1 (0–100), 95 % bootstrap intervals")
    heading = title or f"F1 by training size on {fit.example_count:,} held-out test examples"
    axes.set_title(f"{heading}\n({SANDBOX_LABEL})" if verdict is not None and verdict.sandbox else heading,
                   fontsize=11)  # fmt: skip
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(alpha=0.3)
    if verdict is not None:
        figure.supxlabel(_escaped("\n".join(textwrap.wrap(verdict.headline, 130)[:3])), fontsize=8)
    _stagger_size_labels(figure, axes)
    return figure


def _stagger_size_labels(figure: Figure, axes: Axes) -> None:
    """Close sizes (100, 120, 150 next to 10,000) sit close on a log axis, and their labels drawn level
    touch: each label goes on the first row below where it keeps clear of its neighbours."""
    FigureCanvasAgg(figure)  # measured with the renderer that draws the PNG
    figure.draw_without_rendering()  # lays the figure out, so the labels have their drawn boxes
    ticks = axes.xaxis.get_major_ticks()[: len(axes.get_xticks())]
    row_ends: list[float] = []  # the right edge of the last label on each row, in pixels
    for tick in ticks:
        box = tick.label1.get_window_extent()
        row = next((index for index, end in enumerate(row_ends) if box.x0 > end + LABEL_GAP_PIXELS), None)
        if row is None:
            row = len(row_ends)
            row_ends.append(box.x1)
        row_ends[row] = box.x1
        if row:
            row_height = (box.height + LABEL_GAP_PIXELS) * 72 / figure.dpi  # pixels to points
            tick.set_pad(rcParams["xtick.major.pad"] + row * row_height)


def render_sweep_chart(fit: SweepFit, verdict: Verdict | None = None, *, title: str = "") -> bytes:
    figure = build_figure(fit, verdict, title=title)
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DOTS_PER_INCH, metadata={"Software": None})
    return buffer.getvalue()

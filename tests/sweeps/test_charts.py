"""The sweep chart in the study's style, read back from the figure and from the PNG."""

from __future__ import annotations

import io

from PIL import Image

from services.sweeps.charts import build_figure, render_sweep_chart
from services.sweeps.curve import fit_curves
from services.sweeps.verdict import decide
from tests.sweeps.factories import cells, right

TABLE = {
    ("11b", 100): 60.0, ("11b", 1_000): 68.6, ("11b", 4_000): 71.0,
    ("90b", 100): 72.9, ("90b", 1_000): 75.0, ("90b", 4_000): 76.5,
}  # fmt: skip


def _fit() -> tuple:  # type: ignore[type-arg]
    return fit_curves(cells(TABLE, 500, scattered=True), {"11b": right(42.0, 500), "90b": right(67.4, 500)})


def test_the_chart_has_a_log_axis_a_series_per_size_and_the_base_models_as_reference_lines() -> None:
    fit, bootstrap = _fit()
    figure = build_figure(fit, decide(fit, bootstrap, {}, sandbox=True))
    axes = figure.axes[0]
    assert axes.get_xscale() == "log"
    assert [label.get_text() for label in axes.get_xticklabels()] == ["100", "1,000", "4,000"]
    labels = axes.get_legend_handles_labels()[1]
    assert "Llama 3.2 11B Vision, fine-tuned" in labels and "Llama 3.2 90B Vision, fine-tuned" in labels
    assert "11B base model (42.0)" in labels and "90B base model (67.4)" in labels
    # error bars: one interval per point, each around its point
    bars = [container for container in axes.containers if container.has_yerr]
    assert len(bars) == 2
    assert "sandbox: simulated results" in axes.get_title()


def test_the_png_is_a_real_image_and_the_same_inputs_give_the_same_bytes() -> None:
    fit, bootstrap = _fit()
    verdict = decide(fit, bootstrap, {})
    first = render_sweep_chart(fit, verdict)
    assert first == render_sweep_chart(fit, verdict)
    image = Image.open(io.BytesIO(first))
    assert image.format == "PNG" and image.size == (1056, 572)

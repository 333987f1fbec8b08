"""One gallery image: a row per example, its picture (thumbnail) on the left, and on the right the
question, the reference and each model's answer with its F1.

matplotlib's object API on an Agg canvas (never pyplot), like ``services.evaluation.charts``; the
thumbnail is decoded with Pillow from the test set's own image bytes. An example without an image (a
text-only record) says so in its picture's place.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image, UnidentifiedImageError

from services.platform.labels import SANDBOX_LABEL

THUMBNAIL_PIXELS = 220
DOTS_PER_INCH = 100
ROW_INCHES = 1.6
WIDTH_INCHES = 11.0
TEXT_WIDTH = 95  # characters per line of an answer
MAX_TEXT_LINES = 2  # per field: a long answer is cut, with an ellipsis


@dataclass(frozen=True, slots=True)
class GalleryRow:
    image: bytes | None
    fields: tuple[tuple[str, str], ...]  # (label, text), e.g. ("fine-tuned 11B (F1 100)", "42")
    heading: str | None = None  # a set's title across the image, instead of an example


HEADING_SHARE = 0.28  # a heading row's height against an example row's


def _escaped(text: str) -> str:
    # Two dollar signs would start mathtext; a user's answer is plain text.
    return text.replace("$", r"\$")


def _field(label: str, text: str) -> str:
    wrapped = textwrap.wrap(" ".join(text.split()) or "(empty)", TEXT_WIDTH) or ["(empty)"]
    if len(wrapped) > MAX_TEXT_LINES:
        wrapped = [*wrapped[: MAX_TEXT_LINES - 1], wrapped[MAX_TEXT_LINES - 1][: TEXT_WIDTH - 1] + "…"]
    return f"{label}: " + "\n    ".join(_escaped(line) for line in wrapped)


def _thumbnail(data: bytes) -> np.ndarray | None:
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.thumbnail((THUMBNAIL_PIXELS, THUMBNAIL_PIXELS))
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError):
        return None


def gallery_figure(title: str, rows: Sequence[GalleryRow], *, sandbox: bool, note: str = "") -> Figure:
    """The figure itself (tests read its texts); ``rows`` may be empty: it then says so."""
    count = max(len(rows), 1)
    heights = [HEADING_SHARE if row.heading is not None else 1.0 for row in rows] or [1.0]
    inches = 0.9 + ROW_INCHES * sum(heights)
    figure = Figure(figsize=(WIDTH_INCHES, inches))
    heading = f"{title}\n({SANDBOX_LABEL})" if sandbox else title
    figure.suptitle(_escaped(heading), fontsize=12, x=0.02, ha="left")
    grid = figure.add_gridspec(
        count, 2, width_ratios=[1, 4.2], height_ratios=heights, left=0.02, right=0.99,
        top=1 - 0.75 / inches, bottom=0.4 / inches, hspace=0.25, wspace=0.03,
    )  # fmt: skip
    if not rows:
        axes = figure.add_subplot(grid[0, :])
        axes.axis("off")
        axes.text(0.0, 0.5, _escaped(note or "no example fits this set"), fontsize=11, va="center")
    for index, row in enumerate(rows):
        if row.heading is not None:
            band = figure.add_subplot(grid[index, :])
            band.axis("off")
            band.text(0.0, 0.2, _escaped(row.heading), fontsize=11, fontweight="bold", va="bottom")
            continue
        picture = figure.add_subplot(grid[index, 0])
        picture.axis("off")
        pixels = _thumbnail(row.image) if row.image is not None else None
        if pixels is not None:
            picture.imshow(pixels)
        else:
            label = "(text only)" if row.image is None else "(image unreadable)"
            picture.text(0.5, 0.5, label, ha="center", va="center", fontsize=10, color="#666666")
        words = figure.add_subplot(grid[index, 1])
        words.axis("off")
        text = "\n".join(_field(label, value) for label, value in row.fields)
        words.text(0.0, 1.0, text, va="top", ha="left", fontsize=9, family="DejaVu Sans", linespacing=1.35)
    if note and rows:
        figure.supxlabel(_escaped(note), fontsize=8, x=0.02, ha="left")
    return figure


def render_gallery(title: str, rows: Sequence[GalleryRow], *, sandbox: bool, note: str = "") -> bytes:
    figure = gallery_figure(title, rows, sandbox=sandbox, note=note)
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DOTS_PER_INCH, metadata={"Software": None})
    return buffer.getvalue()

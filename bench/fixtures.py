"""The benchmarks' datasets: ChartQA-shaped folders of 800x600 bar charts drawn with Pillow, two questions
per chart in train/train_human.json, generated once and cached.

Two kinds of image:
- ``passthrough``: RGB PNGs, which Bedrock takes as they are (tunebot keeps their bytes);
- ``convert``: RGBA PNGs with a transparent background (as charting libraries export them), which must
  be flattened onto white and re-encoded.
"""

from __future__ import annotations

import io
import json
import os
import random
import sys
import zipfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Literal

QUESTIONS_PER_CHART = 2
CHART_SIZE = (800, 600)
Kind = Literal["passthrough", "convert"]
KINDS: tuple[Kind, ...] = ("passthrough", "convert")


def draw_chart(number: int, transparent: bool = False) -> bytes:
    from PIL import Image, ImageDraw

    rng = random.Random(number)
    width, height = CHART_SIZE
    chart = Image.new(
        "RGBA" if transparent else "RGB", CHART_SIZE, (255, 255, 255, 0) if transparent else "white"
    )
    draw = ImageDraw.Draw(chart)
    draw.line((60, 40, 60, height - 60), fill="black", width=2)
    draw.line((60, height - 60, width - 30, height - 60), fill="black", width=2)
    bars = rng.randint(3, 9)
    step = (width - 120) // bars
    for bar in range(bars):
        value = rng.randint(20, height - 120)
        left = 80 + bar * step
        colour = (rng.randint(0, 200), rng.randint(0, 200), rng.randint(80, 255))
        draw.rectangle((left, height - 60 - value, left + step * 2 // 3, height - 61), fill=colour)
        draw.text((left, height - 50), f"Q{bar + 1}", fill="black")
        draw.text((left, height - 75 - value), str(value), fill="black")
    draw.text((width // 2 - 60, 10), f"Chart {number}", fill="black")
    buffer = io.BytesIO()
    chart.save(buffer, "PNG")
    return buffer.getvalue()


def _write_chart(args: tuple[Path, int, bool]) -> None:
    folder, number, transparent = args
    target = folder / f"chart_{number}.png"
    if not target.exists():
        partial = target.with_suffix(".partial")
        partial.write_bytes(draw_chart(number, transparent))
        partial.rename(target)


def dataset(cache: Path, records: int, kind: Kind = "passthrough") -> Path:
    """A ChartQA-shaped folder with ``records`` questions; charts are shared between sizes by hard link."""
    charts = (records + QUESTIONS_PER_CHART - 1) // QUESTIONS_PER_CHART
    transparent = kind == "convert"
    pool_dir = cache / ("charts-rgba" if transparent else "charts")
    pool_dir.mkdir(parents=True, exist_ok=True)
    missing = [
        (pool_dir, n, transparent) for n in range(charts) if not (pool_dir / f"chart_{n}.png").exists()
    ]
    if missing:
        print(f"drawing {len(missing)} {kind} charts into {pool_dir} (once) ...", file=sys.stderr)
        with ProcessPoolExecutor() as executor:
            list(executor.map(_write_chart, missing, chunksize=64))
    root = cache / f"chartqa-{kind}-{records}"
    png = root / "train" / "png"
    png.mkdir(parents=True, exist_ok=True)
    for number in range(charts):
        link = png / f"chart_{number}.png"
        if not link.exists():
            os.link(pool_dir / f"chart_{number}.png", link)
    annotations = root / "train" / "train_human.json"
    if not annotations.exists():
        rows = []
        for index in range(records):
            number = index // QUESTIONS_PER_CHART
            query = f"What is the value of the tallest bar in chart {number}?"
            if index % QUESTIONS_PER_CHART:
                query = f"How many bars does chart {number} have?"
            rows.append({"imgname": f"chart_{number}.png", "query": query, "label": str(index % 97)})
        annotations.write_text(json.dumps(rows))
    return root


def zipped(folder: Path) -> Path:
    """The dataset folder as the zip a user would share (made once, next to the folder)."""
    archive = folder.with_suffix(".zip")
    if not archive.exists():
        partial = archive.with_suffix(".zip.partial")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_STORED) as bundle:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    bundle.write(path, path.relative_to(folder))
        partial.rename(archive)
    return archive

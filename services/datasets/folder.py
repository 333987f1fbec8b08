"""The images of the output folder: an earlier run's cleared before a run, the ones only rejected records
used removed after it, the rest counted for the report."""

from __future__ import annotations

import os
import re
from pathlib import Path

from services.datasets.writer import IMAGES_DIR

IMAGE_NAME = re.compile(r"[0-9a-f]{64}\.(png|jpg|gif|webp)")


def clear_images(out_dir: Path) -> None:
    """Images of an earlier run into the same folder must not be uploaded with this one."""
    folder = out_dir / IMAGES_DIR
    if folder.is_dir():
        for path in folder.iterdir():
            if IMAGE_NAME.fullmatch(path.name):
                path.unlink()


def remove_orphans(out_dir: Path, orphans: set[str]) -> None:
    """Images only rejected records used were written by the workers; they must not be uploaded."""
    for key in orphans:
        (out_dir / key).unlink(missing_ok=True)


def count_images(out_dir: Path) -> int:
    folder = out_dir / IMAGES_DIR
    if not folder.is_dir():
        return 0
    with os.scandir(folder) as entries:
        return sum(1 for entry in entries if IMAGE_NAME.fullmatch(entry.name))

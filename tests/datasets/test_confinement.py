"""A dataset from a stranger may only use image files inside itself, never others on the service's disk."""

from __future__ import annotations

from pathlib import Path

from services.datasets.pipeline import PrepareOptions, prepare
from tests.datasets.fixtures import make_png, make_zip, write_csv


def dataset_pointing_outside(tmp_path: Path) -> Path:
    private = make_png(tmp_path / "another-team" / "secret-chart.png", seed=7)
    folder = tmp_path / "upload"
    rows = [(f"images/{n}.png", f"What is shown in chart {n}?", f"value {n}") for n in range(3)]
    for n in range(3):
        make_png(folder / "images" / f"{n}.png", seed=n)
    rows.append((str(private), "What does the private chart say?", "42"))
    rows.append(("../../another-team/secret-chart.png", "And via a relative path?", "42"))
    write_csv(folder / "data.csv", ["image", "question", "answer"], rows)
    return make_zip(tmp_path / "upload.zip", folder)


def test_confined_check_refuses_images_outside_the_dataset(tmp_path: Path) -> None:
    archive = dataset_pointing_outside(tmp_path)
    report = prepare(str(archive), PrepareOptions(out_dir=tmp_path / "out", workers=1, confine_images=True))
    outside = [finding for finding in report.errors if "outside the dataset" in finding.message]
    assert len(outside) == 2
    assert all(finding.code == "image_missing" for finding in outside)
    assert report.counts.accepted == 3
    assert report.counts.images == 3


def test_a_local_cli_run_may_use_images_beside_the_dataset(tmp_path: Path) -> None:
    archive = dataset_pointing_outside(tmp_path)
    report = prepare(str(archive), PrepareOptions(out_dir=tmp_path / "out", workers=1))
    assert report.counts.accepted == 4  # the absolute path is the user's own file

"""Official download layouts found as they are downloaded, and a source's own splits respected:
its test stays held out, its validation is used when it fits, ``--split random`` pools them on purpose."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from services.cli import app
from tests.datasets.aws_rules import dataset_problems
from tests.datasets.fixtures import make_chartqa, make_vqav2

runner = CliRunner()


def run(source: Path, out: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    result = runner.invoke(app, ["prepare", str(source), "--out", str(out), "--s3-uri", "s3://b/p", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, json.loads((out / "report.json").read_text()), result.output


def sources_in(path: Path) -> list[str]:
    return [json.loads(line)["tunebot"]["source"] for line in path.read_text().splitlines()]


def vqa_download_layout(root: Path, subtypes: dict[str, int]) -> Path:
    """VQA's own layout (what its PythonHelperTools expect): Questions/, Annotations/ and
    Images/mscoco/<subtype>/COCO_<subtype>_<image_id:012>.jpg."""
    for subtype, count in subtypes.items():
        scratch = root / ".build" / subtype
        make_vqav2(scratch, count, subtype=subtype)
        (root / "Questions").mkdir(parents=True, exist_ok=True)
        (root / "Annotations").mkdir(parents=True, exist_ok=True)
        shutil.move(scratch / f"v2_OpenEnded_mscoco_{subtype}_questions.json", root / "Questions")
        shutil.move(scratch / f"v2_mscoco_{subtype}_annotations.json", root / "Annotations")
        (root / "Images" / "mscoco").mkdir(parents=True, exist_ok=True)
        shutil.move(scratch / subtype, root / "Images" / "mscoco" / subtype)
    shutil.rmtree(root / ".build")
    return root


def test_vqa_download_layout_finds_every_image_and_keeps_val_for_validation(tmp_path: Path) -> None:
    source = vqa_download_layout(tmp_path / "VQA", {"train2014": 120, "val2014": 40})

    code, report, output = run(source, tmp_path / "out")

    assert code == 0, output  # before: image_missing for every record
    assert report["format"] == "vqav2" and report["errors"] == []
    assert report["counts"]["accepted"] == 160 and "image_missing" not in report["error_counts"]
    assert report["counts"]["validation"] == 40  # val2014 is the validation set
    validation = (tmp_path / "out" / "validation.jsonl").read_text().splitlines()
    assert len(validation) == 40
    assert dataset_problems(tmp_path / "out") == []


def test_chartqa_official_test_split_never_reaches_training(tmp_path: Path) -> None:
    source = make_chartqa(
        tmp_path / "ChartQA", 60
    )  # train/, val/, test/ with png/ and *_human/_augmented.json

    code, report, output = run(source, tmp_path / "out")

    assert code == 0, output
    assert all(s.startswith("test/") for s in sources_in(tmp_path / "out" / "test.jsonl"))
    assert report["counts"]["test"] == 60
    training = (tmp_path / "out" / "train.jsonl").read_text() + (
        tmp_path / "out" / "validation.jsonl"
    ).read_text()
    assert "test_" not in training  # no image of the official test split is trained on
    assert report["split"]["source_splits"] == {"train": 60, "validation": 60, "test": 60}
    assert "kept the source's own splits" in output


def test_split_random_pools_the_official_splits_on_purpose(tmp_path: Path) -> None:
    source = make_chartqa(tmp_path / "ChartQA", 60)

    code, report, output = run(source, tmp_path / "out", "--split", "random")

    assert code == 0, output
    assert report["split"]["mode"] == "random"
    tested = sources_in(tmp_path / "out" / "test.jsonl")
    assert report["counts"]["test"] == 18  # 10 % of 180
    assert {s.split("/")[0] for s in tested} != {"test"}


def test_an_official_test_split_over_500_is_cut_and_the_rest_is_not_trained_on(tmp_path: Path) -> None:
    source = make_chartqa(tmp_path / "ChartQA", 520, splits=("train", "test"))

    code, report, output = run(source, tmp_path / "out")

    assert code == 0, output
    assert report["counts"]["test"] == 500 and report["counts"]["unused"] == 20
    unused = sources_in(tmp_path / "out" / "unused.jsonl")
    assert all(s.startswith("test/") for s in unused)
    assert "the source's test split has 520 records" in " ".join(report["split"]["notes"])

"""Hugging Face Hub exports as people download them: sharded parquet with image structs, Arrow from
``save_to_disk``; the dataset cards' column names; split names taken from the files.
(Sources of the layouts and columns: tests/datasets/hub_fixtures.py.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from services.cli import app
from tests.datasets import hub_fixtures as hub
from tests.datasets.aws_rules import dataset_problems
from tests.datasets.fixtures import answer, question, vqav2_answers

runner = CliRunner()


def prepare(source: Path, out: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    result = runner.invoke(app, ["prepare", str(source), "--out", str(out), "--s3-uri", "s3://b/p", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    report: dict[str, Any] = (
        json.loads((out / "report.json").read_text()) if (out / "report.json").exists() else {}
    )
    return result.exit_code, report, result.output


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def codes(findings: list[dict[str, Any]]) -> set[str]:
    return {finding["code"] for finding in findings}


def test_chartqa_hub_parquet_shards_are_read_with_their_splits(tmp_path: Path) -> None:
    source = hub.make_hub_chartqa(tmp_path / "ChartQA", {"train": 120, "val": 20, "test": 40})

    code, report, output = prepare(source, tmp_path / "out")

    assert code == 0, output
    assert report["format"] == "hub"
    assert report["counts"]["records"] == report["counts"]["accepted"] == 180
    # The card's own splits are kept: its test stays held out, its val is the validation set.
    assert (report["counts"]["train"], report["counts"]["validation"], report["counts"]["test"]) == (
        120,
        20,
        40,
    )
    assert report["split"]["mode"] == "source"
    assert report["split"]["source_splits"] == {"train": 120, "validation": 20, "test": 40}
    test = lines(tmp_path / "out" / "test.jsonl")
    assert {record["tunebot"]["source"].split("/")[1].split("-")[0] for record in test} == {"test"}
    first = lines(tmp_path / "out" / "train.jsonl")[0]
    assert first["messages"][0]["content"][0] == {"text": question(0)}
    assert first["messages"][0]["content"][1]["image"]["format"] == "png"
    assert first["messages"][1]["content"] == [{"text": answer(0)}]
    # human_or_machine is a column tunebot does not read: it says so instead of dropping it silently.
    [unused] = [f for f in report["warnings"] if f["code"] == "unused_column"][:1]
    assert "human_or_machine" in unused["message"] and "--question-column" in unused["message"]
    assert dataset_problems(tmp_path / "out") == []


def test_vqav2_hub_export_trains_on_the_chosen_answer_and_keeps_all_ten(tmp_path: Path) -> None:
    source = hub.make_hub_vqav2(tmp_path / "VQAv2", {"validation": 130, "testdev": 20})

    code, report, output = prepare(source, tmp_path / "out", "--format", "hub")

    assert code == 0, output
    assert report["counts"]["test"] == 20  # testdev is a test split
    train = lines(tmp_path / "out" / "train.jsonl") + lines(tmp_path / "out" / "validation.jsonl")
    assert len(train) == 130
    test = lines(tmp_path / "out" / "test.jsonl")
    record = test[0]
    index = int(record["tunebot"]["source"].rsplit("[", 1)[1].rstrip("]"))
    assert record["messages"][1]["content"] == [{"text": answer(index)}]
    assert record["tunebot"]["references"] == vqav2_answers(index)
    assert record["tunebot"]["id"] == str(hub.vqav2_row("testdev", index)["question_id"])
    unused = " ".join(f["message"] for f in report["warnings"] if f["code"] == "unused_column")
    assert all(name in unused for name in ("question_type", "image_id", "answer_type"))


def test_docvqa_export_trains_on_the_first_answer(tmp_path: Path) -> None:
    source = hub.make_hub_docvqa(tmp_path / "DocVQA", {"train": 110, "validation": 15})

    code, report, output = prepare(source, tmp_path / "out", "--test-fraction", "0.1")

    assert code == 0, output
    assert (report["counts"]["validation"], report["counts"]["test"]) == (15, 11)  # test carved from train
    test = lines(tmp_path / "out" / "test.jsonl")
    assert all(len(record["tunebot"]["references"]) == 2 for record in test)
    assert all(record["tunebot"]["references"][1].startswith("$") for record in test)


def test_save_to_disk_arrow_folders_are_read_as_splits(tmp_path: Path) -> None:
    source = hub.make_saved_to_disk(
        tmp_path / "saved", hub.chartqa_row, hub.CHARTQA_SCHEMA, {"train": 110, "test": 30}
    )

    code, report, output = prepare(source, tmp_path / "out")

    assert code == 0, output
    assert report["format"] == "hub"
    assert report["counts"]["test"] == 30
    assert report["counts"]["train"] + report["counts"]["validation"] == 110


def test_a_single_shard_is_read_alone(tmp_path: Path) -> None:
    hub.make_hub_chartqa(tmp_path / "ChartQA", {"train": 120}, shards=2)
    shard = next((tmp_path / "ChartQA" / "data").glob("train-00000-*.parquet"))

    _code, report, output = prepare(shard, tmp_path / "out")

    assert report["format"] == "hub", output
    assert report["counts"]["accepted"] == 60


def test_image_struct_with_a_path_and_no_bytes_reads_the_file_beside_it(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tests.datasets.fixtures import make_png

    root = tmp_path / "paths"
    rows = []
    for i in range(120):
        make_png(root / "data" / f"{i}.png", seed=i)
        rows.append(
            {"image": {"bytes": None, "path": f"{i}.png"}, "question": question(i), "answer": answer(i)}
        )
    (root / "data").mkdir(parents=True, exist_ok=True)
    schema = pa.schema([("image", hub.IMAGE_STRUCT), ("question", pa.string()), ("answer", pa.string())])
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), root / "data" / "train-00000-of-00001.parquet")

    code, report, output = prepare(root, tmp_path / "out")

    assert code == 0, output
    assert report["counts"]["images"] == 120 and report["errors"] == []

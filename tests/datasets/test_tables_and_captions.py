"""Tables as people make them: nothing dropped silently, captioning with a fixed instruction,
ImageFolder metadata, TSV and XLSX — each run through `tunebot prepare`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from services.cli import app
from tests.datasets import hub_fixtures as hub
from tests.datasets.aws_rules import dataset_problems
from tests.datasets.fixtures import answer, make_csv, question

runner = CliRunner()


def run(source: Path, out: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["prepare", str(source), "--out", str(out), "--s3-uri", "s3://b/p", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def report_of(out: Path) -> dict[str, Any]:
    report: dict[str, Any] = json.loads((out / "report.json").read_text())
    return report


def first_user_turn(out: Path) -> list[dict[str, Any]]:
    record = json.loads((out / "train.jsonl").read_text().splitlines()[0])
    content: list[dict[str, Any]] = record["messages"][0]["content"]
    return content


def test_an_image_column_under_another_name_is_an_error_naming_it_and_the_flag(tmp_path: Path) -> None:
    make_csv(tmp_path / "pics", 120, columns=("picture", "question", "answer"))

    code, output = run(tmp_path / "pics", tmp_path / "out")

    assert code == 2, output  # before: 120 text-only records, exit 0, no warning
    assert 'column "picture" holds images' in output and "--image-column picture" in output
    assert not (tmp_path / "out" / "train.jsonl").exists()

    code, output = run(tmp_path / "pics", tmp_path / "out", "--image-column", "picture")
    assert code == 0, output
    assert report_of(tmp_path / "out")["counts"]["images"] == 120


def test_columns_that_are_not_read_are_named_in_a_warning(tmp_path: Path) -> None:
    from tests.datasets.fixtures import write_csv

    rows = [(f"images/{i}.png", question(i), answer(i), "alice", "2024") for i in range(120)]
    for i in range(120):
        from tests.datasets.fixtures import make_png

        make_png(tmp_path / "data" / "images" / f"{i}.png", seed=i)
    write_csv(tmp_path / "data" / "data.csv", ("image", "question", "answer", "annotator", "year"), rows)

    code, output = run(tmp_path / "data", tmp_path / "out")

    assert code == 0, output
    [unused] = [f for f in report_of(tmp_path / "out")["warnings"] if f["code"] == "unused_column"]
    assert "annotator, year" in unused["message"] and unused["message"].startswith("data.csv:")
    assert "unused_column" in output


def test_imagefolder_captions_get_the_default_instruction_and_the_report_says_so(tmp_path: Path) -> None:
    source = hub.make_imagefolder(tmp_path / "captions", 120, metadata="csv", caption_column="text")

    code, output = run(source, tmp_path / "out")

    assert code == 0, output
    report = report_of(tmp_path / "out")
    [default] = [f for f in report["warnings"] if f["code"] == "default_instruction"]
    assert '"Describe this image."' in default["message"] and "--instruction" in default["message"]
    content = first_user_turn(tmp_path / "out")
    assert content[0] == {"text": "Describe this image."} and "image" in content[1]
    assert dataset_problems(tmp_path / "out") == []


def test_a_fixed_instruction_is_asked_by_every_caption_record(tmp_path: Path) -> None:
    source = hub.make_imagefolder(tmp_path / "captions", 120, metadata="jsonl", caption_column="caption")

    code, output = run(source, tmp_path / "out", "--instruction", "Write a one-line alt text.")

    assert code == 0, output
    report = report_of(tmp_path / "out")
    assert "default_instruction" not in report["warning_counts"]
    assert first_user_turn(tmp_path / "out")[0] == {"text": "Write a one-line alt text."}
    answers = {
        json.loads(line)["messages"][1]["content"][0]["text"]
        for line in (tmp_path / "out" / "train.jsonl").read_text().splitlines()
    }
    assert all(text.startswith("a chart with bar ") for text in answers)


def test_file_name_and_caption_csv_beside_its_images(tmp_path: Path) -> None:
    from tests.datasets.fixtures import make_png, write_csv

    for i in range(120):
        make_png(tmp_path / "c" / f"{i}.png", seed=i)
    write_csv(
        tmp_path / "c" / "captions.csv",
        ("file_name", "caption"),
        [(f"{i}.png", f"bar {i}") for i in range(120)],
    )

    code, output = run(tmp_path / "c", tmp_path / "out")

    assert code == 0, output  # before: column_missing
    assert report_of(tmp_path / "out")["counts"]["images"] == 120


def test_tsv_is_read_by_its_tabs(tmp_path: Path) -> None:
    hub.make_tsv(tmp_path / "t", 120)

    code, output = run(tmp_path / "t", tmp_path / "out")

    assert code == 0, output
    report = report_of(tmp_path / "out")
    assert report["format"] == "tsv" and report["counts"]["images"] == 120
    assert first_user_turn(tmp_path / "out")[0]["text"].startswith("What is the value of bar")


def test_xlsx_first_sheet_is_read_and_other_sheets_are_named(tmp_path: Path) -> None:
    hub.make_xlsx(tmp_path / "x", 120, extra_sheets=2)

    code, output = run(tmp_path / "x", tmp_path / "out")

    assert code == 0, output
    report = report_of(tmp_path / "out")
    assert report["format"] == "xlsx" and report["counts"]["accepted"] == 120
    [sheets] = [f for f in report["warnings"] if f["code"] == "unused_sheet"]
    assert "notes 1, notes 2" in sheets["message"]
    records = [json.loads(line) for line in (tmp_path / "out" / "test.jsonl").read_text().splitlines()]
    by_question = {
        r["messages"][0]["content"][0]["text"]: r["messages"][1]["content"][0]["text"] for r in records
    }
    assert all(reply == answer(int(text.split()[-1].rstrip("?"))) for text, reply in by_question.items())
    assert records[0]["tunebot"]["source"].startswith("data.xlsx:")  # the sheet's row number

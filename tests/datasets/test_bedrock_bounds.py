"""The report never calls usable what Bedrock's own rules refuse: empty content, AWS's row bounds, and
each model size's per-record token limit (shared/reference/bedrock-llama32.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from services.cli import app
from tests.datasets.aws_rules import dataset_problems
from tests.datasets.fixtures import answer, make_png, question, write_jsonl

runner = CliRunner()


def prepare(source: Path, out: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    result = runner.invoke(app, ["prepare", str(source), "--out", str(out), "--s3-uri", "s3://b/p", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, json.loads((out / "report.json").read_text()), result.output


def rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def text_rows(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"question": question(i), "answer": answer(i)} for i in range(start, start + n)]


def test_a_turn_that_was_only_the_placeholder_is_an_error_not_an_empty_content_list(tmp_path: Path) -> None:
    records = [
        *text_rows(120),
        {"question": "<image>", "answer": "a cat"},
        {"question": " <image>\n", "answer": "a dog"},
    ]
    write_jsonl(tmp_path / "data" / "data.jsonl", records)

    code, report, output = prepare(tmp_path / "data", tmp_path / "out")

    assert code == 0, output
    empty = [f for f in report["errors"] if f["code"] == "empty_content"]
    assert [f["record"] for f in empty] == ["data.jsonl:121", "data.jsonl:122"]
    assert "placeholder" in empty[0]["message"] and "attach the image" in empty[0]["message"]
    assert report["counts"]["rejected"] == 2
    assert dataset_problems(tmp_path / "out") == []


def test_a_placeholder_beside_its_image_keeps_the_image_as_the_content(tmp_path: Path) -> None:
    root = tmp_path / "data"
    records = []
    for i in range(120):
        make_png(root / "images" / f"{i}.png", seed=i)
        records.append({"image": f"images/{i}.png", "question": "<image>", "answer": answer(i)})
    write_jsonl(root / "data.jsonl", records)

    code, _report, output = prepare(root, tmp_path / "out", "--instruction", "unused here")

    assert code == 0, output
    first = rows(tmp_path / "out" / "train.jsonl")[0]
    assert [list(item) for item in first["messages"][0]["content"]] == [["image"]]
    assert dataset_problems(tmp_path / "out") == []


def test_12000_records_stay_within_awss_row_bounds_and_the_report_says_how(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "big" / "data.jsonl", text_rows(12_000))

    code, report, output = prepare(tmp_path / "big", tmp_path / "out", "--validation-fraction", "0.2")

    assert code == 0, output
    counts = report["counts"]
    assert counts["validation"] == 1_000  # AWS's validator: at most 1,000 validation rows
    assert counts["train"] + counts["validation"] == 10_000  # Bedrock: at most 10,000 records in all
    assert counts["test"] == 500
    assert counts["unused"] == 12_000 - 10_000 - 500
    [capped] = [f for f in report["warnings"] if f["code"] == "split_capped"]
    assert "left out 1,500 of 10,500 training records" in capped["message"]
    assert "unused.jsonl" in capped["message"]
    assert len(rows(tmp_path / "out" / "unused.jsonl")) == 1_500  # nothing lost: they are kept
    assert dataset_problems(tmp_path / "out") == []
    assert "too_many_records" not in report["warning_counts"]


def long_rows(n: int, long: int) -> list[dict[str, Any]]:
    """``n`` rows, the first ``long`` of them about 11,000 tokens: over 90B's 10,000, under 11B's 16,000."""
    records = text_rows(n)
    for record in records[:long]:
        record["question"] = record["question"] + " " + "chart data " * 6_000
    return records


def test_records_over_90bs_limit_make_the_dataset_11b_only_and_are_named(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "long" / "data.jsonl", long_rows(150, 3))

    code, report, output = prepare(tmp_path / "long", tmp_path / "out")

    assert code == 0, output
    fit = report["model_fit"]
    assert fit["fits"] == ["11b"]
    assert fit["summary"].startswith("fits 11B only: 3 records over 90B's limit")
    assert fit["records_over_limit"]["90b"] == ["data.jsonl:1", "data.jsonl:2", "data.jsonl:3"]
    # 150 examples would otherwise recommend 90B (little data): never a size the data does not fit.
    assert report["recommendation"]["model"] == "11b"
    assert "over the other size's per-record token limit" in " ".join(report["recommendation"]["reasons"])
    assert "fits 11B only" in output


def test_with_model_90b_those_records_are_rejected_and_the_rest_fit_both(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "long" / "data.jsonl", long_rows(150, 3))

    code, report, output = prepare(tmp_path / "long", tmp_path / "out", "--model", "90b")

    assert code == 0, output
    assert report["error_counts"] == {"too_many_tokens": 3}
    assert report["model_fit"]["fits"] == ["11b", "90b"]
    assert report["model_fit"]["summary"] == "fits 11B and 90B"
    assert report["recommendation"]["model"] == "90b"


def test_records_over_11bs_limit_fit_no_model_and_are_errors(tmp_path: Path) -> None:
    records = text_rows(120)
    records[0]["question"] = "x" * 100_000  # about 16,700 tokens
    write_jsonl(tmp_path / "huge" / "data.jsonl", records)

    code, report, output = prepare(tmp_path / "huge", tmp_path / "out")

    assert code == 0, output
    assert report["error_counts"] == {"too_many_tokens": 1}
    assert "16,000" in report["errors"][0]["message"]
    assert report["model_fit"]["fits"] == ["11b", "90b"]  # every accepted record fits both


def test_an_image_with_garbage_pixel_data_is_unreadable_and_not_copied(tmp_path: Path) -> None:
    from tests.datasets.fixtures import png_with_garbage_pixels

    root = tmp_path / "data"
    records = []
    for i in range(120):
        make_png(root / "images" / f"{i}.png", seed=i)
        records.append({"image": f"images/{i}.png", "question": question(i), "answer": answer(i)})
    (root / "images" / "broken.png").write_bytes(png_with_garbage_pixels(seed=5))
    records.append({"image": "images/broken.png", "question": "What is shown?", "answer": "bars"})
    write_jsonl(root / "data.jsonl", records)

    code, report, output = prepare(root, tmp_path / "out")

    assert code == 0, output
    [unreadable] = [f for f in report["errors"] if f["code"] == "image_unreadable"]
    assert unreadable["record"] == "data.jsonl:121"
    assert "images/broken.png" in unreadable["message"] and str(tmp_path) not in unreadable["message"]
    assert report["counts"]["images"] == 120  # the broken file is not among the uploaded images


def test_a_test_split_too_small_for_a_meaningful_f1_says_how_wide_its_interval_is(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "small" / "data.jsonl", text_rows(150))  # 10 % held out: 15 test examples

    code, report, output = prepare(tmp_path / "small", tmp_path / "out")

    assert code == 0, output
    assert report["counts"]["test"] == 15
    [small] = [f for f in report["warnings"] if f["code"] == "small_test_set"]
    # 95 % interval of a mean of 0/100 scores over 15 examples: 1.96 * 50 / sqrt(15) = 25.3 points.
    assert "only 15 test examples" in small["message"] and "±25 points" in small["message"]
    assert "--test-fraction" in small["message"]

    write_jsonl(tmp_path / "enough" / "data.jsonl", text_rows(400))
    code, report, output = prepare(tmp_path / "enough", tmp_path / "out2")
    assert report["counts"]["test"] == 40 and "small_test_set" not in report["warning_counts"]

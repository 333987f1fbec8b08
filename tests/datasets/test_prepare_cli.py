"""`tunebot prepare` and `tunebot recommend` as a user runs them: exit codes, report.json, the summary."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from services.cli import app
from tests.conftest import TUNEBOT_BIN
from tests.datasets.fixtures import image_bytes, make_chartqa, make_image, make_jsonl, make_png, write_json

runner = CliRunner()

REPORT_KEYS = {
    "format",
    "usable",
    "counts",
    "errors",
    "warnings",
    "tokens",
    "recommendation",
    "cost_estimate",
}
COUNT_KEYS = {
    "records",
    "accepted",
    "rejected",
    "train",
    "validation",
    "test",
    "images",
    "text_only",
    "multi_image",
    "unused",
}


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def load_report(out: Path) -> dict[str, Any]:
    report: dict[str, Any] = json.loads((out / "report.json").read_text())
    return report


def codes(findings: list[dict[str, Any]]) -> set[str]:
    return {finding["code"] for finding in findings}


def conversation(question: str, answer: str) -> list[dict[str, str]]:
    return [{"from": "human", "value": f"<image>\n{question}"}, {"from": "gpt", "value": answer}]


def messy_llava(root: Path, good: int = 120) -> Path:
    """A LLaVA dataset of ``good`` clean records plus one record per problem the report must name."""
    records: list[Any] = []
    for i in range(good):
        make_png(root / "images" / f"{i}.png", seed=i)
        records.append(
            {
                "id": f"good-{i}",
                "image": f"{i}.png",
                "conversations": conversation(f"Value of bar {i}?", str(i)),
            }
        )

    def add(ident: str, image: str | list[str] | None, turns: list[dict[str, str]]) -> None:
        record: dict[str, Any] = {"id": ident, "conversations": turns}
        if image is not None:
            record["image"] = image
        records.append(record)

    (root / "images" / "notes.png").write_text("these are my notes, not a picture")
    whole = image_bytes((200, 100), "PNG", seed=3)
    (root / "images" / "cut.png").write_bytes(whole[: len(whole) // 2])
    make_image(root / "images" / "sliver.png", (5, 50), seed=4)
    make_image(root / "images" / "photo.jpg", (3000, 2000), seed=5)
    add("missing", "nowhere.png", conversation("Is it there?", "no"))
    add("truncated", "cut.png", conversation("Is it whole?", "no"))
    add("not-an-image", "notes.png", conversation("Is it a chart?", "no"))
    add("too-small", "sliver.png", conversation("Can you see it?", "no"))
    add(
        "answer-first", "0.png", [{"from": "gpt", "value": "42"}, {"from": "human", "value": "<image>\nWhy?"}]
    )
    add("empty-answer", "1.png", conversation("Anything?", " "))
    add("too-long", "2.png", conversation("x" * 120_000, "yes"))
    add("big-photo", "photo.jpg", conversation("What is in the photo?", "a chart"))
    add("copy-of-good-0", "0.png", conversation("Value of bar 0?", "0"))
    add("broken-json", "3.png", conversation("As JSON?", '{"value": 3'))
    add(
        "multi-turn",
        "4.png",
        [*conversation("Value?", "5"), {"from": "human", "value": "Next?"}, {"from": "gpt", "value": "6"}],
    )
    add("two-images", ["5.png", "6.png"], conversation("Which is larger?", "the first"))
    records.append(["not", "a", "record"])
    write_json(root / "llava.json", records)
    return root


# A usable dataset -----------------------------------------------------------------------------------------


def test_usable_chartqa_dataset_exits_0_with_the_promised_report(tmp_path: Path) -> None:
    source = make_chartqa(tmp_path / "chartqa", 80, questions_per_image=2)
    out = tmp_path / "out"

    code, output = run(
        "prepare", str(source), "--out", str(out), "--s3-uri", "s3://team-bucket/charts", "--seed", "3"
    )

    assert code == 0, output
    report = load_report(out)
    assert set(report) >= REPORT_KEYS
    assert set(report["counts"]) == COUNT_KEYS
    assert {"max_per_record", "train_total"} <= set(report["tokens"])
    assert set(report["recommendation"]) >= {
        "model",
        "epochs",
        "learning_rate",
        "epochs_range",
        "learning_rate_range",
        "reasons",
    }
    assert report["format"] == "chartqa" and report["usable"] is True
    counts = report["counts"]
    assert counts["records"] == counts["accepted"] == 240
    assert counts["train"] + counts["validation"] + counts["test"] == 240
    assert counts["images"] == 120 and counts["text_only"] == 0
    assert report["errors"] == [] and "placeholder_bucket" not in codes(report["warnings"])
    assert report["cost_estimate"]["estimate"] is True
    assert "usable" in output and "Recommendation" in output and "estimate" in output
    first = json.loads((out / "train.jsonl").read_text().splitlines()[0])
    assert first["messages"][0]["content"][1]["image"]["source"]["s3Location"]["uri"].startswith(
        "s3://team-bucket/charts/images/"
    )


def test_json_flag_prints_the_report(tmp_path: Path) -> None:
    source = make_chartqa(tmp_path / "chartqa", 60, splits=("train", "val"))
    out = tmp_path / "out"

    code, output = run("prepare", str(source), "--out", str(out), "--json")

    printed = json.loads(output)
    assert code == 0
    assert printed == load_report(out)
    assert "placeholder_bucket" in codes(printed["warnings"])
    assert printed["s3_uri"] == "s3://tunebot-placeholder"
    # both sizes are priced, the larger one higher, and the headline estimate is the recommended size's
    by_model = printed["cost_by_model"]
    assert set(by_model) == {"11b", "90b"}
    assert by_model["90b"]["total_usd"] > by_model["11b"]["total_usd"] > 0
    assert printed["cost_estimate"] == by_model[printed["recommendation"]["model"]]


def test_s3_uri_defaults_to_the_configured_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNEBOT_S3_URI", "s3://configured-bucket/data")
    source = make_chartqa(tmp_path / "chartqa", 120, splits=("train",))

    code, output = run("prepare", str(source), "--out", str(tmp_path / "out"), "--json")

    assert code == 0
    assert json.loads(output)["s3_uri"] == "s3://configured-bucket/data"


def test_same_seed_gives_the_same_files(tmp_path: Path) -> None:
    source = make_chartqa(tmp_path / "chartqa", 120, splits=("train",), questions_per_image=2)
    for name in ("a", "b"):
        assert run("prepare", str(source), "--out", str(tmp_path / name), "--seed", "11")[0] == 0
    for side in ("train.jsonl", "validation.jsonl", "test.jsonl"):
        assert (tmp_path / "a" / side).read_bytes() == (tmp_path / "b" / side).read_bytes()


def test_default_out_dir_is_prepared_slash_name(tmp_path: Path) -> None:
    source = make_chartqa(tmp_path / "charts", 120, splits=("train",))
    code, _ = run("prepare", str(source))
    assert code == 0
    assert (Path("prepared") / "charts" / "report.json").is_file()  # tests run in tmp_path


def test_system_prompt_option_reaches_the_records(tmp_path: Path) -> None:
    source = make_chartqa(tmp_path / "chartqa", 120, splits=("train",))
    out = tmp_path / "out"
    run("prepare", str(source), "--out", str(out), "--system", "Read the chart.")
    record = json.loads((out / "train.jsonl").read_text().splitlines()[0])
    assert record["system"] == [{"text": "Read the chart."}]


# Problems in the data ---------------------------------------------------------------------------------------


def test_every_problem_is_reported_with_its_record_and_the_rest_goes_on(tmp_path: Path) -> None:
    source = messy_llava(tmp_path / "messy")
    out = tmp_path / "out"

    code, output = run("prepare", str(source), "--out", str(out), "--format", "llava")

    report = load_report(out)
    assert code == 0, output  # 120 good records are enough
    assert codes(report["errors"]) == {
        "bad_record",
        "image_missing",
        "image_unreadable",
        "image_format",
        "image_too_small",
        "role_order",
        "empty_turn",
        "too_many_tokens",
    }
    assert {"image_resized", "duplicate", "json_answer", "multiple_images"} <= codes(report["warnings"])
    counts = report["counts"]
    assert counts["rejected"] == 8 and counts["records"] == 133
    assert counts["accepted"] == 125 and counts["multi_image"] == 1
    by_code = {finding["code"]: finding for finding in report["errors"]}
    assert by_code["image_missing"]["record"] == "llava.json[120]"
    assert "nowhere.png" in by_code["image_missing"]["message"]
    assert report["json_answers"] == {"json_like": 1, "parse": 0, "plain": 125}
    # images of rejected records are not left behind to be uploaded
    assert len(list((out / "images").iterdir())) == counts["images"]
    # the summary groups errors by code and shows the first ones
    assert "image_missing" in output and "llava.json[120]" in output


def test_image_placeholder_left_in_a_csv_question_is_flagged(tmp_path: Path) -> None:
    source = make_jsonl(tmp_path / "table", 3)
    with source.open("a") as handle:
        handle.write(
            json.dumps({"image": "images/0.jpg", "question": "<image> What is shown?", "answer": "a bar"})
            + "\n"
        )

    run("prepare", str(source), "--out", str(tmp_path / "out"))

    report = load_report(tmp_path / "out")
    [finding] = [f for f in report["warnings"] if f["code"] == "image_placeholder"]
    assert finding["record"] == "data.jsonl:4"
    train_and_test = (tmp_path / "out" / "train.jsonl").read_text() + (
        tmp_path / "out" / "test.jsonl"
    ).read_text()
    assert "<image>" not in train_and_test + (tmp_path / "out" / "validation.jsonl").read_text()


def test_too_few_records_is_not_usable(tmp_path: Path) -> None:
    source = make_chartqa(tmp_path / "chartqa", 20, splits=("train",))

    code, output = run("prepare", str(source), "--out", str(tmp_path / "out"))

    assert code == 1
    report = load_report(tmp_path / "out")
    assert report["usable"] is False and "too_few_records" in codes(report["warnings"])
    assert "not usable" in output


def test_same_images_in_another_order_across_train_and_test_is_leakage(tmp_path: Path) -> None:
    root = tmp_path / "pairs"
    records = []
    for i in range(60):
        make_png(root / "images" / f"{i}a.png", seed=2 * i)
        make_png(root / "images" / f"{i}b.png", seed=2 * i + 1)
        for order in ([f"{i}a.png", f"{i}b.png"], [f"{i}b.png", f"{i}a.png"]):
            records.append(
                {
                    "id": f"{i}-{order[0]}",
                    "image": order,
                    "conversations": conversation("Which is taller?", "left"),
                }
            )
    write_json(root / "llava.json", records)

    code, output = run("prepare", str(root), "--out", str(tmp_path / "out"), "--json")

    report = json.loads(output)
    leaks = [finding for finding in report["warnings"] if finding["code"] == "leakage"]
    assert code == 0 and leaks
    test_sources = {
        json.loads(line)["tunebot"]["source"]
        for line in (tmp_path / "out" / "test.jsonl").read_text().splitlines()
    }
    assert {leak["record"] for leak in leaks} <= test_sources


def test_model_size_sets_the_token_limit(tmp_path: Path) -> None:
    source = make_chartqa(tmp_path / "chartqa", 110, splits=("train",))
    data = json.loads((source / "train" / "train_human.json").read_text())
    data[0]["query"] = "y" * 60_000  # about 10,000 text tokens plus 1,601 for the chart
    (source / "train" / "train_human.json").write_text(json.dumps(data))

    for model, rejected in (("11b", 0), ("90b", 1)):
        out = tmp_path / model
        run("prepare", str(source), "--out", str(out), "--model", model)
        assert load_report(out)["counts"]["rejected"] == rejected
    assert "too_many_tokens" in codes(load_report(tmp_path / "90b")["errors"])


# Usage errors ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["prepare", "does-not-exist"],
        ["prepare", "SRC", "--format", "yaml"],
        ["prepare", "SRC", "--validation-fraction", "0.5"],
        ["prepare", "SRC", "--upload"],
        ["prepare", "SRC", "--s3-uri", "https://not-s3"],
        ["recommend"],
    ],
)
def test_usage_errors_exit_2_without_a_traceback(tmp_path: Path, args: list[str]) -> None:
    source = make_chartqa(tmp_path / "chartqa", 5, splits=("train",))
    code, output = run(*[str(source) if arg == "SRC" else arg for arg in args])
    assert code == 2, output
    assert "Traceback" not in output


def test_archive_bomb_is_one_line_and_exit_1(tmp_path: Path) -> None:
    import zipfile

    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("data.jsonl", "\n" * (80 << 20))  # 80 MB of newlines, a few KB compressed
    code, output = run("prepare", str(archive), "--out", str(tmp_path / "out"))
    assert code == 1
    assert output.strip().startswith("source: ") and len(output.strip().splitlines()) == 1


# recommend ---------------------------------------------------------------------------------------------


def test_recommend_json_has_the_documented_keys() -> None:
    code, output = run("recommend", "--examples", "5001", "--json")
    payload = json.loads(output)
    assert code == 0
    assert payload == {
        "model": "11b",
        "epochs": 3,
        "learning_rate": 2e-5,
        "epochs_range": [3, 4],
        "learning_rate_range": [1e-5, 5e-5],
        "reasons": payload["reasons"],
    }
    assert len(payload["reasons"]) == 3


def test_recommend_summary_names_model_epochs_and_rate() -> None:
    code, output = run("recommend", "--examples", "499", "--model", "11b")
    assert code == 0
    assert "11B" in output and "8 epochs" in output and "1e-05" in output


# The real executable -----------------------------------------------------------------------------------


def test_installed_tunebot_prepare_runs_as_a_subprocess(tmp_path: Path) -> None:
    source = make_chartqa(tmp_path / "chartqa", 120, splits=("train",))
    out = tmp_path / "out"

    completed = subprocess.run(
        [TUNEBOT_BIN, "prepare", str(source), "--out", str(out), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["counts"]["accepted"] == 120
    assert (out / "train.jsonl").is_file()
    assert "Traceback" not in completed.stderr

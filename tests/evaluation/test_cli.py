"""Given predictions and references on disk, `tunebot score` prints the scores, or one line saying which
file and line is wrong (exit 2, no traceback)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from services.evaluation.cli import register

TUNEBOT_BIN = str(Path(sys.executable).with_name("tunebot"))


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.command()
    def placeholder() -> None:
        """Keeps Typer in multi-command mode, as the real `tunebot` app is."""

    return app


def _write_jsonl(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


def _run(*arguments: str) -> Result:
    return CliRunner().invoke(_app(), ["score", *arguments])


@pytest.fixture
def references(tmp_path: Path) -> Path:
    return _write_jsonl(
        tmp_path / "references.jsonl",
        [
            {"id": "q1", "answers": ["Paris"]},
            {"id": "q2", "answers": ["the red car", "a car"]},
            {"id": "q3", "answers": ["42"]},
            {"id": "q4", "answers": ["blue"]},
        ],
    )


def _expected_squad() -> dict[str, object]:
    # q1 exact; q2 "red car" vs "red car" exact; q3 "41" vs "42" 0; q4 missing -> 0. Mean over 4.
    return {"metric": "squad", "f1": 50.0, "exact_match": 50.0, "count": 4, "missing": 1}


def test_jsonl_predictions_give_the_five_keys_in_points(tmp_path: Path, references: Path) -> None:
    predictions = _write_jsonl(
        tmp_path / "predictions.jsonl",
        [
            {"id": "q1", "prediction": "Paris."},
            {"id": "q2", "prediction": "Red car"},
            {"id": "q3", "prediction": "41"},
        ],
    )
    result = _run("--predictions", str(predictions), "--references", str(references), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert {key: summary[key] for key in _expected_squad()} == _expected_squad()
    assert summary["score_name"] == "f1"
    assert "v1.1" in summary["description"]


def test_the_official_id_to_text_object_is_accepted(tmp_path: Path, references: Path) -> None:
    predictions = tmp_path / "predictions.json"
    predictions.write_text(json.dumps({"q1": "Paris", "q2": "the red car", "q3": "41"}), encoding="utf-8")
    result = _run("-p", str(predictions), "-r", str(references), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert {key: summary[key] for key in _expected_squad()} == _expected_squad()


def test_without_json_a_table_is_printed(tmp_path: Path, references: Path) -> None:
    predictions = _write_jsonl(tmp_path / "p.jsonl", [{"id": "q1", "prediction": "Paris"}])
    result = _run("-p", str(predictions), "-r", str(references))
    assert result.exit_code == 0, result.output
    assert "F1" in result.stdout and "25.00" in result.stdout
    assert "missing predictions" in result.stdout


def test_other_metrics_put_their_score_in_f1_and_say_so(tmp_path: Path) -> None:
    references = _write_jsonl(
        tmp_path / "r.jsonl",
        [{"id": 1, "answers": ["10"]}, {"id": 2, "answers": [{"total": "12.50", "n": 3}]}],
    )
    predictions = _write_jsonl(
        tmp_path / "p.jsonl",
        [{"id": "1", "prediction": "10.4"}, {"id": 2, "prediction": '{"total": "12.50"}'}],
    )
    relaxed = json.loads(
        _run("-p", str(predictions), "-r", str(references), "-m", "relaxed", "--json").stdout
    )
    # id 1: 10.4 is within 5 % of 10; id 2 is not a number and not the same string.
    assert (relaxed["f1"], relaxed["score"], relaxed["score_name"]) == (50.0, 50.0, "relaxed_accuracy")
    assert "f1 holds" in relaxed["description"]

    anls = json.loads(_run("-p", str(predictions), "-r", str(references), "-m", "anls", "--json").stdout)
    # id 1: "10.4" is "10" plus 2 characters, 2/4 = 0.5, on the threshold -> 0.5.
    # id 2: the prediction is the 26-character reference without ', "n": 3' (8) -> 1 - 8/26.
    assert anls["f1"] == pytest.approx(100 * (0.5 + (1 - 8 / 26)) / 2)
    assert (anls["exact_match"], anls["score_name"]) == (0.0, "anls")


def test_json_metric_scores_fields_and_names_a_bad_reference_line(tmp_path: Path) -> None:
    references = _write_jsonl(
        tmp_path / "r.jsonl",
        [{"id": "a", "answers": [{"total": "12.50", "n": 3}]}, {"id": "b", "answers": ["x"]}],
    )
    predictions = _write_jsonl(tmp_path / "p.jsonl", [{"id": "a", "prediction": '{"total": "12.50"}'}])
    result = _run("-p", str(predictions), "-r", str(references), "-m", "json", "--json")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: {references} line 2: example 'b': the reference is not a JSON object "
        "(the json metric needs one)"
    )

    _write_jsonl(references, [{"id": "a", "answers": [{"total": "12.50", "n": 3}]}])
    summary = json.loads(_run("-p", str(predictions), "-r", str(references), "-m", "json", "--json").stdout)
    assert summary["f1"] == 50.0  # "total" right, "n" missing
    assert summary["score_name"] == "json_field_accuracy"


def test_vqa_reports_its_normalisation_rule(tmp_path: Path) -> None:
    references = _write_jsonl(tmp_path / "r.jsonl", [{"id": 7, "answers": ["yes"] * 10}])
    predictions = _write_jsonl(tmp_path / "p.jsonl", [{"id": 7, "prediction": "Yes"}])
    official = json.loads(_run("-p", str(predictions), "-r", str(references), "-m", "vqa", "--json").stdout)
    assert (official["f1"], official["vqa_normalisation"]) == (0.0, "official")
    always = json.loads(
        _run(
            "-p",
            str(predictions),
            "-r",
            str(references),
            "-m",
            "vqa",
            "--vqa-normalisation",
            "always",
            "--json",
        ).stdout
    )
    assert (always["f1"], always["vqa_normalisation"]) == (100.0, "always")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"id": "q1", "prediction": "x"}\n{"id": "q2", "prediction": \n', "line 2: not valid JSON"),
        ('{"id": "q1", "prediction": "x"}\n\n["q2", "y"]\n', "line 3: expected a JSON object, got list"),
        ('{"id": "q1", "answer": "x"}\n', 'line 1: "prediction" must be a string'),
        ('{"prediction": "x"}\n', 'line 1: missing "id" (a string or an integer)'),
        ('{"id": "q1", "prediction": "x"}\n{"id": "q1", "prediction": "y"}\n', "line 2: duplicate id 'q1'"),
        ('{"q1": ["not", "text"]}', "prediction for id 'q1' is not a string"),
        ("   \n", "the file is empty"),
    ],
)
def test_bad_predictions_name_the_file_and_line(
    tmp_path: Path, references: Path, content: str, message: str
) -> None:
    predictions = tmp_path / "predictions.jsonl"
    predictions.write_text(content, encoding="utf-8")
    result = _run("-p", str(predictions), "-r", str(references), "--json")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: {predictions}")
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b'{"id": "q1", "answers": ["x"]}\n{"id": "q2", "answers": "\xff"}\n',
            " line 2: not UTF-8 text (byte 0xff)",
        ),
        (b'{"id": "q1", "answers": [1, 2]}\n', ' line 1: "answers" must be a list of strings'),
        (b'{"id": "q1"}\n', ' line 1: "answers" must be a list of strings'),
        (b"\n\n", ": no references (expected JSONL lines like"),
    ],
)
def test_bad_references_name_the_file_and_line(tmp_path: Path, content: bytes, message: str) -> None:
    predictions = _write_jsonl(tmp_path / "p.jsonl", [{"id": "q1", "prediction": "x"}])
    references = tmp_path / "references.jsonl"
    references.write_bytes(content)
    result = _run("-p", str(predictions), "-r", str(references))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {references}{message}")
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_missing_file_is_one_line(tmp_path: Path, references: Path) -> None:
    result = _run("-p", str(tmp_path / "nowhere.jsonl"), "-r", str(references))
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {tmp_path / 'nowhere.jsonl'}: file not found"


def test_a_json_string_with_a_line_separator_stays_one_record(tmp_path: Path, references: Path) -> None:
    predictions = tmp_path / "p.jsonl"
    predictions.write_text('{"id": "q1", "prediction": "Paris\u2028"}\n', encoding="utf-8")
    summary = json.loads(_run("-p", str(predictions), "-r", str(references), "--json").stdout)
    assert summary["count"] == 4 and summary["missing"] == 3


@pytest.mark.slow
def test_the_installed_tunebot_command_scores_and_fails_cleanly(tmp_path: Path, references: Path) -> None:
    predictions = _write_jsonl(tmp_path / "p.jsonl", [{"id": "q1", "prediction": "Paris"}])
    done = subprocess.run(
        [TUNEBOT_BIN, "score", "--predictions", str(predictions), "--references", str(references), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["f1"], summary["exact_match"], summary["count"], summary["missing"]) == (25.0, 25.0, 4, 3)

    predictions.write_text("{broken\n", encoding="utf-8")
    failed = subprocess.run(
        [TUNEBOT_BIN, "score", "-p", str(predictions), "-r", str(references)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert failed.returncode == 2
    assert failed.stderr.startswith(f"error: {predictions} line 1: not valid JSON")
    assert "Traceback" not in failed.stderr

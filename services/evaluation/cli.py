"""`tunebot score`: score a predictions file against a references file, offline.

Predictions: JSONL `{"id", "prediction"}` per line, or the official SQuAD `{id: text}` JSON object.
References: JSONL `{"id", "answers": [...]}` per line. A bad file stops with one line naming the file
and line, exit status 2, never a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from services.evaluation.metrics import (
    InvalidReference,
    Metric,
    ScoreReport,
    VqaNormalisation,
    score_predictions,
)

BAD_INPUT_EXIT_CODE = 2

SCORE_NAMES: dict[Metric, str] = {
    Metric.SQUAD: "f1",
    Metric.SQUAD_V2: "f1",
    Metric.RELAXED: "relaxed_accuracy",
    Metric.VQA: "vqa_accuracy",
    Metric.ANLS: "anls",
    Metric.JSON: "json_field_accuracy",
}


class InputFileError(Exception):
    """A predictions or references file that cannot be read; the message names file and line."""


# --------------------------------------------------------------------------------------------- reading


def read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputFileError(f"{path}: file not found") from None
    except OSError as error:
        raise InputFileError(f"{path}: cannot read ({error.strerror or error})") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise InputFileError(f"{path} line {line}: not UTF-8 text (byte 0x{raw[error.start]:02x})") from None


def _numbered_lines(text: str) -> list[tuple[int, str]]:
    # Split on "\n" only: str.splitlines() would also split inside JSON strings at U+2028 and friends.
    return [
        (number, line.rstrip("\r")) for number, line in enumerate(text.split("\n"), start=1) if line.strip()
    ]


def _json_record(source: str, number: int, line: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except ValueError as error:
        raise InputFileError(f"{source} line {number}: not valid JSON ({error})") from None
    if not isinstance(record, dict):
        raise InputFileError(f"{source} line {number}: expected a JSON object, got {type(record).__name__}")
    return record


def _example_id(source: str, number: int, record: dict[str, Any]) -> str:
    example_id = record.get("id")
    # VQA question ids are integers; compare them as text so both files may spell them either way.
    if isinstance(example_id, int) and not isinstance(example_id, bool):
        return str(example_id)
    if not isinstance(example_id, str) or not example_id:
        raise InputFileError(f'{source} line {number}: missing "id" (a string or an integer)')
    return example_id


def _remember_line(source: str, seen: dict[str, int], example_id: str, number: int) -> None:
    if example_id in seen:
        first = seen[example_id]
        raise InputFileError(f"{source} line {number}: duplicate id {example_id!r} (first on line {first})")
    seen[example_id] = number


def _official_predictions(source: str, text: str) -> dict[str, str] | None:
    """The `{id: text}` object, or None when the file is something else (JSONL)."""
    try:
        whole = json.loads(text)
    except ValueError:
        return None
    # A one-line JSONL file is also a single JSON object: tell them apart by a record's own keys.
    if not isinstance(whole, dict) or "id" in whole or "prediction" in whole:
        return None
    for example_id, prediction in whole.items():
        if not isinstance(prediction, str):
            raise InputFileError(f"{source}: prediction for id {example_id!r} is not a string")
    return whole


def parse_predictions(source: str, text: str) -> dict[str, str]:
    if not text.strip():
        raise InputFileError(f"{source}: the file is empty")
    official = _official_predictions(source, text)
    if official is not None:
        return official
    predictions: dict[str, str] = {}
    seen: dict[str, int] = {}
    for number, line in _numbered_lines(text):
        record = _json_record(source, number, line)
        example_id = _example_id(source, number, record)
        prediction = record.get("prediction")
        if not isinstance(prediction, str):
            raise InputFileError(f'{source} line {number}: "prediction" must be a string')
        _remember_line(source, seen, example_id, number)
        predictions[example_id] = prediction
    return predictions


def _answer_texts(source: str, number: int, record: dict[str, Any]) -> list[str]:
    answers = record.get("answers")
    if isinstance(answers, str | dict):
        answers = [answers]
    if not isinstance(answers, list):
        raise InputFileError(f'{source} line {number}: "answers" must be a list of strings')
    texts = []
    for answer in answers:
        if isinstance(answer, str):
            texts.append(answer)
        elif isinstance(answer, dict):
            # JSON-metric references may be written as objects rather than as JSON text.
            texts.append(json.dumps(answer, ensure_ascii=False))
        else:
            raise InputFileError(f'{source} line {number}: "answers" must be a list of strings')
    return texts


def parse_references(source: str, text: str) -> tuple[dict[str, list[str]], dict[str, int]]:
    """References by id, and the line each id came from (for error messages)."""
    references: dict[str, list[str]] = {}
    lines: dict[str, int] = {}
    for number, line in _numbered_lines(text):
        record = _json_record(source, number, line)
        example_id = _example_id(source, number, record)
        answers = _answer_texts(source, number, record)
        _remember_line(source, lines, example_id, number)
        references[example_id] = answers
    if not references:
        example = '{"id": ..., "answers": [...]}'
        raise InputFileError(f"{source}: no references (expected JSONL lines like {example})")
    return references, lines


# -------------------------------------------------------------------------------------------- output


def report_as_dict(report: ScoreReport, vqa_normalisation: VqaNormalisation) -> dict[str, object]:
    summary: dict[str, object] = {
        "metric": report.metric.value,
        "f1": report.f1,
        "exact_match": report.exact_match,
        "count": report.count,
        "missing": report.missing,
        "score": report.f1,
        "score_name": SCORE_NAMES[report.metric],
        "description": report.description,
    }
    if report.metric is Metric.VQA:
        summary["vqa_normalisation"] = vqa_normalisation.value
    return summary


def _print_table(report: ScoreReport) -> None:
    squad_like = report.metric in (Metric.SQUAD, Metric.SQUAD_V2)
    table = Table(title=f"tunebot score: {report.metric.value}", title_justify="left")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("F1" if squad_like else SCORE_NAMES[report.metric], f"{report.f1:.2f}")
    table.add_row("exact match" if squad_like else "full credit", f"{report.exact_match:.2f}")
    table.add_row("examples scored", str(report.count))
    table.add_row("missing predictions", str(report.missing))
    console = Console()
    console.print(table)
    console.print(report.description, highlight=False)


# ------------------------------------------------------------------------------------------- command


PREDICTIONS_HELP = 'JSONL {"id", "prediction"} or an official {id: text} JSON object.'
REFERENCES_HELP = 'JSONL {"id", "answers": [...]}.'
VQA_HELP = "VQA only: normalise answers only when annotators disagree (official), or always."


def score(
    predictions: Annotated[Path, typer.Option("--predictions", "-p", help=PREDICTIONS_HELP)],
    references: Annotated[Path, typer.Option("--references", "-r", help=REFERENCES_HELP)],
    metric: Annotated[Metric, typer.Option("--metric", "-m", help="Which metric to compute.")] = Metric.SQUAD,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object, not a table.")] = False,
    vqa_normalisation: Annotated[
        VqaNormalisation, typer.Option("--vqa-normalisation", help=VQA_HELP)
    ] = VqaNormalisation.WHEN_ANNOTATORS_DISAGREE,
) -> None:
    """Score predictions against references (SQuAD F1/EM by default; scores in 0–100)."""
    try:
        predicted = parse_predictions(str(predictions), read_text(predictions))
        expected, reference_lines = parse_references(str(references), read_text(references))
        try:
            report = score_predictions(metric, predicted, expected, vqa_normalisation=vqa_normalisation)
        except InvalidReference as error:
            line = reference_lines.get(error.example_id)
            raise InputFileError(f"{references} line {line}: {error}") from None
    except InputFileError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(BAD_INPUT_EXIT_CODE) from None

    if as_json:
        typer.echo(json.dumps(report_as_dict(report, vqa_normalisation)))
    else:
        _print_table(report)


def register(app: typer.Typer) -> None:
    """Add `tunebot score` to the app."""
    app.command("score")(score)

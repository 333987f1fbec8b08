"""Which format one data file is in, from its name and its first record only.

Used by format detection and by the readers, to pick their own files out of a folder. Reads at most
the first record (the first element of the first list of a JSON object), never a whole file.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.datasets.readers._columnar import columnar_names, xlsx_header
from services.datasets.readers._columns import ANSWER_COLUMNS, IMAGE_COLUMNS, QUESTION_COLUMNS, first_present
from services.datasets.readers._records import JsonStream, JsonStreamError, open_json

# Suffixes of files that hold records (images are everything else).
DATA_SUFFIXES = (".json", ".jsonl", ".csv", ".tsv", ".xlsx", ".parquet", ".arrow", ".pdf")
# JSONL lines looked at for a first record before giving up on a file.
_JSONL_LINES_TO_TRY = 20


@dataclass(frozen=True, slots=True)
class Peek:
    """The start of a data file: ``record`` is its first record (a parquet file's column names map to
    None), ``container`` the top-level key of the list it came from in a JSON object."""

    path: Path
    record: Mapping[str, Any] | None
    container: str | None = None


def peek(path: Path) -> Peek:
    """The first record of a data file; ``record`` is None when there is none or it cannot be read."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".jsonl":
            return Peek(path, _first_jsonl_record(path))
        if suffix == ".json":
            container, first = _first_json_record(path)
            return Peek(path, first if isinstance(first, Mapping) else None, container)
        if suffix in (".csv", ".tsv"):
            return Peek(path, _first_csv_row(path, "\t" if suffix == ".tsv" else ","))
        if suffix in (".parquet", ".arrow"):
            names = columnar_names(path)
            return Peek(path, dict.fromkeys(names) if names is not None else None)
        if suffix == ".xlsx":
            return Peek(path, dict.fromkeys(xlsx_header(path)) or None)
    except (OSError, ValueError, csv.Error):
        # ValueError covers JSON and Unicode decoding errors: an unreadable file has no format.
        pass
    return Peek(path, None)


def _first_jsonl_record(path: Path) -> Mapping[str, Any] | None:
    with path.open("rb") as handle:
        for line_number, raw in enumerate(handle):
            if line_number >= _JSONL_LINES_TO_TRY:
                break
            line = raw.removeprefix(b"\xef\xbb\xbf").strip()
            if not line:
                continue
            try:
                value = json.loads(line)
            except ValueError:
                continue
            return value if isinstance(value, Mapping) else None
    return None


def _first_json_record(path: Path) -> tuple[str | None, Any]:
    """(None, first element) for a top-level list; (key, its first element) for the first list-valued
    key of a top-level object; (None, None) when there is no list."""
    try:
        with open_json(path) as handle:
            stream = JsonStream(handle)
            start = stream.peek()
            if start == "[":
                return None, next(stream.array_items(), None)
            if start == "{":
                for key in stream.object_keys():
                    if stream.peek() == "[":
                        return key, next(stream.array_items(), None)
    except JsonStreamError:
        pass
    return None, None


def _first_csv_row(path: Path, delimiter: str = ",") -> Mapping[str, Any] | None:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle, delimiter=delimiter)
        row = next(reader, None)
        if row is None and reader.fieldnames:
            return dict.fromkeys(reader.fieldnames, "")  # a header alone still names the columns
        return row


def looks_tabular(record: Mapping[str, Any]) -> bool:
    """A question and an answer column, or an image and an answer (captioning, ImageFolder's
    file_name + text, Donut's file_name + ground_truth)."""
    has_question = first_present(record, QUESTION_COLUMNS) is not None
    has_answer = first_present(record, ANSWER_COLUMNS) is not None
    has_image = first_present(record, IMAGE_COLUMNS) is not None
    return has_answer and (has_question or has_image)


def classify(found: Peek) -> str | None:
    """The format of one file (a name from readers.FORMATS), or None when it is not recognised."""
    suffix = found.path.suffix.lower()
    if suffix == ".pdf":
        return "pdf"
    record = found.record
    if record is None:
        return None
    if suffix in (".parquet", ".arrow"):
        if {"messages", "images"} <= record.keys():
            return "hf-llava"
        return "hub" if looks_tabular(record) else None
    if suffix in (".tsv", ".xlsx"):
        return suffix[1:] if looks_tabular(record) else None
    if "messages" in record:
        return "hf-llava" if "images" in record else "bedrock"
    if "conversations" in record:
        return "llava"
    if {"imgname", "query"} <= record.keys():
        return "chartqa"
    if found.container in ("questions", "annotations") and "question_id" in record:
        return "vqav2"
    if found.container == "data" and "questionId" in record:
        return "docvqa"
    if looks_tabular(record):
        if suffix == ".csv":
            return "csv"
        return "jsonl" if found.container is None else None
    return None


def classify_file(path: Path) -> str | None:
    return classify(peek(path))


def files_of_format(files: list[Path], fmt: str) -> list[Path]:
    """The files that look like ``fmt``; all of them when none does (the user named the format, so
    every candidate is read and its records say what does not fit)."""
    matching = [path for path in files if classify_file(path) == fmt]
    return matching or files

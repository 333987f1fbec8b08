"""How one table cell becomes what a record needs: answer text and references (lists, VQAv2's answer
objects, Donut's ground truth), image bytes from a Hub struct, a PDF page number, and the checks a
CSV row's width must pass. Each refusal is a ``RecordError`` that says what to change.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from services.datasets.readers._columns import PAGE_COLUMN
from services.datasets.readers._common import RecordError, answer_text, as_text, compact_json


def answer_list(value: list[Any], column: str) -> tuple[str, ...]:
    """Every answer of a list: text items, or VQAv2's ``{"answer", "answer_confidence", "answer_id"}``."""
    if not value:
        raise RecordError(f'"{column}" is an empty list; add at least one answer')
    return tuple(
        answer_text(
            item["answer"] if isinstance(item, Mapping) and "answer" in item else item, f'"{column}" item'
        )
        for item in value
    )


def struct_bytes(value: object, column: str) -> bytes | None:
    if isinstance(value, bytes | bytearray):
        return bytes(value) or None
    if isinstance(value, str) and value:  # JSON exports of image structs carry base64
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error as exc:
            raise RecordError(f'"{column}": image bytes are not valid base64; export them again') from exc
    return None


def donut_answer(value: object) -> tuple[str, tuple[str, ...]]:
    """The training answer of a Donut ``ground_truth`` (a JSON string) and its references."""
    try:
        parsed = json.loads(value) if isinstance(value, str) else value
    except ValueError as exc:
        raise RecordError(
            f'"ground_truth" is not valid JSON ({exc}); Donut-style ground truth is a JSON string'
        ) from exc
    if isinstance(parsed, Mapping) and "gt_parses" in parsed and isinstance(parsed["gt_parses"], list):
        references = tuple(compact_json(item) for item in parsed["gt_parses"])
        if not references:
            raise RecordError('"ground_truth" has an empty "gt_parses" list; add the parse')
        return references[0], references
    if isinstance(parsed, Mapping) and "gt_parse" in parsed:
        parsed = parsed["gt_parse"]
    return compact_json(parsed), ()


def check_row_width(row: Mapping[Any, Any]) -> None:
    """csv.DictReader files extra fields under None and fills missing ones with None."""
    if None in row:
        raise RecordError("this row has more fields than the header; quote fields that contain commas")
    missing = [str(column) for column, value in row.items() if value is None]
    if missing:
        raise RecordError(
            f"this row has fewer fields than the header (no {', '.join(missing)}); "
            "add the missing fields (empty ones still need their commas)"
        )


def cell_text(value: object, column: str) -> str:
    if value is None:
        raise RecordError(f'"{column}" is null; add the text')
    return as_text(value, f'"{column}"')


def page_column(row: Mapping[str, Any]) -> int | None:
    value = row.get(PAGE_COLUMN)
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise RecordError(f'"{PAGE_COLUMN}" must be a page number counting from 1, not {value!r}')


def json_list_or_text(value: str) -> Any:
    try:
        parsed = json.loads(value)
    except ValueError:
        return value
    return parsed if isinstance(parsed, list) else value

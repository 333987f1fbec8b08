"""AWS's published validation rules for Llama 3.2 fine-tuning data, as a test oracle.

Mirrors the checks of AWS's own validator (aws-samples/amazon-bedrock-samples,
``custom-models/bedrock-fine-tuning/meta-llama/dataset_validation/``) as summarised in
shared/reference/bedrock-llama32.md: per row the ``bedrock-conversation-2024`` schema, roles
``user``/``assistant`` only, alternating from the user to the assistant, no image in an assistant
turn, at most one ``system`` item, non-empty ``content`` ("[] should be non-empty"); per file
train <= 10,000 rows and validation <= 1,000 rows. Plus Bedrock's documented total of 10,000 training +
validation records. Every file tunebot calls usable must pass this.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

MAX_TRAIN_ROWS = 10_000
MAX_VALIDATION_ROWS = 1_000
MAX_TOTAL_RECORDS = 10_000

_TEXT = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
_IMAGE = {
    "type": "object",
    "properties": {
        "image": {
            "type": "object",
            "properties": {
                "format": {"enum": ["gif", "jpeg", "png", "webp"]},
                "source": {
                    "type": "object",
                    "properties": {
                        "s3Location": {
                            "type": "object",
                            "properties": {
                                "uri": {"type": "string", "pattern": "^s3://"},
                                "bucketOwner": {"type": "string"},
                            },
                            "required": ["uri"],
                        }
                    },
                    "required": ["s3Location"],
                },
            },
            "required": ["format", "source"],
        }
    },
    "required": ["image"],
}
RECORD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "schemaVersion": {"const": "bedrock-conversation-2024"},
        "system": {"type": "array", "items": _TEXT, "minItems": 1, "maxItems": 1},
        "messages": {
            "type": "array",
            "minItems": 2,
            "items": {
                "type": "object",
                "properties": {
                    "role": {"enum": ["user", "assistant"]},
                    "content": {"type": "array", "minItems": 1, "items": {"anyOf": [_TEXT, _IMAGE]}},
                },
                "required": ["role", "content"],
            },
        },
    },
    "required": ["messages"],
    "additionalProperties": False,
}
_VALIDATOR = Draft202012Validator(RECORD_SCHEMA)


def row_problems(record: dict[str, Any]) -> list[str]:
    problems = [error.message for error in _VALIDATOR.iter_errors(record)]
    messages = record.get("messages") or []
    roles = [message.get("role") for message in messages]
    if roles and (roles[0] != "user" or roles[-1] != "assistant"):
        problems.append(f"roles {roles}: user first, assistant last")
    if any(a == b for a, b in itertools.pairwise(roles)):
        problems.append(f"roles {roles} do not alternate")
    for message in messages:
        if message.get("role") == "assistant" and any("image" in item for item in message.get("content", [])):
            problems.append("an assistant turn holds an image")
    return problems


def dataset_problems(out_dir: Path) -> list[str]:
    """Every rule train.jsonl and validation.jsonl in ``out_dir`` break (empty: AWS would accept them)."""
    problems: list[str] = []
    counts = {}
    for name, limit in (("train.jsonl", MAX_TRAIN_ROWS), ("validation.jsonl", MAX_VALIDATION_ROWS)):
        lines = (out_dir / name).read_text(encoding="utf-8").splitlines()
        counts[name] = len(lines)
        if len(lines) > limit:
            problems.append(f"{name} has {len(lines)} rows, over {limit}")
        for number, line in enumerate(lines, start=1):
            problems.extend(f"{name}:{number}: {problem}" for problem in row_problems(json.loads(line)))
    if sum(counts.values()) > MAX_TOTAL_RECORDS:
        problems.append(f"{sum(counts.values())} training + validation records, over {MAX_TOTAL_RECORDS}")
    return problems

"""Field accuracy for JSON answers: per key of the reference, SQuAD F1 on text, equality on the rest."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from services.evaluation.metrics.errors import InvalidReference
from services.evaluation.metrics.squad import squad_f1


def _parse_json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _field_score(predicted: object, expected: object) -> float:
    if isinstance(expected, str):
        # Text fields get partial credit like any other answer; a non-string prediction is compared
        # through its JSON spelling, so 12 against "12" still matches.
        predicted_text = predicted if isinstance(predicted, str) else json.dumps(predicted)
        return squad_f1(predicted_text, expected)
    if _is_number(expected) and _is_number(predicted):
        return 1.0 if predicted == expected else 0.0
    canonical = json.dumps(predicted, sort_keys=True) == json.dumps(expected, sort_keys=True)
    return 1.0 if canonical else 0.0


def json_field_scores(prediction: str, reference: Mapping[str, Any]) -> dict[str, float]:
    """Per key of the reference object: SQuAD F1 for string values, equality for the rest (0–1).

    A prediction that is not a JSON object scores 0 on every key; keys the prediction adds are
    ignored; a missing key scores 0. The prediction must be bare JSON (no Markdown fence).
    """
    parsed = _parse_json_object(prediction.strip())
    if parsed is None:
        return {key: 0.0 for key in reference}
    return {
        key: (_field_score(parsed[key], expected) if key in parsed else 0.0)
        for key, expected in reference.items()
    }


def json_field_accuracy(prediction: str, reference: Mapping[str, Any]) -> float:
    """Mean of the per-key scores; an empty reference object only asks for a JSON object."""
    scores = json_field_scores(prediction, reference)
    if not scores:
        return 1.0 if _parse_json_object(prediction.strip()) is not None else 0.0
    return sum(scores.values()) / len(scores)


def parse_json_reference(example_id: str, reference: str) -> dict[str, Any]:
    parsed = _parse_json_object(reference)
    if parsed is None:
        raise InvalidReference(example_id, "the reference is not a JSON object (the json metric needs one)")
    return parsed

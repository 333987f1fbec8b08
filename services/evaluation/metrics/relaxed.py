"""ChartQA relaxed accuracy: numbers within 5 % of the target, anything else matched as text."""

from __future__ import annotations

from collections.abc import Sequence

RELAXED_TOLERANCE = 0.05


def _as_chart_number(text: str) -> float | None:
    """A number as ChartQA reads it: "x%" is x/100; anything float() refuses is not a number."""
    try:
        if text.endswith("%"):
            return float(text.rstrip("%")) / 100
        return float(text)
    except ValueError:
        return None


def relaxed_match(prediction: str, target: str, tolerance: float = RELAXED_TOLERANCE) -> float:
    """ChartQA relaxed correctness of one answer: 1.0 or 0.0.

    Numbers match within `tolerance` relative error, boundary included. A target that is not a
    number, or is zero (relative error is undefined), falls back to a case-insensitive string match,
    as the reference implementation does. Surrounding whitespace is ignored (models often end with a
    newline); that is the one liberty taken.
    """
    prediction, target = prediction.strip(), target.strip()
    predicted_number = _as_chart_number(prediction)
    target_number = _as_chart_number(target)
    if predicted_number is not None and target_number:
        relative_error = abs(predicted_number - target_number) / abs(target_number)
        return 1.0 if relative_error <= tolerance else 0.0
    return 1.0 if prediction.lower() == target.lower() else 0.0


def relaxed_accuracy(prediction: str, references: Sequence[str]) -> float:
    """Relaxed correctness maximised over the references, 0–1."""
    return max((relaxed_match(prediction, reference) for reference in references), default=0.0)

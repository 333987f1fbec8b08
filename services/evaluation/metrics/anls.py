"""DocVQA's ANLS: Average Normalized Levenshtein Similarity, with its 0.5 threshold."""

from __future__ import annotations

from collections.abc import Sequence

ANLS_THRESHOLD = 0.5


def _edit_distance(first: str, second: str) -> int:
    if len(first) < len(second):
        first, second = second, first
    previous = list(range(len(second) + 1))
    for row, first_char in enumerate(first, start=1):
        current = [row]
        for column, second_char in enumerate(second, start=1):
            current.append(
                min(
                    previous[column] + 1,
                    current[column - 1] + 1,
                    previous[column - 1] + (first_char != second_char),
                )
            )
        previous = current
    return previous[-1]


def normalized_levenshtein_similarity(
    prediction: str, reference: str, threshold: float = ANLS_THRESHOLD
) -> float:
    """1 − edit distance / longer length, on lowercased whitespace-collapsed strings.

    A distance ratio above `threshold` scores 0; exactly at the threshold still scores 1 − threshold.
    Two empty strings are identical (1.0).
    """
    prediction = " ".join(prediction.lower().split())
    reference = " ".join(reference.lower().split())
    longest = max(len(prediction), len(reference))
    if longest == 0:
        return 1.0
    distance_ratio = _edit_distance(prediction, reference) / longest
    return 0.0 if distance_ratio > threshold else 1.0 - distance_ratio


def anls(prediction: str, references: Sequence[str], threshold: float = ANLS_THRESHOLD) -> float:
    """Average Normalized Levenshtein Similarity of one answer: the best similarity over references."""
    return max(
        (normalized_levenshtein_similarity(prediction, reference, threshold) for reference in references),
        default=0.0,
    )

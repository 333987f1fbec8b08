"""SQuAD F1 and exact match: the official v1.1 evaluation script's behaviour on every input, and the
v2.0 variant. See reference/metrics.md for the traps users meet ("3.5" equals "35", curly quotes stay,
empty vs empty). Per-example scores are in 0–1."""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable, Sequence

# str.translate with a deletion table does in C what the official script does character by character.
_DELETE_ASCII_PUNCTUATION = str.maketrans("", "", string.punctuation)
# Same pattern as the official script; the group is non-capturing because nothing reads it.
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")

Tokens = tuple[str, ...]


def squad_tokens(text: str) -> Tokens:
    """The tokens SQuAD compares: lowercase, drop ASCII punctuation, articles to spaces, split.

    The order matters and is the official one: "A.B" loses its point before the article rule runs.
    Only `string.punctuation` is removed, so curly quotes and en-dashes survive as (parts of) tokens.
    """
    return tuple(_ARTICLES.sub(" ", text.lower().translate(_DELETE_ASCII_PUNCTUATION)).split())


def normalize_answer(text: str) -> str:
    """The official normalised string: the tokens joined by single spaces."""
    return " ".join(squad_tokens(text))


def _shared_token_count(prediction: Tokens, reference: Tokens) -> int:
    """Size of the multiset intersection (a token counts as often as it appears on both sides)."""
    unmatched: dict[str, int] = {}
    for token in reference:
        unmatched[token] = unmatched.get(token, 0) + 1
    shared = 0
    for token in prediction:
        left = unmatched.get(token, 0)
        if left:
            unmatched[token] = left - 1
            shared += 1
    return shared


def _f1_from_shared(shared: int, prediction_length: int, reference_length: int) -> float:
    # Written as precision and recall, in this order, so the float is bit-identical to the official
    # script's (2PR/(P+R) and 2s/(p+r) can differ in the last bit).
    precision = shared / prediction_length
    recall = shared / reference_length
    return (2 * precision * recall) / (precision + recall)


def squad_v1_token_f1(prediction: Tokens, reference: Tokens) -> float:
    if prediction == reference:
        # Identical non-empty token lists score exactly 1.0; empty vs empty has no overlap, so 0.
        return 1.0 if prediction else 0.0
    shared = _shared_token_count(prediction, reference)
    if shared == 0:
        return 0.0
    return _f1_from_shared(shared, len(prediction), len(reference))


def squad_v2_token_f1(prediction: Tokens, reference: Tokens) -> float:
    if not prediction or not reference:
        # v2.0: an unanswerable question is answered correctly only by saying nothing.
        return 1.0 if prediction == reference else 0.0
    return squad_v1_token_f1(prediction, reference)


def best_over_references(
    prediction: Tokens,
    references: Iterable[Tokens],
    token_f1: Callable[[Tokens, Tokens], float],
) -> tuple[float, float]:
    best_f1 = 0.0
    best_exact = 0.0
    for reference in references:
        if prediction == reference:
            best_exact = 1.0
        f1 = token_f1(prediction, reference)
        if f1 > best_f1:
            best_f1 = f1
        if best_exact == 1.0 and best_f1 == 1.0:
            break  # nothing can score higher
    return best_f1, best_exact


def squad_f1(prediction: str, reference: str) -> float:
    """SQuAD v1.1 token F1 of one prediction against one reference, in 0–1."""
    return squad_v1_token_f1(squad_tokens(prediction), squad_tokens(reference))


def squad_exact_match(prediction: str, reference: str) -> float:
    """1.0 when the normalised strings are equal (comparing token tuples is the same test)."""
    return 1.0 if squad_tokens(prediction) == squad_tokens(reference) else 0.0


def squad_scores(prediction: str, references: Sequence[str]) -> tuple[float, float]:
    """(F1, exact match) of one prediction, maximised over its references, SQuAD v1.1, in 0–1."""
    if not references:
        raise ValueError("SQuAD v1.1 needs at least one reference answer (use squad_v2 for unanswerable)")
    return best_over_references(squad_tokens(prediction), map(squad_tokens, references), squad_v1_token_f1)


def v2_reference_tokens(references: Iterable[Tokens]) -> list[Tokens]:
    # v2.0 drops references that normalise to nothing; with none left the question is unanswerable.
    answerable = [tokens for tokens in references if tokens]
    return answerable or [()]


def squad_v2_scores(prediction: str, references: Sequence[str]) -> tuple[float, float]:
    """(F1, exact match) under SQuAD v2.0: an empty side scores 1 only when both are empty."""
    return best_over_references(
        squad_tokens(prediction), v2_reference_tokens(map(squad_tokens, references)), squad_v2_token_f1
    )

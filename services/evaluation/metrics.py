"""Answer-scoring metrics, as pure functions over strings.

Per-example functions return scores in 0–1; `score_predictions` aggregates a whole test set and reports
means in 0–100, the scale every published figure uses.

- SQuAD F1 / exact match: the official v1.1 evaluation script's behaviour on every input (and the v2.0
  variant on request). See reference/metrics.md for the traps users meet ("3.5" equals "35", curly
  quotes stay, empty vs empty).
- ChartQA relaxed accuracy, VQA accuracy, DocVQA ANLS, and a field accuracy for JSON answers.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import combinations
from typing import Any


class Metric(StrEnum):
    SQUAD = "squad"
    SQUAD_V2 = "squad_v2"
    RELAXED = "relaxed"
    VQA = "vqa"
    ANLS = "anls"
    JSON = "json"


class VqaNormalisation(StrEnum):
    """When VQA answers are normalised before comparison.

    WHEN_ANNOTATORS_DISAGREE is the official VQA evaluation's rule: if all annotators gave the same
    string, answers are compared as typed (after trimming); otherwise they are normalised first.
    ALWAYS normalises every time, which is kinder to a model that writes "Two" for "2".
    """

    WHEN_ANNOTATORS_DISAGREE = "official"
    ALWAYS = "always"


class InvalidReference(ValueError):
    """A reference answer cannot be scored with the chosen metric (e.g. not JSON for `json`)."""

    def __init__(self, example_id: str, message: str) -> None:
        super().__init__(f"example {example_id!r}: {message}")
        self.example_id = example_id


# --------------------------------------------------------------------------------------------------
# SQuAD
# --------------------------------------------------------------------------------------------------

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


def _squad_v1_token_f1(prediction: Tokens, reference: Tokens) -> float:
    if prediction == reference:
        # Identical non-empty token lists score exactly 1.0; empty vs empty has no overlap, so 0.
        return 1.0 if prediction else 0.0
    shared = _shared_token_count(prediction, reference)
    if shared == 0:
        return 0.0
    return _f1_from_shared(shared, len(prediction), len(reference))


def _squad_v2_token_f1(prediction: Tokens, reference: Tokens) -> float:
    if not prediction or not reference:
        # v2.0: an unanswerable question is answered correctly only by saying nothing.
        return 1.0 if prediction == reference else 0.0
    return _squad_v1_token_f1(prediction, reference)


def _best_over_references(
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
    return _squad_v1_token_f1(squad_tokens(prediction), squad_tokens(reference))


def squad_exact_match(prediction: str, reference: str) -> float:
    """1.0 when the normalised strings are equal (comparing token tuples is the same test)."""
    return 1.0 if squad_tokens(prediction) == squad_tokens(reference) else 0.0


def squad_scores(prediction: str, references: Sequence[str]) -> tuple[float, float]:
    """(F1, exact match) of one prediction, maximised over its references, SQuAD v1.1, in 0–1."""
    if not references:
        raise ValueError("SQuAD v1.1 needs at least one reference answer (use squad_v2 for unanswerable)")
    return _best_over_references(squad_tokens(prediction), map(squad_tokens, references), _squad_v1_token_f1)


def _v2_reference_tokens(references: Iterable[Tokens]) -> list[Tokens]:
    # v2.0 drops references that normalise to nothing; with none left the question is unanswerable.
    answerable = [tokens for tokens in references if tokens]
    return answerable or [()]


def squad_v2_scores(prediction: str, references: Sequence[str]) -> tuple[float, float]:
    """(F1, exact match) under SQuAD v2.0: an empty side scores 1 only when both are empty."""
    return _best_over_references(
        squad_tokens(prediction), _v2_reference_tokens(map(squad_tokens, references)), _squad_v2_token_f1
    )


# --------------------------------------------------------------------------------------------------
# ChartQA relaxed accuracy
# --------------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------------
# VQA accuracy
# --------------------------------------------------------------------------------------------------

# Marks the VQA evaluation strips or turns into spaces; apostrophes, colons and periods are not here
# (periods have their own rule, apostrophes belong to contractions).
_VQA_MARKS = ';/[]"{}()=+\\_-><@`,?!'
_THOUSANDS_COMMA = re.compile(r"\d,\d")
_PERIOD_NOT_BEFORE_DIGIT = re.compile(r"\.(?!\d)")
_NUMBER_WORDS = {
    "none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
    "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10",
}  # fmt: skip
_VQA_ARTICLES = frozenset({"a", "an", "the"})
# Contractions spelled in full; the lookup table maps every spelling that dropped some apostrophes back
# to it ("dont", "couldnt've", "couldn'tve" -> "couldn't've"). Spellings that are ordinary words
# ("its", "well", "were", "ill", "shell", ...) are left alone.
_CONTRACTIONS = (
    "ain't", "aren't", "can't", "could've", "couldn't", "couldn't've", "didn't", "doesn't", "don't",
    "hadn't", "hadn't've", "hasn't", "haven't", "he'd", "he'd've", "he'll", "he's", "how'd", "how'll",
    "how's", "i'd", "i'd've", "i'll", "i'm", "i've", "isn't", "it'd", "it'd've", "it'll", "it's",
    "let's", "ma'am", "mightn't", "mightn't've", "might've", "mustn't", "must've", "needn't", "not've",
    "o'clock", "shan't", "she'd", "she'd've", "she'll", "she's", "should've", "shouldn't",
    "shouldn't've", "somebody'd", "somebody'd've", "somebody'll", "somebody's", "someone'd",
    "someone'd've", "someone'll", "someone's", "something'd", "something'd've", "something'll",
    "something's", "that's", "there'd", "there'd've", "there're", "there's", "they'd", "they'd've",
    "they'll", "they're", "they've", "wasn't", "we'd", "we'd've", "we'll", "we're", "we've", "weren't",
    "what'll", "what're", "what's", "what've", "when's", "where'd", "where's", "where've", "who'd",
    "who'd've", "who'll", "who's", "who've", "why'll", "why're", "why's", "won't", "would've",
    "wouldn't", "wouldn't've", "y'all", "y'all'd've", "you'd", "you'd've", "you'll", "you're", "you've",
)  # fmt: skip
_ORDINARY_WORDS = frozenset(
    {"its", "well", "were", "wed", "ill", "id", "hell", "shell", "shed", "lets", "whos"}
)


def _contraction_spellings() -> dict[str, str]:
    table: dict[str, str] = {}
    for full in _CONTRACTIONS:
        apostrophes = [index for index, char in enumerate(full) if char == "'"]
        for dropped_count in range(1, len(apostrophes) + 1):
            for dropped in combinations(apostrophes, dropped_count):
                spelling = "".join(char for index, char in enumerate(full) if index not in dropped)
                if spelling not in _ORDINARY_WORDS:
                    table[spelling] = full
    return table


_CONTRACTION_SPELLINGS = _contraction_spellings()


def vqa_normalize(answer: str) -> str:
    """The VQA evaluation's answer normalisation.

    Marks are deleted when they touch a space or when the answer holds a thousands comma ("1,000"),
    and become spaces otherwise ("black/white" -> "black white"); periods not followed by a digit go
    (so "5." -> "5" but "2.5" stays); then lowercase, number words to digits, articles dropped,
    contractions given their apostrophes.
    """
    source = answer.replace("\n", " ").replace("\t", " ").strip()
    delete_marks = bool(_THOUSANDS_COMMA.search(source))
    text = source
    for mark in _VQA_MARKS:
        if mark not in text:
            continue
        # The official rule tests the answer as it was before any mark was touched.
        replacement = "" if delete_marks or f"{mark} " in source or f" {mark}" in source else " "
        text = text.replace(mark, replacement)
    text = _PERIOD_NOT_BEFORE_DIGIT.sub("", text)
    words = (_NUMBER_WORDS.get(word, word) for word in text.lower().split())
    return " ".join(_CONTRACTION_SPELLINGS.get(word, word) for word in words if word not in _VQA_ARTICLES)


def vqa_accuracy(
    prediction: str,
    annotator_answers: Sequence[str],
    normalisation: VqaNormalisation = VqaNormalisation.WHEN_ANNOTATORS_DISAGREE,
) -> float:
    """VQA accuracy: min(#annotators agreeing / 3, 1), averaged over the leave-one-out subsets.

    With VQAv2's 10 annotators the values are 0, 0.3, 0.6, 0.9 and 1. Annotator answers are
    normalised exactly like the prediction. With a single reference answer there is no subset to
    leave one out of, so it degrades to exact match.
    """

    def trimmed(text: str) -> str:
        return text.replace("\n", " ").replace("\t", " ").strip()

    answers = [trimmed(answer) for answer in annotator_answers]
    predicted = trimmed(prediction)
    if not answers:
        return 0.0
    if normalisation is VqaNormalisation.ALWAYS or len(set(answers)) > 1:
        answers = [vqa_normalize(answer) for answer in answers]
        predicted = vqa_normalize(predicted)
    if len(answers) == 1:
        return 1.0 if answers[0] == predicted else 0.0
    agreeing = sum(1 for answer in answers if answer == predicted)
    subset_scores = [min(1.0, (agreeing - (1 if answer == predicted else 0)) / 3) for answer in answers]
    return sum(subset_scores) / len(subset_scores)


# --------------------------------------------------------------------------------------------------
# ANLS
# --------------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------------
# JSON field accuracy
# --------------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------------
# Aggregation
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExampleScore:
    """One example's score in 0–1. For metrics other than SQuAD `f1` holds the metric's score and
    `exact_match` is 1 when that score is full credit."""

    example_id: str
    f1: float
    exact_match: float
    missing: bool = False


METRIC_DESCRIPTIONS: dict[Metric, str] = {
    Metric.SQUAD: "SQuAD v1.1 F1 and exact match; a missing prediction scores 0",
    Metric.SQUAD_V2: "SQuAD v2.0 F1 and exact match; empty answers allowed, missing predictions skipped",
    Metric.RELAXED: "ChartQA relaxed accuracy (numbers within 5 %, inclusive); f1 holds the accuracy",
    Metric.ANLS: "DocVQA ANLS (threshold 0.5); f1 holds the ANLS",
    Metric.JSON: "JSON field accuracy (per key, F1 on string values); f1 holds the accuracy",
}


def describe_metric(metric: Metric, vqa_normalisation: VqaNormalisation) -> str:
    if metric is Metric.VQA:
        rule = (
            "answers normalised only when annotators disagree (official rule)"
            if vqa_normalisation is VqaNormalisation.WHEN_ANNOTATORS_DISAGREE
            else "answers always normalised"
        )
        return f"VQA accuracy, {rule}; f1 holds the accuracy"
    return METRIC_DESCRIPTIONS[metric]


@dataclass(frozen=True, slots=True)
class ScoreReport:
    """A test set's scores. `f1` and `exact_match` are means in 0–100 over `count` scored examples;
    `missing` counts references without a prediction (scored 0, or skipped under SQuAD v2)."""

    metric: Metric
    description: str
    examples: tuple[ExampleScore, ...]
    f1: float
    exact_match: float
    count: int
    missing: int


def _full_credit(score: float) -> float:
    return 1.0 if score >= 1.0 else 0.0


def _percent_of_mean(scores: Iterable[float], count: int) -> float:
    # A running sum in example order, as the official script accumulates, so totals match it exactly.
    total = 0.0
    for score in scores:
        total += score
    return 100.0 * total / count if count else 0.0


def score_predictions(
    metric: Metric,
    predictions: Mapping[str, str],
    references: Mapping[str, Sequence[str]],
    *,
    vqa_normalisation: VqaNormalisation = VqaNormalisation.WHEN_ANNOTATORS_DISAGREE,
) -> ScoreReport:
    """Score every referenced example (in the references' order); predictions without a reference
    are ignored, as the official script does."""
    scored: list[ExampleScore] = []
    missing = 0
    # Normalised texts are reused: short answers ("yes", "2") and shared references repeat across a
    # test set. The cache lives for one call, so memory stays bounded by the input.
    token_cache: dict[str, Tokens] = {}

    def tokens_of(text: str) -> Tokens:
        cached = token_cache.get(text)
        if cached is None:
            cached = token_cache[text] = squad_tokens(text)
        return cached

    if metric is Metric.JSON:
        # A reference that is not JSON is a broken test set, whether or not it was predicted.
        for example_id, answers in references.items():
            for text in answers:
                parse_json_reference(example_id, text)

    for example_id, answers in references.items():
        prediction = predictions.get(example_id)
        if prediction is None:
            missing += 1
            if metric is not Metric.SQUAD_V2:
                scored.append(ExampleScore(example_id, 0.0, 0.0, missing=True))
            continue
        if metric is Metric.SQUAD:
            if not answers:
                raise InvalidReference(example_id, "no reference answer (SQuAD v1.1 needs one; try squad_v2)")
            f1, exact = _best_over_references(
                tokens_of(prediction), map(tokens_of, answers), _squad_v1_token_f1
            )
        elif metric is Metric.SQUAD_V2:
            reference_tokens = _v2_reference_tokens(map(tokens_of, answers))
            f1, exact = _best_over_references(tokens_of(prediction), reference_tokens, _squad_v2_token_f1)
        else:
            f1 = _single_score(metric, example_id, prediction, answers, vqa_normalisation)
            exact = _full_credit(f1)
        scored.append(ExampleScore(example_id, f1, exact))

    return ScoreReport(
        metric=metric,
        description=describe_metric(metric, vqa_normalisation),
        examples=tuple(scored),
        f1=_percent_of_mean((example.f1 for example in scored), len(scored)),
        exact_match=_percent_of_mean((example.exact_match for example in scored), len(scored)),
        count=len(scored),
        missing=missing,
    )


def _single_score(
    metric: Metric,
    example_id: str,
    prediction: str,
    answers: Sequence[str],
    vqa_normalisation: VqaNormalisation,
) -> float:
    if not answers:
        raise InvalidReference(example_id, "no reference answer")
    if metric is Metric.RELAXED:
        return relaxed_accuracy(prediction, answers)
    if metric is Metric.VQA:
        return vqa_accuracy(prediction, answers, vqa_normalisation)
    if metric is Metric.ANLS:
        return anls(prediction, answers)
    if metric is Metric.JSON:
        return max(
            json_field_accuracy(prediction, parse_json_reference(example_id, text)) for text in answers
        )
    raise AssertionError(f"unhandled metric {metric}")  # pragma: no cover - the enum is exhaustive

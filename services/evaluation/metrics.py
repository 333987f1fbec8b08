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

    WHEN_ANNOTATORS_DISAGREE is the official VQA evaluation's rule (GT-Vision-Lab/VQA since commit
    a013f00, 2021): if all annotators gave the same string, answers are compared as typed (after
    trimming); otherwise prediction and answers are normalised first. ALWAYS is the rule before that
    commit, still in many evaluation frameworks: the prediction is always normalised, the answers get
    punctuation processing only when they disagree (so "Yes" against ten "yes" scores 1).
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

# The tables and rules of GT-Vision-Lab/VQA, PythonEvaluationTools/vqaEvaluation/vqaEval.py (commit
# a013f00), copied as they are: including keys that can never match because answers are lowercased
# first ("Im", "Ive", "Id've"), identity entries ("she's", "let's") and the one mapping that drops an
# apostrophe ("somebody'd" -> "somebodyd"). Do not "fix" them: scores must equal the official code's.
VQA_CONTRACTIONS: dict[str, str] = {
    "aint": "ain't", "arent": "aren't", "cant": "can't", "couldve": "could've", "couldnt": "couldn't",
    "couldn'tve": "couldn't've", "couldnt've": "couldn't've", "didnt": "didn't", "doesnt": "doesn't",
    "dont": "don't", "hadnt": "hadn't", "hadnt've": "hadn't've", "hadn'tve": "hadn't've",
    "hasnt": "hasn't", "havent": "haven't", "hed": "he'd", "hed've": "he'd've", "he'dve": "he'd've",
    "hes": "he's", "howd": "how'd", "howll": "how'll", "hows": "how's", "Id've": "I'd've",
    "I'dve": "I'd've", "Im": "I'm", "Ive": "I've", "isnt": "isn't", "itd": "it'd", "itd've": "it'd've",
    "it'dve": "it'd've", "itll": "it'll", "let's": "let's", "maam": "ma'am", "mightnt": "mightn't",
    "mightnt've": "mightn't've", "mightn'tve": "mightn't've", "mightve": "might've", "mustnt": "mustn't",
    "mustve": "must've", "neednt": "needn't", "notve": "not've", "oclock": "o'clock",
    "oughtnt": "oughtn't", "ow's'at": "'ow's'at", "'ows'at": "'ow's'at", "'ow'sat": "'ow's'at",
    "shant": "shan't", "shed've": "she'd've", "she'dve": "she'd've", "she's": "she's",
    "shouldve": "should've", "shouldnt": "shouldn't", "shouldnt've": "shouldn't've",
    "shouldn'tve": "shouldn't've", "somebody'd": "somebodyd", "somebodyd've": "somebody'd've",
    "somebody'dve": "somebody'd've", "somebodyll": "somebody'll", "somebodys": "somebody's",
    "someoned": "someone'd", "someoned've": "someone'd've", "someone'dve": "someone'd've",
    "someonell": "someone'll", "someones": "someone's", "somethingd": "something'd",
    "somethingd've": "something'd've", "something'dve": "something'd've", "somethingll": "something'll",
    "thats": "that's", "thered": "there'd", "thered've": "there'd've", "there'dve": "there'd've",
    "therere": "there're", "theres": "there's", "theyd": "they'd", "theyd've": "they'd've",
    "they'dve": "they'd've", "theyll": "they'll", "theyre": "they're", "theyve": "they've",
    "twas": "'twas", "wasnt": "wasn't", "wed've": "we'd've", "we'dve": "we'd've", "weve": "we've",
    "werent": "weren't", "whatll": "what'll", "whatre": "what're", "whats": "what's",
    "whatve": "what've", "whens": "when's", "whered": "where'd", "wheres": "where's",
    "whereve": "where've", "whod": "who'd", "whod've": "who'd've", "who'dve": "who'd've",
    "wholl": "who'll", "whos": "who's", "whove": "who've", "whyll": "why'll", "whyre": "why're",
    "whys": "why's", "wont": "won't", "wouldve": "would've", "wouldnt": "wouldn't",
    "wouldnt've": "wouldn't've", "wouldn'tve": "wouldn't've", "yall": "y'all", "yall'll": "y'all'll",
    "y'allll": "y'all'll", "yall'd've": "y'all'd've", "y'alld've": "y'all'd've",
    "y'all'dve": "y'all'd've", "youd": "you'd", "youd've": "you'd've", "you'dve": "you'd've",
    "youll": "you'll", "youre": "you're", "youve": "you've",
}  # fmt: skip
VQA_MANUAL_MAP: dict[str, str] = {
    "none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
    "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10",
}  # fmt: skip
VQA_ARTICLES = ("a", "an", "the")
VQA_PUNCT = (
    ";",
    "/",
    "[",
    "]",
    '"',
    "{",
    "}",
    "(",
    ")",
    "=",
    "+",
    "\\",
    "_",
    "-",
    ">",
    "<",
    "@",
    "`",
    ",",
    "?",
    "!",
)
# The official pattern, "(?!<=\d)(\.)(?!\d)", meant a lookbehind but is a lookahead that always holds:
# every period not followed by a digit goes.
_VQA_PERIOD_STRIP = re.compile(r"(?!<=\d)(\.)(?!\d)")
_VQA_COMMA_STRIP = re.compile(r"(\d)(\,)(\d)")
# The official call is periodStrip.sub("", text, re.UNICODE): the flag lands in ``count``, so at most
# re.UNICODE (32) periods are removed.
_VQA_PERIODS_REMOVED = int(re.UNICODE)


def vqa_process_punctuation(text: str) -> str:
    """vqaEval.py's processPunctuation: a mark touching a space, or any mark when the text holds a
    thousands comma, is deleted; otherwise it becomes a space; then periods not before a digit go."""
    out = text
    thousands = _VQA_COMMA_STRIP.search(text) is not None
    for mark in VQA_PUNCT:
        if f"{mark} " in text or f" {mark}" in text or thousands:
            out = out.replace(mark, "")
        else:
            out = out.replace(mark, " ")
    return _VQA_PERIOD_STRIP.sub("", out, count=_VQA_PERIODS_REMOVED)


def vqa_process_digit_article(text: str) -> str:
    """vqaEval.py's processDigitArticle: lowercase, split on whitespace, number words to digits,
    articles dropped, then the contractions table."""
    words = [VQA_MANUAL_MAP.get(word, word) for word in text.lower().split()]
    kept = [word for word in words if word not in VQA_ARTICLES]
    return " ".join(VQA_CONTRACTIONS.get(word, word) for word in kept)


def _vqa_trim(text: str) -> str:
    return text.replace("\n", " ").replace("\t", " ").strip()


def vqa_normalize(answer: str) -> str:
    """An answer as the official evaluation compares it when it normalises: trimmed, punctuation
    processed, then digits, articles and contractions."""
    return vqa_process_digit_article(vqa_process_punctuation(_vqa_trim(answer)))


def vqa_accuracy(
    prediction: str,
    annotator_answers: Sequence[str],
    normalisation: VqaNormalisation = VqaNormalisation.WHEN_ANNOTATORS_DISAGREE,
) -> float:
    """VQA accuracy: min(#other annotators agreeing / 3, 1), averaged over the leave-one-out subsets.

    WHEN_ANNOTATORS_DISAGREE is vqaEval.py since a013f00: answers and prediction are trimmed; both are
    normalised only when the answers are not all the same. ALWAYS is the rule before it (and of the
    many frameworks copied from it): the prediction is always trimmed and normalised; the answers are
    left as they are, or given processPunctuation only, when they disagree. With a single reference
    there is no subset to leave one out of, so it degrades to exact match.
    """
    if not annotator_answers:
        return 0.0
    if normalisation is VqaNormalisation.WHEN_ANNOTATORS_DISAGREE:
        answers = [_vqa_trim(answer) for answer in annotator_answers]
        predicted = _vqa_trim(prediction)
        if len(set(answers)) > 1:
            answers = [vqa_process_digit_article(vqa_process_punctuation(answer)) for answer in answers]
            predicted = vqa_process_digit_article(vqa_process_punctuation(predicted))
    else:
        predicted = vqa_normalize(prediction)
        answers = list(annotator_answers)
        if len(set(answers)) > 1:
            answers = [vqa_process_punctuation(answer) for answer in answers]
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
            "answers normalised only when annotators disagree (official rule, GT-Vision-Lab/VQA since 2021)"
            if vqa_normalisation is VqaNormalisation.WHEN_ANNOTATORS_DISAGREE
            else "prediction always normalised, answers' punctuation only when annotators disagree "
            "(the official rule before 2021)"
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

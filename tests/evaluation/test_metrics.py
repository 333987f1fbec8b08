"""Given a prediction and its references, each metric scores the way its published definition says,
including every trap listed in reference/metrics.md."""

from __future__ import annotations

import random
import re
import string
from collections import Counter

import pytest

from services.evaluation.metrics import (
    InvalidReference,
    Metric,
    VqaNormalisation,
    anls,
    json_field_accuracy,
    json_field_scores,
    normalize_answer,
    normalized_levenshtein_similarity,
    relaxed_accuracy,
    relaxed_match,
    score_predictions,
    squad_exact_match,
    squad_f1,
    squad_scores,
    squad_v2_scores,
    vqa_accuracy,
    vqa_normalize,
)

# ------------------------------------------------------------------------------------------- SQuAD


@pytest.mark.parametrize(
    ("prediction", "reference", "f1", "exact"),
    [
        ("3.5", "35", 1.0, 1.0),  # the point is punctuation: it goes before tokens exist
        ("well-known", "well known", 0.0, 0.0),  # the hyphen joins: one token against two
        ("“quoted”", "quoted", 0.0, 0.0),  # curly quotes are not ASCII punctuation
        ('"quoted"', "quoted", 1.0, 1.0),  # straight quotes are
        ("1–2", "1-2", 0.0, 0.0),  # en-dash stays, hyphen goes: "1–2" against "12"
        ("The Eiffel Tower", "eiffel tower", 1.0, 1.0),
        ("an apple", "apple", 1.0, 1.0),
        ("the.", "", 0.0, 1.0),  # punctuation first, so "the" is then an article; empty vs empty
        ("Zürich", "zürich", 1.0, 1.0),
        ("café", "cafe", 0.0, 0.0),  # no accent folding
        ("two", "2", 0.0, 0.0),  # no number-word folding
        ("", "", 0.0, 1.0),  # v1.1: no overlap means F1 0, yet the normalised strings are equal
        ("", "answer", 0.0, 0.0),
        ("theatre", "atre", 0.0, 0.0),  # articles only as whole words
    ],
)
def test_squad_v1_traps(prediction: str, reference: str, f1: float, exact: float) -> None:
    assert squad_f1(prediction, reference) == f1
    assert squad_exact_match(prediction, reference) == exact


def test_squad_f1_is_token_overlap_with_precision_and_recall() -> None:
    # prediction tokens: cat sat on mat (4); reference: cat on mat (3); overlap 3 -> P 3/4, R 1
    assert squad_f1("The cat sat on the mat.", "cat on the mat") == pytest.approx(2 * 0.75 * 1 / 1.75)


def test_squad_f1_rounds_exactly_like_the_official_arithmetic() -> None:
    # 2PR/(P+R) with P = 1, R = 1/5 lands one ulp above 1/3; the algebraically equal 2s/(p+r) does not.
    assert squad_f1("cat", "cat dog emu fox gnu") == 0.33333333333333337
    assert squad_f1("cat", "cat dog emu fox gnu") != 1 / 3


def test_squad_overlap_counts_repeated_tokens_once_per_occurrence() -> None:
    # "no no no" against "no": overlap 1 -> P 1/3, R 1 -> F1 0.5
    assert squad_f1("no no no", "no") == 0.5


def test_squad_takes_the_best_reference_for_f1_and_for_exact_match_independently() -> None:
    # "blue red" has every token (F1 1) but the wrong order (no exact match); nothing matches exactly.
    assert squad_scores("red blue", ["blue red", "red blue green"]) == (1.0, 0.0)
    assert squad_scores("blue car", ["red car", "blue car"]) == (1.0, 1.0)
    f1, exact = squad_scores("car", ["red car", "big red car"])
    assert f1 == pytest.approx(2 / 3)
    assert exact == 0.0


def test_normalised_string_matches_the_official_steps() -> None:
    assert normalize_answer("  The  Quick, brown FOX!  ") == "quick brown fox"
    assert normalize_answer("a’b") == "’b"  # the article rule sees a boundary at the curly apostrophe


def test_squad_v1_needs_a_reference() -> None:
    with pytest.raises(ValueError, match="at least one reference"):
        squad_scores("anything", [])


@pytest.mark.parametrize(
    ("prediction", "references", "f1", "exact"),
    [
        ("", [""], 1.0, 1.0),  # v2: unanswerable answered by silence
        ("", [], 1.0, 1.0),
        ("", ["the", "a"], 1.0, 1.0),  # references that normalise to nothing are dropped
        ("Paris", [""], 0.0, 0.0),
        ("", ["Paris"], 0.0, 0.0),
        ("", ["the", "Paris"], 0.0, 0.0),
        ("Paris France", ["Paris"], pytest.approx(2 / 3), 0.0),
    ],
)
def test_squad_v2_empty_handling(prediction: str, references: list[str], f1: float, exact: float) -> None:
    assert squad_v2_scores(prediction, references) == (f1, exact)


def _official_normalise(text: str) -> str:
    """The official v1.1 normalisation written out step by step, to check the fast path against."""
    text = text.lower()
    text = "".join(char for char in text if char not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def _official_f1(prediction: str, reference: str) -> float:
    predicted, expected = _official_normalise(prediction).split(), _official_normalise(reference).split()
    shared = sum((Counter(predicted) & Counter(expected)).values())
    if shared == 0:
        return 0.0
    precision, recall = 1.0 * shared / len(predicted), 1.0 * shared / len(expected)
    return (2 * precision * recall) / (precision + recall)


def test_fast_squad_is_bit_identical_to_the_official_steps_on_awkward_text() -> None:
    # Pieces chosen to hit every step: case folding that changes length (İ), non-ASCII punctuation,
    # underscores (ASCII punctuation but a regex word character), articles glued to symbols, odd spaces.
    pieces = [
        "a", "an", "the", "A", "The", "AN", "cat", "3.5", "35", "_", "-", "–", "—", "’", "'", "“", ".",
        ",", " ", "  ", "\t", "\u00a0", "\u2028", "İ", "ß", "Σ", "é", "½", "١", "the_", "a-b", "an’",
        "x", "y", "théâtre", "%", "(", ")", "a.m.", "U.S.", "well-known", "well", "known",
    ]  # fmt: skip
    rng = random.Random(7)
    for _ in range(3000):
        prediction = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))
        references = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 8))) for _ in range(2)]
        expected_f1 = max(_official_f1(prediction, reference) for reference in references)
        normalised = _official_normalise(prediction)
        expected_exact = max(float(normalised == _official_normalise(reference)) for reference in references)
        assert squad_scores(prediction, references) == (expected_f1, expected_exact), (prediction, references)
        assert normalize_answer(prediction) == _official_normalise(prediction)


# ------------------------------------------------------------------------------------------ ChartQA


@pytest.mark.parametrize(
    ("prediction", "target", "correct"),
    [
        ("10.5", "10", 1.0),  # exactly 5 % above: the boundary is inclusive
        ("9.5", "10", 1.0),  # exactly 5 % below
        ("105", "100", 1.0),
        ("10.51", "10", 0.0),
        ("94.9", "100", 0.0),
        ("-10.4", "-10", 1.0),  # relative to |target|
        ("0.45", "45%", 1.0),  # "x%" reads as x/100
        ("45%", "0.45", 1.0),
        ("45", "45%", 0.0),  # 45 is not 0.45
        ("0", "0", 1.0),  # a zero target is compared as a string...
        ("0.0", "0", 0.0),  # ...so numerically equal spellings fail
        ("0.01", "0", 0.0),
        ("Yes", "yes", 1.0),  # strings: case-insensitive exact match
        ("yes\n", "yes", 1.0),  # surrounding whitespace ignored
        ("1,000", "1000", 0.0),  # float() refuses the comma, and the strings differ
        ("ten", "10", 0.0),
    ],
)
def test_chartqa_relaxed_match(prediction: str, target: str, correct: float) -> None:
    assert relaxed_match(prediction, target) == correct


def test_chartqa_takes_the_best_reference() -> None:
    assert relaxed_accuracy("12", ["20", "12.4"]) == 1.0
    assert relaxed_accuracy("12", ["20", "30"]) == 0.0


# ---------------------------------------------------------------------------------------------- VQA


@pytest.mark.parametrize(
    ("agreeing", "expected"), [(0, 0.0), (1, 0.3), (2, 0.6), (3, 0.9), (4, 1.0), (10, 1.0)]
)
def test_vqa_accuracy_averages_the_ten_leave_one_out_subsets(agreeing: int, expected: float) -> None:
    annotators = ["cat"] * agreeing + ["dog"] * (10 - agreeing)
    assert vqa_accuracy("cat", annotators) == pytest.approx(expected)


def test_vqa_official_rule_normalises_only_when_annotators_disagree() -> None:
    unanimous = ["yes"] * 10
    assert vqa_accuracy("Yes", unanimous) == 0.0
    assert vqa_accuracy("Yes", unanimous, VqaNormalisation.ALWAYS) == 1.0
    disagreeing = ["2"] * 3 + ["3"] * 7
    assert vqa_accuracy("Two.", disagreeing) == pytest.approx(0.9)


@pytest.mark.parametrize(
    ("answer", "normalised"),
    [
        ("Two dogs", "2 dogs"),
        ("black/white", "black white"),  # a mark between words becomes a space
        ("red, blue", "red blue"),  # a mark touching a space is deleted
        ("1,000", "1000"),  # a thousands comma deletes every mark
        ("The dog.", "dog"),
        ("2.5", "2.5"),  # a period before a digit stays
        ("dont", "don't"),
        ("couldnt've", "couldn't've"),
        ("its", "its"),  # an ordinary word, not a contraction
        ("  left\tside\n", "left side"),
    ],
)
def test_vqa_normalisation(answer: str, normalised: str) -> None:
    assert vqa_normalize(answer) == normalised


def test_vqa_with_one_reference_is_exact_match() -> None:
    assert vqa_accuracy("cat", ["cat"]) == 1.0
    assert vqa_accuracy("dog", ["cat"]) == 0.0


# --------------------------------------------------------------------------------------------- ANLS


@pytest.mark.parametrize(
    ("prediction", "reference", "expected"),
    [
        ("TOTAL", "total", 1.0),  # lowercased first
        ("abcx", "abcd", 0.75),
        ("abxy", "abcd", 0.5),  # distance ratio exactly 0.5 is not above the threshold
        ("abxyz", "abcde", 0.0),  # 0.6 is: scored 0, not 0.4
        ("", "", 1.0),
        ("", "abc", 0.0),
    ],
)
def test_anls_similarity_and_threshold(prediction: str, reference: str, expected: float) -> None:
    assert normalized_levenshtein_similarity(prediction, reference) == pytest.approx(expected)


def test_anls_takes_the_best_reference() -> None:
    assert anls("invoice 42", ["receipt", "Invoice 42"]) == 1.0


# --------------------------------------------------------------------------------------------- JSON


def test_json_fields_score_strings_by_f1_and_the_rest_by_equality() -> None:
    reference = {"vendor": "Acme Corp", "total": 12.5, "paid": True, "items": [1, 2], "note": "late"}
    prediction = '{"vendor": "Acme", "total": 12.50, "paid": 1, "items": [1, 2], "extra": "ignored"}'
    assert json_field_scores(prediction, reference) == {
        "vendor": pytest.approx(2 / 3),  # one of two tokens, all of one: P 1, R 1/2
        "total": 1.0,
        "paid": 0.0,  # 1 is not true
        "items": 1.0,
        "note": 0.0,  # missing key
    }
    assert json_field_accuracy(prediction, reference) == pytest.approx((2 / 3 + 1 + 0 + 1 + 0) / 5)


@pytest.mark.parametrize(
    "prediction", ["not json", "[1, 2]", '["a"]', '```json\n{"a": "x"}\n```', '{"a": "x"', '"x"']
)
def test_unparseable_json_scores_zero_on_every_key(prediction: str) -> None:
    assert json_field_scores(prediction, {"a": "x", "b": 1}) == {"a": 0.0, "b": 0.0}


def test_json_number_prediction_for_a_string_field_compares_its_spelling() -> None:
    assert json_field_scores('{"year": 2024}', {"year": "2024"}) == {"year": 1.0}


# ------------------------------------------------------------------------------------- aggregation


def test_squad_aggregate_counts_missing_predictions_as_zero() -> None:
    report = score_predictions(
        Metric.SQUAD,
        {"q1": "Paris", "q2": "the cat", "unknown": "ignored"},
        {"q1": ["Paris"], "q2": ["a dog", "cat"], "q3": ["Rome"]},
    )
    assert (report.count, report.missing) == (3, 1)
    assert report.f1 == pytest.approx(100 * 2 / 3)
    assert report.exact_match == pytest.approx(100 * 2 / 3)
    assert [example.missing for example in report.examples] == [False, False, True]
    assert "v1.1" in report.description


def test_squad_v2_aggregate_skips_missing_predictions() -> None:
    report = score_predictions(Metric.SQUAD_V2, {"q1": "", "q2": "x"}, {"q1": [], "q2": ["y"], "q3": ["z"]})
    assert (report.count, report.missing) == (2, 1)
    assert (report.f1, report.exact_match) == (50.0, 50.0)


def test_squad_aggregate_rejects_an_example_without_reference() -> None:
    with pytest.raises(InvalidReference, match="q1"):
        score_predictions(Metric.SQUAD, {"q1": "x"}, {"q1": []})


def test_other_metrics_report_their_score_as_f1_and_full_credit_as_exact_match() -> None:
    annotators = ["cat"] * 3 + ["dog"] * 7
    report = score_predictions(Metric.VQA, {"q1": "cat", "q2": "dog"}, {"q1": annotators, "q2": annotators})
    assert report.f1 == pytest.approx(100 * (0.9 + 1.0) / 2)
    assert report.exact_match == 50.0
    assert "only when annotators disagree" in report.description
    always = score_predictions(Metric.VQA, {}, {"q": ["x"]}, vqa_normalisation=VqaNormalisation.ALWAYS)
    assert "always normalised" in always.description

    relaxed = score_predictions(Metric.RELAXED, {"a": "10.4", "b": "7"}, {"a": ["10"], "b": ["9"]})
    assert (relaxed.f1, relaxed.exact_match) == (50.0, 50.0)
    assert score_predictions(Metric.ANLS, {"a": "abcx"}, {"a": ["abcd", "zzzz"]}).f1 == pytest.approx(75.0)


def test_json_aggregate_takes_the_best_reference_and_names_a_bad_one() -> None:
    report = score_predictions(Metric.JSON, {"a": '{"k": "v"}'}, {"a": ['{"k": "w"}', '{"k": "v"}']})
    assert report.f1 == 100.0
    with pytest.raises(InvalidReference, match=r"'a'.*not a JSON object") as caught:
        score_predictions(Metric.JSON, {"a": "{}"}, {"a": ["plain text"]})
    assert caught.value.example_id == "a"
    with pytest.raises(InvalidReference, match="'b'"):
        score_predictions(Metric.JSON, {}, {"b": ["not json either"]})  # checked even when unpredicted


# The official code: GT-Vision-Lab/VQA, PythonEvaluationTools/vqaEvaluation/vqaEval.py. Expected values
# below are what its processPunctuation / processDigitArticle / evaluate return (read from commit
# a013f00 for the current rule and from its parent for the pre-2021 one).


@pytest.mark.parametrize(
    ("answer", "official"),
    [
        ("whos", "who's"),  # in the official table; tunebot's old one missed it
        ("twas", "'twas"),
        ("oughtnt", "oughtn't"),
        ("im", "im"),  # the table's key is "Im", and answers are lowercased first: never expanded
        ("ive", "ive"),
        ("shes", "shes"),  # only the identity entry "she's" exists
        ("somebody'd", "somebodyd"),  # the official table's one apostrophe-dropping entry
        ("hed", "he'd"),
        ("its", "its"),
    ],
)
def test_vqa_contractions_are_the_official_table(answer: str, official: str) -> None:
    assert vqa_normalize(answer) == official


def test_vqa_period_strip_removes_at_most_32_periods_like_the_official_call() -> None:
    # periodStrip.sub("", outText, re.UNICODE) passes re.UNICODE (32) as the count.
    assert vqa_normalize("." * 40) == "." * 8
    assert vqa_normalize("end.") == "end" and vqa_normalize("2.5") == "2.5"


def test_vqa_punctuation_rules_of_the_official_code() -> None:
    assert vqa_normalize("a\\b") == "b"  # backslash becomes a space, then the article goes
    assert vqa_normalize("yes!") == "yes"
    assert vqa_normalize("black-and-white") == "black and white"
    assert vqa_normalize("10,000 people, roughly") == "10000 people roughly"  # a thousands comma deletes all


def test_vqa_the_two_rules_on_the_official_codes_own_behaviour() -> None:
    unanimous = ["yes"] * 10
    padded = [" yes"] * 10
    # Since a013f00: trimmed always; normalised only when the answers disagree.
    assert vqa_accuracy("Yes", unanimous) == 0.0
    assert vqa_accuracy(" yes\n", unanimous) == 1.0
    assert vqa_accuracy("yes", padded) == 1.0
    # Before it: the prediction always normalised; unanimous answers untouched (not even trimmed).
    assert vqa_accuracy("Yes", unanimous, VqaNormalisation.ALWAYS) == 1.0
    assert vqa_accuracy("yes", padded, VqaNormalisation.ALWAYS) == 0.0
    # ... and disagreeing answers get punctuation only, never digits or articles.
    disagreeing = ["two"] * 4 + ["2"] * 6
    assert vqa_accuracy("two", disagreeing) == 1.0  # current rule: "two" -> "2" on both sides
    assert vqa_accuracy("two", disagreeing, VqaNormalisation.ALWAYS) == 1.0  # prediction "2" meets six "2"
    assert vqa_accuracy("2", ["the cat"] * 3 + ["dog"] * 7, VqaNormalisation.ALWAYS) == 0.0
    assert vqa_accuracy("The cat", ["the cat"] * 3 + ["dog"] * 7, VqaNormalisation.ALWAYS) == 0.0
    assert vqa_accuracy("The cat", ["the cat"] * 3 + ["dog"] * 7) == pytest.approx(0.9)

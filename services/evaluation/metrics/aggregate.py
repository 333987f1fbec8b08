"""A whole test set's score under one metric: per-example scores in 0–1, means in 0–100 (the scale every
published figure uses)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from services.evaluation.metrics.anls import anls
from services.evaluation.metrics.errors import InvalidReference
from services.evaluation.metrics.json_fields import json_field_accuracy, parse_json_reference
from services.evaluation.metrics.relaxed import relaxed_accuracy
from services.evaluation.metrics.squad import (
    Tokens,
    best_over_references,
    squad_tokens,
    squad_v1_token_f1,
    squad_v2_token_f1,
    v2_reference_tokens,
)
from services.evaluation.metrics.vqa import VqaNormalisation, vqa_accuracy


class Metric(StrEnum):
    SQUAD = "squad"
    SQUAD_V2 = "squad_v2"
    RELAXED = "relaxed"
    VQA = "vqa"
    ANLS = "anls"
    JSON = "json"


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
            f1, exact = best_over_references(
                tokens_of(prediction), map(tokens_of, answers), squad_v1_token_f1
            )
        elif metric is Metric.SQUAD_V2:
            reference_tokens = v2_reference_tokens(map(tokens_of, answers))
            f1, exact = best_over_references(tokens_of(prediction), reference_tokens, squad_v2_token_f1)
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

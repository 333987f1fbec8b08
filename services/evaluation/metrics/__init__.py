"""Answer-scoring metrics, as pure functions over strings; one module per metric family.

Per-example functions return scores in 0–1; `score_predictions` (``aggregate``) scores a whole test set
and reports means in 0–100, the scale every published figure uses.

- ``squad``: SQuAD F1 / exact match, the official v1.1 script's behaviour (and v2.0 on request).
- ``relaxed``: ChartQA relaxed accuracy. ``vqa``: VQA accuracy with the official normalisation.
- ``anls``: DocVQA ANLS. ``json_fields``: a field accuracy for JSON answers.
- ``aggregate``: the `Metric` choice and a test set's `ScoreReport`.

Callers import from this package; the modules are its inside.
"""

from __future__ import annotations

from services.evaluation.metrics.aggregate import (
    METRIC_DESCRIPTIONS,
    ExampleScore,
    Metric,
    ScoreReport,
    describe_metric,
    score_predictions,
)
from services.evaluation.metrics.anls import ANLS_THRESHOLD, anls, normalized_levenshtein_similarity
from services.evaluation.metrics.errors import InvalidReference
from services.evaluation.metrics.json_fields import (
    json_field_accuracy,
    json_field_scores,
    parse_json_reference,
)
from services.evaluation.metrics.relaxed import RELAXED_TOLERANCE, relaxed_accuracy, relaxed_match
from services.evaluation.metrics.squad import (
    normalize_answer,
    squad_exact_match,
    squad_f1,
    squad_scores,
    squad_tokens,
    squad_v2_scores,
)
from services.evaluation.metrics.vqa import (
    VQA_ARTICLES,
    VQA_CONTRACTIONS,
    VQA_MANUAL_MAP,
    VQA_PUNCT,
    VqaNormalisation,
    vqa_accuracy,
    vqa_normalize,
    vqa_process_digit_article,
    vqa_process_punctuation,
)

__all__ = [
    "ANLS_THRESHOLD",
    "METRIC_DESCRIPTIONS",
    "RELAXED_TOLERANCE",
    "VQA_ARTICLES",
    "VQA_CONTRACTIONS",
    "VQA_MANUAL_MAP",
    "VQA_PUNCT",
    "ExampleScore",
    "InvalidReference",
    "Metric",
    "ScoreReport",
    "VqaNormalisation",
    "anls",
    "describe_metric",
    "json_field_accuracy",
    "json_field_scores",
    "normalize_answer",
    "normalized_levenshtein_similarity",
    "parse_json_reference",
    "relaxed_accuracy",
    "relaxed_match",
    "score_predictions",
    "squad_exact_match",
    "squad_f1",
    "squad_scores",
    "squad_tokens",
    "squad_v2_scores",
    "vqa_accuracy",
    "vqa_normalize",
    "vqa_process_digit_article",
    "vqa_process_punctuation",
]

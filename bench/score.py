"""Benchmark: SQuAD v1.1 F1 over 200,000 generated pairs, tunebot vs the official script's logic.

Run: `.venv/bin/python bench/score.py [--pairs N] [--repeats R]`. Both scorers run in the same process
on the same data, alternately, and the best time of each is kept. Every per-example F1 and exact match
must be identical, and so must the totals. Results go to bench/results/score.json.
Target: tunebot time / official time <= 1.0.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import string
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

from services.evaluation.metrics import Metric, score_predictions

# --------------------------------------------------------------------------------------------------
# The official v1.1 logic, transcribed plainly from its definition (reference/metrics.md): the same
# four normalisation steps in the same order, Counter intersection, max over references, running sums.
# --------------------------------------------------------------------------------------------------


def official_normalise(text: str) -> str:
    lowered = text.lower()
    punctuation = set(string.punctuation)
    without_punctuation = "".join(char for char in lowered if char not in punctuation)
    without_articles = re.sub(r"\b(a|an|the)\b", " ", without_punctuation)
    return " ".join(without_articles.split())


def official_f1(prediction: str, reference: str) -> float:
    prediction_tokens = official_normalise(prediction).split()
    reference_tokens = official_normalise(reference).split()
    common = Counter(prediction_tokens) & Counter(reference_tokens)
    same = sum(common.values())
    if same == 0:
        return 0
    precision = 1.0 * same / len(prediction_tokens)
    recall = 1.0 * same / len(reference_tokens)
    return (2 * precision * recall) / (precision + recall)


def official_exact(prediction: str, reference: str) -> bool:
    return official_normalise(prediction) == official_normalise(reference)


def official_best(score: Callable[[str, str], float], prediction: str, references: Sequence[str]) -> float:
    return max(score(prediction, reference) for reference in references)


def official_evaluate(
    predictions: Mapping[str, str], references: Mapping[str, Sequence[str]]
) -> tuple[float, float, list[tuple[float, float]]]:
    f1_total = exact_total = 0.0
    per_example: list[tuple[float, float]] = []
    for example_id, answers in references.items():
        if example_id not in predictions:
            per_example.append((0.0, 0.0))
            continue
        prediction = predictions[example_id]
        exact = official_best(official_exact, prediction, answers)
        f1 = official_best(official_f1, prediction, answers)
        exact_total += exact
        f1_total += f1
        per_example.append((float(f1), float(exact)))
    count = len(references)
    return 100.0 * f1_total / count, 100.0 * exact_total / count, per_example


# --------------------------------------------------------------------------------------------------
# Data: answers shaped like extractive QA and chart/VQA answers, predictions that are near misses.
# --------------------------------------------------------------------------------------------------

WORDS = (
    "the", "a", "an", "of", "in", "on", "at", "to", "for", "with", "by", "from", "river", "city",
    "north", "south", "1998", "2024", "3.5", "35", "42", "%", "percent", "year", "total", "sales",
    "revenue", "blue", "red", "green", "left", "right", "top", "bottom", "chart", "bar", "line",
    "value", "peak", "lowest", "highest", "growth", "decline", "Paris", "London", "Tokyo", "Zürich",
    "café", "naïve", "résumé", "well-known", "well", "known", "don't", "it's", "U.S.", "e.g.",
    "“quoted”", "‘single’", "1–2", "—", "½", "yes", "no", "two", "three", "approximately", "about",
    "million",
)  # fmt: skip


def _sentence(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high)))


def _perturb(rng: random.Random, answer: str) -> str:
    words = answer.split()
    roll = rng.random()
    if roll < 0.25:
        return answer
    if roll < 0.35:
        return answer.upper() + rng.choice(["", ".", "!", " ."])
    if roll < 0.55 and words:
        words.pop(rng.randrange(len(words)))
    elif roll < 0.75:
        words.insert(rng.randint(0, len(words)), rng.choice(WORDS))
    elif roll < 0.85:
        rng.shuffle(words)
    elif roll < 0.95:
        return _sentence(rng, 1, 12)
    else:
        return rng.choice(["", " ", "the", "a."])
    return " ".join(words)


def generate(pairs: int, seed: int) -> tuple[dict[str, str], dict[str, list[str]]]:
    rng = random.Random(seed)
    predictions: dict[str, str] = {}
    references: dict[str, list[str]] = {}
    for index in range(pairs):
        example_id = f"q{index:06d}"
        answers = [_sentence(rng, 1, 6) for _ in range(rng.choice([1, 1, 1, 2, 3]))]
        references[example_id] = answers
        if rng.random() < 0.01:
            continue  # a missing prediction scores 0 under v1.1
        predictions[example_id] = _perturb(rng, rng.choice(answers))
    return predictions, references


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pairs", type=int, default=50_000 if common.QUICK else 200_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=6)
    arguments = parser.parse_args()

    predictions, references = generate(arguments.pairs, arguments.seed)
    official_times: list[float] = []
    tunebot_times: list[float] = []
    for _ in range(arguments.repeats):
        started = time.perf_counter()
        official_f1_mean, official_exact_mean, official_examples = official_evaluate(predictions, references)
        official_times.append(time.perf_counter() - started)

        started = time.perf_counter()
        report = score_predictions(Metric.SQUAD, predictions, references)
        tunebot_times.append(time.perf_counter() - started)

    tunebot_examples = [(example.f1, example.exact_match) for example in report.examples]
    pairs = zip(tunebot_examples, official_examples, strict=True)
    mismatches = sum(1 for ours, theirs in pairs if ours != theirs)
    assert mismatches == 0, f"{mismatches} examples score differently"
    assert (report.f1, report.exact_match) == (official_f1_mean, official_exact_mean), (
        f"totals differ: tunebot {report.f1!r}/{report.exact_match!r}, "
        f"official {official_f1_mean!r}/{official_exact_mean!r}"
    )

    best_official, best_tunebot = min(official_times), min(tunebot_times)
    result = {
        "benchmark": "SQuAD v1.1 F1 + exact match, tunebot vs transcription of the official logic",
        "pairs": arguments.pairs,
        "reference_answers": sum(len(answers) for answers in references.values()),
        "missing_predictions": report.missing,
        # tunebot caches normalised text within a run; this says how much repetition there was to use.
        "distinct_texts": len(
            set(predictions.values()) | {a for answers in references.values() for a in answers}
        ),
        "repeats": arguments.repeats,
        "official_seconds": round(best_official, 4),
        "tunebot_seconds": round(best_tunebot, 4),
        "ratio": round(best_tunebot / best_official, 4),
        "target_ratio": 1.0,
        "identical_scores": True,
        "f1": report.f1,
        "exact_match": report.exact_match,
        "all_official_seconds": [round(seconds, 4) for seconds in official_times],
        "all_tunebot_seconds": [round(seconds, 4) for seconds in tunebot_times],
        "machine": common.machine(),
    }
    print(f"wrote {common.write_results('score', result)}", file=sys.stderr)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""The base model's prompt-optimised baseline: tell it the answer format the fine-tuned model learned.

A base model that answers "The highest bar shows a value of 42." against a reference of "42" loses F1
for its manners, not its understanding. So the baseline gets the dataset's own system prompt plus one
instruction derived from the training answers: their kind (number, yes/no, JSON object, free text) and
their typical length in words. Pure: plain strings in, plain strings out.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

# A kind must cover this share of the answers to be asked for; below it the answers are mixed.
DOMINANT_SHARE = 0.8
# Keys a JSON answer format names: those present in at least this share of the JSON answers.
COMMON_KEY_SHARE = 0.5
MAX_KEYS_NAMED = 12
MIN_OUTPUT_TOKENS = 64
MAX_OUTPUT_TOKENS = 2048

_NUMBER = re.compile(r"^[-+]?[$€£]?\s?\d[\d,]*(\.\d+)?\s?%?$|^[-+]?\.\d+%?$")
_YES_NO = frozenset({"yes", "no"})


class AnswerKind(StrEnum):
    NUMBER = "number"
    YES_NO = "yes_no"
    JSON = "json"
    TEXT = "text"


@dataclass(frozen=True, slots=True)
class AnswerFormat:
    """What the training answers look like."""

    kind: AnswerKind
    median_words: int
    long_words: int  # the 90th percentile: "at most about"
    long_characters: int
    sample_count: int
    json_keys: tuple[str, ...] = ()


def is_number(answer: str) -> bool:
    """A bare number as people write them: 42, -3.5, 1,200, 45%, $3.20."""
    return bool(_NUMBER.match(answer.strip()))


def _json_object_keys(answer: str) -> list[str] | None:
    text = answer.strip()
    if not text.startswith(("{", "[")):
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if isinstance(value, dict):
        return [str(key) for key in value]
    return [] if isinstance(value, list) else None


def _percentile(sorted_values: Sequence[int], share: float) -> int:
    index = min(len(sorted_values) - 1, max(0, math.ceil(share * len(sorted_values)) - 1))
    return sorted_values[index]


def describe_answers(answers: Iterable[str]) -> AnswerFormat:
    """Classify the training answers; empty input gives a neutral short-text format."""
    kinds: Counter[AnswerKind] = Counter()
    words: list[int] = []
    characters: list[int] = []
    key_counts: Counter[str] = Counter()
    first_seen: dict[str, int] = {}
    json_answers = 0
    for answer in answers:
        text = answer.strip()
        words.append(len(text.split()))
        characters.append(len(text))
        keys = _json_object_keys(text)
        if keys is not None:
            kinds[AnswerKind.JSON] += 1
            json_answers += 1
            for key in dict.fromkeys(keys):
                key_counts[key] += 1
                first_seen.setdefault(key, len(first_seen))
        elif is_number(text):
            kinds[AnswerKind.NUMBER] += 1
        elif text.lower().rstrip(".!") in _YES_NO:
            kinds[AnswerKind.YES_NO] += 1
        else:
            kinds[AnswerKind.TEXT] += 1
    if not words:
        return AnswerFormat(
            AnswerKind.TEXT, median_words=5, long_words=20, long_characters=120, sample_count=0
        )
    kind, count = kinds.most_common(1)[0]
    if count < DOMINANT_SHARE * len(words):
        kind = AnswerKind.TEXT
    common_keys: tuple[str, ...] = ()
    if kind is AnswerKind.JSON:
        common = [key for key, seen in key_counts.items() if seen >= COMMON_KEY_SHARE * json_answers]
        common_keys = tuple(sorted(common, key=first_seen.__getitem__)[:MAX_KEYS_NAMED])
    words.sort()
    characters.sort()
    return AnswerFormat(
        kind=kind,
        median_words=_percentile(words, 0.5),
        long_words=_percentile(words, 0.9),
        long_characters=_percentile(characters, 0.9),
        sample_count=len(words),
        json_keys=common_keys,
    )


def _words(count: int) -> str:
    return "1 word" if count == 1 else f"{count} words"


def format_instruction(answer_format: AnswerFormat) -> str:
    """One instruction that asks for answers shaped like the training answers."""
    if answer_format.kind is AnswerKind.JSON:
        keys = (
            " with the keys " + ", ".join(json.dumps(key) for key in answer_format.json_keys)
            if answer_format.json_keys
            else ""
        )
        return f"Answer with a single JSON object{keys} and nothing else: no prose, no Markdown code fence."
    if answer_format.kind is AnswerKind.NUMBER:
        return "Answer with the number only: no words, no units unless asked, no explanation."
    if answer_format.kind is AnswerKind.YES_NO:
        return "Answer with yes or no only, no explanation."
    if answer_format.long_words <= 5:
        return (
            f"Answer in as few words as possible (typically {_words(max(answer_format.median_words, 1))}, "
            f"at most {_words(max(answer_format.long_words, 1))}): no full sentence, no explanation."
        )
    return (
        f"Answer in about {_words(max(answer_format.median_words, 1))} "
        f"(at most about {_words(answer_format.long_words)}), without preamble or restating the question."
    )


def baseline_system_prompt(dataset_system: str | None, instruction: str) -> str:
    """The dataset's system prompt (as the fine-tuned model saw it) followed by the format instruction."""
    system = (dataset_system or "").strip()
    return f"{system}\n\n{instruction}" if system else instruction


def max_output_tokens(answer_format: AnswerFormat) -> int:
    """Enough room for the long answers (about 4 characters a token, doubled), within sane bounds."""
    needed = answer_format.long_characters // 2 + 32
    return max(MIN_OUTPUT_TOKENS, min(MAX_OUTPUT_TOKENS, needed))

"""Checks on canonical examples: Bedrock's rules (errors) and the seed's quality advice (warnings).

Pure functions of their arguments, no I/O. Image sizes are passed in after normalisation, because
Bedrock counts tokens on the image it is given, not on the file the user had.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from services.datasets.model import Example, Finding, SourceRef, error, warning
from services.tuning.recommend import ModelSize

AnswerKind = Literal["json", "bad_json", "plain"]

TOKEN_LIMITS: dict[ModelSize, int] = {"11b": 16_000, "90b": 10_000}
CHARS_PER_TOKEN = 6
TILE = 560
TOKENS_PER_TILE = 1601
MIN_RECORDS = 100
MAX_RECORDS = 10_000
MAX_VALIDATION_RECORDS = 1_000
IMAGE_PLACEHOLDER = "<image>"

_WHITESPACE = re.compile(r"\s+")
_PLACEHOLDER = re.compile(r"\s*<image>\s*")
_JSON_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class RecordCheck:
    findings: tuple[Finding, ...]
    tokens: int
    answer_kinds: tuple[AnswerKind, ...]

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "warning")


def strip_placeholder(text: str) -> str:
    """The text Bedrock gets: LLaVA's ``<image>`` placeholder removed (its position means nothing)."""
    if IMAGE_PLACEHOLDER not in text:
        return text
    return _PLACEHOLDER.sub(" ", text).strip()


def fits_models(tokens: int) -> tuple[ModelSize, ...]:
    """The model sizes whose per-record token limit a record of ``tokens`` tokens fits."""
    return tuple(size for size, limit in TOKEN_LIMITS.items() if tokens <= limit)


def image_tokens(width: int, height: int) -> int:
    """Tokens Llama 3.2 spends on one image: 1,601 per 560-pixel tile, at most 2x2 tiles."""
    return min(2, max(height // TILE, 1)) * min(2, max(width // TILE, 1)) * TOKENS_PER_TILE


def text_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def estimate_tokens(example: Example, image_sizes: Sequence[tuple[int, int]], system: str | None) -> int:
    """Input plus output tokens of one record, the way Bedrock's per-record limit counts them."""
    text = sum(text_tokens(turn.text) for turn in example.turns) + text_tokens(system or "")
    return text + sum(image_tokens(width, height) for width, height in image_sizes)


def check_record(
    example: Example,
    image_sizes: Sequence[tuple[int, int]],
    *,
    model: ModelSize | None,
    system: str | None,
) -> RecordCheck:
    """Every per-record rule. ``image_sizes`` are the normalised sizes of ``example.images``.

    Without ``model`` a record must fit one size (11B's limit); one over 90B's limit is a warning
    naming it, and the dataset then fits 11B only. With ``model`` the record must fit that size.
    """
    where = example.source
    findings: list[Finding] = []
    findings.extend(_role_order(example))
    for position, turn in enumerate(example.turns, start=1):
        if not turn.text.strip() and not turn.images:
            findings.append(
                error(
                    "empty_turn",
                    f"turn {position} ({turn.role}) is empty: write its text or remove the turn",
                    where,
                )
            )
        elif not strip_placeholder(turn.text).strip() and not turn.images:
            findings.append(
                error(
                    "empty_content",
                    f"turn {position} ({turn.role}) holds only the {IMAGE_PLACEHOLDER} placeholder and no "
                    "image, so nothing is left of it once the placeholder is removed (Bedrock refuses an "
                    "empty content list): write its text or attach the image",
                    where,
                )
            )
        if turn.role == "assistant" and turn.images:
            findings.append(
                error(
                    "assistant_image",
                    f"turn {position} (assistant) has an image; Bedrock accepts images only in user "
                    "turns: move the image into the question",
                    where,
                )
            )
        if IMAGE_PLACEHOLDER in turn.text:
            findings.append(
                warning(
                    "image_placeholder",
                    f"turn {position} still contains the {IMAGE_PLACEHOLDER} placeholder; it was removed "
                    "from the output: remove it from the source too",
                    where,
                )
            )

    tokens = estimate_tokens(example, image_sizes, system)
    findings.extend(_token_findings(tokens, model, where))
    if len(image_sizes) > 1:
        findings.append(
            warning(
                "multiple_images",
                f"{len(image_sizes)} images in one record; Llama 3.2 trains best on one image per "
                "example: split it into one record per image if you can",
                where,
            )
        )

    kinds = tuple(answer_kind(turn.text) for turn in example.turns if turn.role == "assistant")
    if "bad_json" in kinds:
        findings.append(
            warning(
                "json_answer",
                "an answer looks like JSON but does not parse: fix its syntax so the model learns valid JSON",
                where,
            )
        )
    return RecordCheck(findings=tuple(findings), tokens=tokens, answer_kinds=kinds)


def _token_findings(tokens: int, model: ModelSize | None, where: SourceRef) -> list[Finding]:
    largest = max(TOKEN_LIMITS, key=TOKEN_LIMITS.__getitem__)
    limited_by = model or largest
    limit = TOKEN_LIMITS[limited_by]
    if tokens > limit:
        return [
            error(
                "too_many_tokens",
                f"about {tokens:,} tokens, over Llama 3.2 {limited_by.upper()}'s limit of {limit:,} per "
                "record: shorten the text or use fewer images (each image costs up to 6,404 tokens)",
                where,
            )
        ]
    over = [size for size, size_limit in TOKEN_LIMITS.items() if tokens > size_limit]
    if over:
        return [
            warning(
                f"over_{size}_limit",
                f"about {tokens:,} tokens, over Llama 3.2 {size.upper()}'s limit of {TOKEN_LIMITS[size]:,} "
                f"per record, so the dataset cannot train {size.upper()}: shorten this record to keep "
                f"{size.upper()} possible (--model {size} rejects it)",
                where,
            )
            for size in over
        ]
    return []


def _role_order(example: Example) -> list[Finding]:
    roles = [turn.role for turn in example.turns]
    problem = None
    if len(roles) < 2:
        problem = "it needs at least one user turn followed by one assistant turn"
    elif roles[0] != "user":
        problem = "the first turn must be the user's"
    elif roles[-1] != "assistant":
        problem = "the last turn must be the assistant's answer"
    elif any(a == b for a, b in itertools.pairwise(roles)):
        problem = "user and assistant turns must alternate"
    if problem is None:
        return []
    order = " -> ".join(roles) or "no turns"
    return [error("role_order", f"turns are {order}; {problem}: fix the conversation", example.source)]


def answer_kind(text: str) -> AnswerKind:
    """Whether an answer is JSON, meant to be JSON but broken, or plain text."""
    body = text.strip()
    fenced = _JSON_FENCE.match(body)
    if fenced:
        body = fenced.group(1)
    if not body.startswith(("{", "[")):
        return "plain"
    try:
        json.loads(body)
    except ValueError:
        return "bad_json"
    return "json"


@dataclass(slots=True)
class JsonAnswerTally:
    """How many answers are JSON; decides whether the dataset is a structured-output one."""

    parsed: int = 0
    broken: int = 0
    plain: int = 0

    def add(self, kinds: Sequence[AnswerKind]) -> None:
        for kind in kinds:
            if kind == "json":
                self.parsed += 1
            elif kind == "bad_json":
                self.broken += 1
            else:
                self.plain += 1

    @property
    def json_like(self) -> int:
        return self.parsed + self.broken

    @property
    def mostly_json(self) -> bool:
        return self.json_like * 2 > self.json_like + self.plain

    def finding(self) -> Finding | None:
        """A dataset-level warning when answers are mostly JSON and not all of them parse."""
        if not self.mostly_json or (self.broken == 0 and self.plain == 0):
            return None
        total = self.json_like + self.plain
        return warning(
            "json_answer",
            f"most answers are JSON but only {self.parsed:,} of {total:,} parse ({self.broken:,} broken, "
            f"{self.plain:,} plain text): make every answer valid JSON with the same keys",
        )


def normalise_question(text: str) -> str:
    """A question's identity for grouping and leakage: case, spacing and placeholders ignored."""
    return _WHITESPACE.sub(" ", text.replace(IMAGE_PLACEHOLDER, " ")).strip().casefold()


def content_key(example: Example, image_hashes: Sequence[str]) -> bytes:
    """A short digest of what the model would see and learn: images plus every turn's text."""
    digest = hashlib.blake2b(digest_size=16)
    for image_hash in image_hashes:
        digest.update(image_hash.encode() + b"\0")
    for turn in example.turns:
        digest.update(turn.role.encode() + b"\1" + normalise_question(turn.text).encode() + b"\2")
    return digest.digest()


def leakage_key(image_hashes: Sequence[str], question: str) -> bytes:
    """Identity of "these images with this question", compared across train and test.

    The split keeps records with the same first image together; records showing the same images in
    another order can still land on both sides, and this key (images in any order) catches them.
    """
    digest = hashlib.blake2b(digest_size=16)
    digest.update("\0".join(sorted(image_hashes)).encode() + b"\1" + normalise_question(question).encode())
    return digest.digest()


def find_duplicates(keys: Sequence[bytes]) -> dict[int, int]:
    """Index of each record whose ``content_key`` an earlier record already has -> that earlier index."""
    first_seen: dict[bytes, int] = {}
    duplicates: dict[int, int] = {}
    for index, key in enumerate(keys):
        first = first_seen.setdefault(key, index)
        if first != index:
            duplicates[index] = first
    return duplicates


def duplicate_warning(where: SourceRef, first: SourceRef | str) -> Finding:
    return warning(
        "duplicate",
        f"same images and text as {first}: remove one copy unless you mean to weight it",
        where,
    )


def leakage_warning(where: SourceRef, train_side: str = "train") -> Finding:
    return warning(
        "leakage",
        f"the same image and question also appear in {train_side}, so the test score would be inflated: "
        "remove the copy or let tunebot split the data",
        where,
    )


def leaked_test_indices(sides: Sequence[str], keys: Sequence[bytes]) -> list[int]:
    """Indices of test records whose image-and-question key also appears in train or validation."""
    seen_in_training = {key for side, key in zip(sides, keys, strict=True) if side != "test"}
    return [
        index
        for index, (side, key) in enumerate(zip(sides, keys, strict=True))
        if side == "test" and key in seen_in_training
    ]


def record_count_findings(train: int, validation: int) -> list[Finding]:
    """Bedrock's limits on how many records a job may have (train plus validation)."""
    findings: list[Finding] = []
    total = train + validation
    if total < MIN_RECORDS:
        findings.append(
            warning(
                "too_few_records",
                f"{total} records for training and validation, under Bedrock's minimum of {MIN_RECORDS}: "
                "add examples (about 100 good ones already help) or fix the rejected records",
            )
        )
    if total > MAX_RECORDS:
        findings.append(
            warning(
                "too_many_records",
                f"{total:,} records for training and validation, over Bedrock's default quota of "
                f"{MAX_RECORDS:,}: raise the quota in Service Quotas or sample the dataset down",
            )
        )
    if validation > MAX_VALIDATION_RECORDS:
        findings.append(
            warning(
                "too_many_validation_records",
                f"{validation:,} validation records, over Bedrock's {MAX_VALIDATION_RECORDS:,}: "
                "lower --validation-fraction",
            )
        )
    return findings


# Under this many test examples an F1 is too noisy to compare models on.
MIN_MEANINGFUL_TEST = 30


def f1_interval_half_width(examples: int) -> float:
    """Half-width, in F1 points, of a 95 % confidence interval for a mean F1 over ``examples`` examples
    in the worst case (per-example scores of 0 or 100, standard deviation 50): 1.96 * 50 / sqrt(n)."""
    return 1.96 * 50 / math.sqrt(examples)


def small_test_finding(test_examples: int) -> Finding | None:
    """A warning when the held-out test set is too small for a meaningful F1."""
    if test_examples >= MIN_MEANINGFUL_TEST:
        return None
    if test_examples == 0:
        return warning(
            "small_test_set",
            "no test examples are held out, so the fine-tuned model cannot be scored: raise "
            "--test-fraction (default 0.10) or add a test split",
        )
    return warning(
        "small_test_set",
        f"only {test_examples} test examples: an F1 measured on them is uncertain by up to about "
        f"±{f1_interval_half_width(test_examples):.0f} points (95 % interval), too wide to tell two models "
        f"apart; hold out at least {MIN_MEANINGFUL_TEST} (raise --test-fraction or add examples)",
    )
